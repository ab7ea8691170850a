// The screen before joining: the name, a preview of the chosen camera, a level meter for the
// chosen microphone, the speaker output, and whether to join with camera and mic on.
const $ = (id) => document.getElementById(id);
const canChooseSpeaker = "setSinkId" in HTMLMediaElement.prototype;

// the claims of a room token, for display and early checks only: the server verifies it
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

function fill(select, devices, chosen) {
  const previous = chosen || select.value;
  select.replaceChildren();
  for (const [i, device] of devices.entries()) {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${device.kind} ${i + 1}`; // text, never markup
    select.append(option);
  }
  if (devices.some((d) => d.deviceId === previous)) select.value = previous;
  select.disabled = devices.length === 0;
}

export class PreJoin {
  constructor({ token, room }) {
    this.token = token;
    this.room = room;
    this.stream = null;
    this.meter = null;
    this.choices = JSON.parse(localStorage.getItem("meetbox.devices") || "{}");
    this.form = $("prejoin-form");
    this.message = $("pj-message");
  }

  say(text) {
    this.message.textContent = text;
  }

  // show the screen; resolves with the token and the choices when the user presses join
  open() {
    const claims = this.token ? tokenClaims(this.token) : null;
    const name = $("pj-name");
    if (claims) {
      name.value = claims.name || claims.sub || "";
      name.readOnly = true; // the name is part of the token the link carries
      const forRoom = claims.video?.room;
      if (claims.exp && claims.exp * 1000 < Date.now()) {
        this.say("this link's token has expired: ask the host for a new link");
      } else if (forRoom && forRoom !== this.room) {
        this.say(`this link's token is for room '${forRoom}', not '${this.room}'`);
      }
    } else {
      name.value = localStorage.getItem("meetbox.name") || "";
    }
    $("pj-speaker-row").hidden = !canChooseSpeaker;
    for (const id of ["pj-camera", "pj-mic"]) $(id).addEventListener("change", () => this.preview());
    for (const id of ["pj-cam-on", "pj-mic-on"]) $(id).addEventListener("change", () => this.preview());
    this.preview();
    return new Promise((resolve) => {
      this.form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const token = this.token || (await this.fetchToken(name.value.trim()));
        if (!token) return;
        this.close();
        resolve({ token, ...this.chosen() });
      });
    });
  }

  chosen() {
    return {
      cameraId: $("pj-camera").value || null,
      micId: $("pj-mic").value || null,
      speakerId: canChooseSpeaker ? $("pj-speaker").value || null : null,
      camera: $("pj-cam-on").checked,
      mic: $("pj-mic-on").checked,
    };
  }

  async fetchToken(name) {
    if (!name) {
      this.say("enter your name");
      return null;
    }
    const headers = { "Content-Type": "application/json" };
    const userToken = sessionStorage.getItem("meetbox.userToken");
    if (userToken) headers.Authorization = `Bearer ${userToken}`;
    const response = await fetch(`/room/${encodeURIComponent(this.room)}/token`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name }),
    });
    const reply = await response.json().catch(() => ({ msg: response.statusText }));
    if (!response.ok || reply.success === false) {
      this.say(`cannot join: ${reply.msg || `HTTP ${response.status}`}`);
      return null;
    }
    localStorage.setItem("meetbox.name", name);
    return reply.data.token;
  }

  async preview() {
    const turn = (this.turn = (this.turn || 0) + 1);
    this.stopPreview();
    const { cameraId, micId, camera, mic } = this.chosen();
    const wanted = {
      video: camera ? { deviceId: cameraId ? { exact: cameraId } : undefined, width: 640, height: 480 } : false,
      audio: mic ? { deviceId: micId ? { exact: micId } : undefined } : false,
    };
    if (wanted.video || wanted.audio) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(wanted);
        if (turn !== this.turn) {
          for (const track of stream.getTracks()) track.stop(); // a later choice won
          return;
        }
        this.stream = stream;
      } catch (err) {
        this.say(`camera or microphone refused (${err.name}): allow them in the browser, or join without them`);
      }
    }
    $("preview").srcObject = this.stream;
    // device labels are only readable once a permission was given
    const devices = await navigator.mediaDevices.enumerateDevices();
    const used = (kind) => this.stream?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    fill($("pj-camera"), devices.filter((d) => d.kind === "videoinput"), used("video") || this.choices.cameraId);
    fill($("pj-mic"), devices.filter((d) => d.kind === "audioinput"), used("audio") || this.choices.micId);
    fill($("pj-speaker"), devices.filter((d) => d.kind === "audiooutput"), this.choices.speakerId);
    this.listen();
  }

  // a level meter for the chosen microphone, so people see it hears them
  listen() {
    const track = this.stream?.getAudioTracks()[0];
    if (!track) return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const meter = $("pj-level");
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s));
      meter.value = peak;
      this.meter.frame = requestAnimationFrame(tick);
    };
    this.meter = { context, frame: requestAnimationFrame(tick) };
  }

  stopPreview() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    if (this.meter) {
      cancelAnimationFrame(this.meter.frame);
      this.meter.context.close();
      this.meter = null;
    }
  }

  close() {
    const { cameraId, micId, speakerId } = this.chosen();
    localStorage.setItem("meetbox.devices", JSON.stringify({ cameraId, micId, speakerId }));
    this.turn = (this.turn || 0) + 1; // a preview still starting is dropped
    this.stopPreview();
    $("prejoin").hidden = true;
  }
}

export { canChooseSpeaker };
