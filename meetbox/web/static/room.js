// meetbox's meeting page: join with the token in the link, publish camera and microphone,
// show everyone else, chat, whiteboard, host controls. The protocol is in docs/PROTOCOL.md.
import { io } from "/vendor/socket.io.js";
import { Chat } from "/static/chat.js";
import { Captions } from "/static/captions.js";
import { Whiteboard } from "/static/whiteboard.js";
import { PreJoin } from "/static/prejoin.js";
import { ViewReporter, applyLayers, favourSharpness, prepareTrack, transceiverInit, watchQuality } from "/static/video.js";

const $ = (id) => document.getElementById(id);
const room = decodeURIComponent(location.pathname.split("/").pop());
let token = new URLSearchParams(location.search).get("token");
const grid = $("grid");
$("room-name").textContent = room;

const participants = new Map(); // sid -> info
const tiles = new Map(); // participant sid -> tile
const trackOwner = new Map(); // track sid -> participant sid
const mine = new Map(); // kind -> {sid, track}: camera and microphone
const screens = new Map(); // local screen track -> {sid, transceiver}
const trackInfo = new Map(); // track sid -> {source, kind, ...}
const senders = new Map(); // own track sid -> its RTCRtpSender (the server's "layers" reach it)
let choices = { camera: true, mic: true, cameraId: null, micId: null, speakerId: null };
let negotiating = Promise.resolve();
let midToTrack = {};
let pubPc = null;
let subPc = null;
let iceServers = []; // the server's (room_connected): none on a single box
let self = null;
let localStream = null;
let generation = 0; // bumped on disconnect: work begun for the old connection is dropped

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

const isHost = () => Boolean(self && self.is_host);

function hostControls(tile, sid) {
  const box = document.createElement("div");
  box.className = "host-controls";
  const mute = document.createElement("button");
  mute.type = "button";
  mute.className = "mute";
  mute.textContent = "mute";
  mute.addEventListener("click", () => request("mute-participant", { id: participants.get(sid).identity }));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "remove";
  remove.textContent = "remove";
  remove.addEventListener("click", () => request("remove-participant", { id: participants.get(sid).identity }));
  box.append(mute, remove);
  tile.el.append(box);
}

function tileFor(sid, info, screenOf = null) {
  let tile = tiles.get(sid);
  if (!tile) {
    const el = document.createElement("div");
    el.className = "tile";
    el.dataset.participant = sid;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true;
    const name = document.createElement("span");
    name.className = "name";
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.hidden = true;
    badge.textContent = "muted";
    el.append(video, name, badge);
    if (screenOf) grid.prepend(el); // shared screens lead the grid
    else grid.append(el);
    tile = { el, video, name, badge, stream: new MediaStream(), audio: null };
    // a double click enlarges a tile across the grid (speaker view), and back
    el.addEventListener("dblclick", () => el.classList.toggle("focus"));
    video.srcObject = tile.stream;
    tiles.set(sid, tile);
    if (screenOf) {
      // a shared screen: its own wide tile, named after its owner, no host controls
      el.classList.add("screen");
      el.dataset.owner = screenOf;
      const owner = participants.get(screenOf);
      name.textContent = screenOf === self.sid ? "your screen" : `${owner ? owner.name : "someone"}'s screen`;
      return tile;
    }
    if (isHost() && sid !== self.sid) hostControls(tile, sid);
  }
  if (info && !screenOf) {
    tile.name.textContent = sid === self?.sid ? `${info.name} (you)` : info.name; // text, never markup
    tile.el.dataset.identity = info.identity;
  }
  return tile;
}

function removeTile(sid) {
  if (tiles.has(sid)) views.forget(tiles.get(sid).video);
  tiles.get(sid)?.el.remove();
  tiles.delete(sid);
  for (const [key, tile] of tiles) if (tile.el.dataset.owner === sid) removeTile(key);
}

function showMuted(trackSid, muted) {
  const owner = trackOwner.get(trackSid);
  const tile = owner && tiles.get(owner);
  if (tile) tile.badge.hidden = !muted;
}

function request(event, data = {}) {
  return new Promise((resolve) => {
    socket.emit(event, data, (ack) => {
      if (!ack.ok) setStatus(`${event}: ${ack.error.message}`, true);
      resolve(ack);
    });
  });
}

function iceGatheringDone(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function constraints(kind) {
  if (kind === "audio") return choices.micId ? { deviceId: { exact: choices.micId } } : true;
  // 720p where the camera allows: three simulcast layers (720p, 360p, 180p) go out
  return { deviceId: choices.cameraId ? { exact: choices.cameraId } : undefined, width: { ideal: 1280 }, height: { ideal: 720 } };
}

// one publish negotiation at a time: a screen share and a granted mic may overlap
function serially(work) {
  const next = negotiating.then(work, work);
  negotiating = next.catch(() => {});
  return next;
}

// offer the publisher connection's current state; `sources` names the new senders' tracks
async function negotiate(sources) {
  const started = generation;
  const pc = pubPc;
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringDone(pc);
  if (started !== generation) return null;
  const tracks = {};
  for (const [transceiver, source] of sources) tracks[transceiver.mid] = { source };
  const ack = await request("publish_offer", { sdp: pc.localDescription.sdp, tracks });
  if (!ack.ok || started !== generation) return null;
  await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
  for (const published of ack.tracks) {
    trackOwner.set(published.sid, self.sid);
    trackInfo.set(published.sid, published);
  }
  return ack;
}

// send tracks: resolves with [{track, transceiver, sid}] for those the server accepted
function sendTracks(entries) {
  return serially(async () => {
    pubPc = pubPc || new RTCPeerConnection({ iceServers });
    const pc = pubPc;
    const sources = new Map();
    const added = entries.map(({ track, source }) => {
      prepareTrack(track, source);
      const transceiver = pc.addTransceiver(track, transceiverInit(source));
      sources.set(transceiver, source);
      return { track, transceiver, source };
    });
    const ack = await negotiate(sources);
    if (!ack) return [];
    return added.flatMap((entry) => {
      const published = ack.tracks.find((t) => t.mid === entry.transceiver.mid);
      if (!published) return [];
      senders.set(published.sid, entry.transceiver.sender);
      if (entry.source === "screen_share") favourSharpness(entry.transceiver.sender);
      return [{ ...entry, sid: published.sid }];
    });
  });
}

async function capture(kinds) {
  const wanted = { audio: kinds.includes("audio") && constraints("audio"), video: kinds.includes("video") && constraints("video") };
  try {
    return await navigator.mediaDevices.getUserMedia(wanted);
  } catch (err) {
    if (kinds.length > 1) {
      // one refused or missing device should not cost the other
      const parts = await Promise.all(kinds.map((kind) => capture([kind])));
      return new MediaStream(parts.flatMap((p) => (p ? p.getTracks() : [])));
    }
    const what = kinds[0] === "audio" ? "microphone" : "camera";
    setStatus(`${what} refused or missing (${err.name}): allow it in the browser and try again`, true);
    return null;
  }
}

async function publish(kinds) {
  const started = generation;
  const stream = await capture(kinds);
  if (!stream || stream.getTracks().length === 0) return;
  if (started !== generation) {
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  localStream = localStream || new MediaStream();
  for (const track of stream.getTracks()) localStream.addTrack(track);
  tileFor(self.sid, self).video.srcObject = localStream;
  const entries = stream.getTracks().map((track) => ({ track, source: track.kind === "audio" ? "microphone" : "camera" }));
  for (const { track, sid } of await sendTracks(entries)) mine.set(track.kind, { sid, track });
}

function showPressed(kind, off) {
  const button = $(kind === "audio" ? "mic" : "cam");
  button.setAttribute("aria-pressed", String(off));
  button.textContent = kind === "audio" ? (off ? "unmute mic" : "mute mic") : (off ? "camera on" : "camera off");
}

async function setMuted(kind, muted) {
  const entry = mine.get(kind);
  entry.track.enabled = !muted;
  const ack = await request("mute_track", { track_sid: entry.sid, muted });
  if (!ack.ok) return;
  showPressed(kind, muted);
  choices[kind === "audio" ? "mic" : "camera"] = !muted;
  if (kind === "video") request("video-off", { off: muted });
}

async function shareScreen() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  } catch (err) {
    setStatus(`screen share not started (${err.name})`, true);
    return;
  }
  const track = stream.getVideoTracks()[0];
  const [sent] = await sendTracks([{ track, source: "screen_share" }]);
  if (!sent) {
    track.stop();
    return;
  }
  screens.set(track, sent);
  const tile = tileFor(`screen:${sent.sid}`, null, self.sid);
  tile.stream.addTrack(track);
  track.addEventListener("ended", () => stopScreen(track)); // the browser's own "stop sharing"
  showSharing();
}

async function stopScreen(track) {
  const sent = screens.get(track);
  if (!sent) return;
  screens.delete(track);
  track.stop();
  removeTile(`screen:${sent.sid}`);
  showSharing();
  await serially(async () => {
    // the m-section goes inactive: the server unpublishes the track and tells the room
    pubPc.removeTrack(sent.transceiver.sender);
    await negotiate(new Map());
  });
}

function showSharing() {
  const sharing = screens.size > 0;
  $("share").setAttribute("aria-pressed", String(sharing));
  $("share").textContent = sharing ? "stop sharing" : "share screen";
}

async function toggle(kind) {
  if (!mine.has(kind)) {
    // joined with it off (or it was refused): turning it on publishes it now
    if (!self?.permission.can_publish) return;
    choices[kind === "audio" ? "mic" : "camera"] = true;
    await publish([kind]);
    if (mine.has(kind)) showPressed(kind, false);
    return;
  }
  await setMuted(kind, mine.get(kind).track.enabled);
}

// noise suppression as the seed describes: constraints applied in place, else a new track
async function setNoiseSuppression(enabled) {
  const entry = mine.get("audio");
  if (!entry) return;
  const constraints = {
    echoCancellation: enabled,
    noiseSuppression: enabled,
    autoGainControl: enabled,
    channelCount: enabled ? 2 : 1,
  };
  try {
    await entry.track.applyConstraints(constraints);
    // some browsers accept the constraints but keep their processing: check, then fall back
    const applied = entry.track.getSettings().noiseSuppression;
    if (applied !== undefined && applied !== enabled) throw new Error("not applied in place");
  } catch {
    const wasEnabled = entry.track.enabled;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    const replacement = stream.getAudioTracks()[0];
    replacement.enabled = wasEnabled;
    const sender = pubPc.getSenders().find((s) => s.track === entry.track);
    entry.track.stop();
    localStream.removeTrack(entry.track);
    localStream.addTrack(replacement);
    entry.track = replacement;
    if (sender) await sender.replaceTrack(replacement);
  }
  const button = $("noise");
  button.setAttribute("aria-pressed", String(enabled));
  button.textContent = enabled ? "noise suppression on" : "noise suppression off";
  setTimeout(() => request("device-switch", { kind: "audioinput" }), 500);
}

// a received video: its tile reports its size and visibility; the viewer may turn it off
// (quietly: a report can cross the track's end, which the server refuses)
const views = new ViewReporter((settings) => socket.emit("track_settings", settings, () => {}));
function watchVideo(tile, trackSid) {
  views.watch(trackSid, tile.video);
  if (tile.videoToggle) return;
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "video-toggle";
  toggle.textContent = "hide video";
  toggle.addEventListener("click", () => {
    const off = toggle.textContent === "hide video";
    toggle.textContent = off ? "show video" : "hide video";
    tile.el.classList.toggle("video-off", off);
    for (const [sid, item] of views.watched) if (item.el === tile.video) views.setOff(sid, off);
  });
  tile.el.append(toggle);
  tile.videoToggle = toggle;
}
document.addEventListener("visibilitychange", () => views.refresh());
// a badge per received video: how well it arrives here
watchQuality(() => subPc, (mid) => {
  const trackSid = midToTrack[mid];
  if (trackInfo.get(trackSid)?.source === "screen_share") return tiles.get(`screen:${trackSid}`);
  return tiles.get(trackOwner.get(trackSid));
});

async function onSubscriberOffer({ sdp, tracks }) {
  const started = generation;
  midToTrack = tracks;
  if (!subPc) {
    subPc = new RTCPeerConnection({ iceServers });
    subPc.addEventListener("track", (event) => {
      const participantSid = event.streams[0] ? event.streams[0].id : "unknown";
      const trackSid = midToTrack[event.transceiver.mid];
      const screen = trackInfo.get(trackSid)?.source === "screen_share";
      const tile = screen
        ? tileFor(`screen:${trackSid}`, null, participantSid)
        : tileFor(participantSid, participants.get(participantSid));
      tile.stream.addTrack(event.track);
      if (event.track.kind === "video") watchVideo(tile, trackSid);
      if (event.track.kind === "audio") {
        tile.audio = tile.audio || new Audio();
        tile.audio.srcObject = new MediaStream([event.track]);
        if (choices.speakerId && tile.audio.setSinkId) {
          tile.audio.setSinkId(choices.speakerId).catch((err) => setStatus(`speaker: ${err.message}`, true));
        }
        tile.audio.play().catch(() => setStatus("click anywhere to hear the others"));
      }
      event.track.addEventListener("ended", () => {
        tile.stream.removeTrack(event.track);
        views.unwatch(trackSid);
      });
    });
  }
  const pc = subPc;
  await pc.setRemoteDescription({ type: "offer", sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  await iceGatheringDone(pc);
  if (started !== generation) return;
  await request("subscriber_answer", { sdp: pc.localDescription.sdp });
}

// packets received from one participant's audio, for the page's own diagnostics and tests
async function audioPacketsFrom(identity) {
  if (!subPc) return 0;
  let total = 0;
  const stats = await subPc.getStats();
  stats.forEach((report) => {
    if (report.type !== "inbound-rtp" || report.kind !== "audio") return;
    const owner = participants.get(trackOwner.get(midToTrack[report.mid]));
    if (owner && owner.identity === identity) total += report.packetsReceived;
  });
  return total;
}

document.addEventListener("click", () => {
  for (const tile of tiles.values()) if (tile.audio) tile.audio.play().catch(() => {});
});

// the socket connects once the pre-join screen is done
const socket = io({ path: "/socket.io", autoConnect: false, transports: ["websocket"] });
const chat = new Chat($("chat-list"), $("chat-form"), socket, (m) => setStatus(m, true));
const captions = new Captions({
  room, button: $("cc"), live: $("captions"), panel: $("transcript-panel"),
  list: $("transcript-list"), summaryButton: $("summary-button"), summary: $("summary"),
  getToken: () => token, onError: (m) => setStatus(m, true),
});
const board = new Whiteboard($("whiteboard"), socket);
board.onError = (m) => setStatus(`whiteboard: ${m}`, true);

function showBoard(open) {
  $("board-panel").hidden = !open;
  $("wb-toggle").setAttribute("aria-pressed", String(open));
}

function showRecording(on) {
  $("recording").hidden = !on;
  $("record").textContent = on ? "stop recording" : "start recording";
}

function addRequest(message) {
  const item = document.createElement("li");
  item.dataset.identity = message.id;
  const who = document.createElement("span");
  who.textContent = message.username;
  const yes = document.createElement("button");
  yes.textContent = "accept";
  yes.addEventListener("click", () => { request("request-mic-accepted", { id: message.id }); item.remove(); });
  const no = document.createElement("button");
  no.textContent = "reject";
  no.addEventListener("click", () => { request("request-mic-rejected", { id: message.id }); item.remove(); });
  item.append(who, yes, no);
  $("requests").append(item);
  $("requests-panel").hidden = false;
}

socket.on("connect_error", (err) => {
  const expired = /expired/.test(err.message);
  const full = /full/.test(err.message);
  const hint = expired ? " (ask for a new link)" : full ? " (try again later)" : "";
  setStatus(`cannot join: ${err.message}${hint}`, true);
});
socket.on("disconnected", ({ reason }) => {
  const text = reason === "removed" ? "you were removed from the meeting by the host" : `disconnected: ${reason}`;
  setStatus(text, true);
});
socket.on("remove-participant", (m) => {
  if (self && m.target === self.identity) setStatus(`you were removed from the meeting by the host: ${m.reason}`, true);
});
function resetMedia() {
  // after a reconnect the server sees a new participant: start the media over
  for (const pc of [pubPc, subPc]) pc?.close();
  pubPc = null;
  subPc = null;
  for (const track of localStream?.getTracks() || []) track.stop();
  localStream = null;
  for (const track of screens.keys()) track.stop();
  screens.clear();
  showSharing();
  for (const sid of [...tiles.keys()]) removeTile(sid);
  participants.clear();
  trackOwner.clear();
  trackInfo.clear();
  mine.clear();
  senders.clear();
  negotiating = Promise.resolve();
}

let left = false;
socket.on("disconnect", (reason) => {
  // answers and offers begun for this connection must not be sent on the next one
  // (Socket.IO would buffer them and deliver them after the reconnect)
  generation += 1;
  if (left || reason === "io server disconnect") return; // left, removed or refused: no retry
  setStatus("connection lost: reconnecting…", true);
});
socket.io.on("reconnect_failed", () => setStatus("could not reconnect: reload the page", true));

socket.on("room_connected", async (data) => {
  if (self) resetMedia();
  self = data.participant;
  iceServers = data.ice_servers || [];
  setStatus(`in room as ${self.name}`);
  for (const el of document.querySelectorAll(".host-only")) el.hidden = !isHost();
  $("raise-hand").hidden = self.permission.can_publish;
  showBoard(Boolean(data.state?.whiteboardOpen));
  showRecording(Boolean(data.state?.recording));
  captions.setActive(Boolean(data.state?.captions));
  for (const p of data.participants) {
    participants.set(p.sid, p);
    for (const t of p.tracks || []) {
      trackOwner.set(t.sid, p.sid);
      trackInfo.set(t.sid, t);
    }
    tileFor(p.sid, p);
    for (const t of p.tracks || []) if (t.muted && t.kind === "audio") showMuted(t.sid, true);
  }
  participants.set(self.sid, self);
  const state = await request("whiteBoardStateRequest");
  if (state.ok) board.load(state.state);
  showPressed("audio", !choices.mic);
  showPressed("video", !choices.camera);
  if (!self.permission.can_publish) return;
  // join muted: the microphone is published but silent, so unmuting is instant
  await publish(choices.camera ? ["audio", "video"] : ["audio"]);
  if (!choices.mic && mine.has("audio")) await setMuted("audio", true);
});
socket.on("participant_joined", ({ participant }) => {
  participants.set(participant.sid, participant);
  tileFor(participant.sid, participant);
});
socket.on("participant_left", ({ sid }) => {
  participants.delete(sid);
  removeTile(sid);
});
socket.on("participant_updated", ({ participant }) => {
  participants.set(participant.sid, participant);
  if (self && participant.sid === self.sid) {
    self = participant;
    $("raise-hand").hidden = self.permission.can_publish;
    if (self.permission.can_publish && !mine.has("audio")) publish(["audio"]);
  }
});
socket.on("track_published", ({ participant_sid, track }) => {
  trackOwner.set(track.sid, participant_sid);
  trackInfo.set(track.sid, track);
});
socket.on("track_unpublished", ({ track_sid }) => {
  trackInfo.delete(track_sid);
  views.unwatch(track_sid);
  removeTile(`screen:${track_sid}`);
});
socket.on("layers", ({ track_sid, active }) => {
  const sender = senders.get(track_sid);
  if (sender) applyLayers(sender, active).catch((err) => setStatus(`layers: ${err.message}`, true));
});
socket.on("track_muted", ({ track_sid, muted }) => {
  showMuted(track_sid, muted);
  const entry = mine.get("audio");
  if (entry && entry.sid === track_sid && muted) {
    entry.track.enabled = false;
    choices.mic = false;
    showPressed("audio", true);
  }
});
socket.on("active_speakers", ({ speakers }) => {
  const speaking = new Set(speakers.map((s) => s.sid));
  for (const [sid, tile] of tiles) tile.el.classList.toggle("speaking", speaking.has(sid));
});
socket.on("subscriber_offer", (offer) => {
  onSubscriberOffer(offer).catch((err) => setStatus(`subscription failed: ${err}`, true));
});
socket.on("chat-box", (m) => chat.show(m));
socket.on("transcript", (m) => captions.show(m));
socket.on("captions", (m) => captions.state(m));
socket.on("recording", (m) => {
  showRecording(m.recording);
  if (!m.recording && m.reason && m.reason !== "stopped") {
    setStatus(`recording stopped: ${m.reason}`, true);
  } else if (!m.recording && m.files) {
    setStatus(`recording saved: ${m.files.map((f) => f.fileName).join(", ")}`);
  }
});
socket.on("recording-progress", (m) => {
  setStatus(`processing the recording: ${Math.round(m.progress * 100)}%`);
});
socket.on("recording-processed", (m) => {
  if (m.error) setStatus(`processing the recording failed: ${m.error}`, true);
  else setStatus(`recording processed: ${m.files.map((f) => f.fileName).join(", ")}`);
});
socket.on("whiteBoardToggle", (m) => showBoard(m.msg.open));
socket.on("sendDrawingData", (m) => board.remote(m));
socket.on("Un-do", () => board.undo(false));
socket.on("clear-whiteBoard", () => board.clear(false));
socket.on("white-board-stage", (m) => board.load({ stage: m.msg.stage, strokes: [] }));
socket.on("request-mic", addRequest);
socket.on("request-mic-rejected", () => setStatus("the host declined your request"));
socket.on("mute-mic-request", (m) => {
  if (!m.mute) setStatus("the host asks you to unmute your microphone");
});

$("mic").addEventListener("click", () => toggle("audio"));
$("cam").addEventListener("click", () => toggle("video"));
$("share").addEventListener("click", () => {
  if (screens.size) for (const track of [...screens.keys()]) stopScreen(track);
  else shareScreen();
});
$("noise").addEventListener("click", (e) => {
  setNoiseSuppression(e.currentTarget.getAttribute("aria-pressed") !== "true")
    .catch((err) => setStatus(`noise suppression: ${err.message}`, true));
});
$("leave").addEventListener("click", async () => {
  left = true;
  await request("leave");
  socket.disconnect();
  for (const track of localStream?.getTracks() || []) track.stop();
  setStatus("you left the meeting");
  captions.afterMeeting();
});
$("raise-hand").addEventListener("click", () => request("request-mic"));
$("mute-all").addEventListener("click", () => request("mute-all-participants"));
$("wb-toggle").addEventListener("click", () => request("whiteBoardToggle", { open: $("board-panel").hidden }));
$("record").addEventListener("click", () => request("recording", { recording: $("recording").hidden }));
$("wb-undo").addEventListener("click", () => board.undo());
$("wb-clear").addEventListener("click", () => board.clear());
$("brush-size").addEventListener("input", (e) => { board.brush.size = Number(e.target.value); });
$("brush-color").addEventListener("input", (e) => { board.brush.color = e.target.value; });
$("eraser").addEventListener("change", (e) => { board.brush.eraser = e.target.checked; });

window.meetbox = {
  socket, tiles, board, chat, captions, audioPacketsFrom, mine, screens, views, senders,
  get subPc() { return subPc; },
  get pubPc() { return pubPc; },
  get choices() { return choices; },
  get self() { return self; },
  get selfSid() { return self?.sid; },
};

new PreJoin({ token, room }).open().then((chosen) => {
  ({ token } = chosen);
  choices = chosen;
  $("meeting").hidden = false;
  setStatus("connecting…");
  // the video codecs this browser decodes: the server sends it no track in another
  const codecs = [...new Set((RTCRtpReceiver.getCapabilities?.("video")?.codecs || [])
    .map((c) => c.mimeType).filter((m) => !/rtx|red|ulpfec|flexfec/i.test(m)))];
  socket.auth = { token, room, codecs };
  socket.connect();
});
