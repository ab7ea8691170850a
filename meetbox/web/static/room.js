// meetbox's meeting page: join with the token in the link, publish camera and microphone,
// show everyone else, chat, whiteboard, host controls. The protocol is in docs/PROTOCOL.md.
import { io } from "/vendor/socket.io.js";
import { Chat } from "/static/chat.js";
import { Whiteboard } from "/static/whiteboard.js";

const $ = (id) => document.getElementById(id);
const room = decodeURIComponent(location.pathname.split("/").pop());
const token = new URLSearchParams(location.search).get("token");
const grid = $("grid");
$("room-name").textContent = room;

const participants = new Map(); // sid -> info
const tiles = new Map(); // participant sid -> tile
const trackOwner = new Map(); // track sid -> participant sid
const mine = new Map(); // kind -> {sid, track}
let midToTrack = {};
let pubPc = null;
let subPc = null;
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

function tileFor(sid, info) {
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
    grid.append(el);
    tile = { el, video, name, badge, stream: new MediaStream(), audio: null };
    video.srcObject = tile.stream;
    tiles.set(sid, tile);
    if (isHost() && sid !== self.sid) hostControls(tile, sid);
  }
  if (info) {
    tile.name.textContent = sid === self?.sid ? `${info.name} (you)` : info.name; // text, never markup
    tile.el.dataset.identity = info.identity;
  }
  return tile;
}

function removeTile(sid) {
  tiles.get(sid)?.el.remove();
  tiles.delete(sid);
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

async function publish(kinds) {
  const started = generation;
  const wanted = { audio: kinds.includes("audio"), video: kinds.includes("video") ? { width: 640, height: 480 } : false };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(wanted);
  } catch (err) {
    setStatus(`camera or microphone refused (${err.name}): allow them in the browser and reload`, true);
    return;
  }
  localStream = localStream || new MediaStream();
  for (const track of stream.getTracks()) localStream.addTrack(track);
  const local = tileFor(self.sid, self);
  local.video.srcObject = localStream;
  if (started !== generation) return;
  pubPc = pubPc || new RTCPeerConnection();
  const pc = pubPc;
  const added = stream.getTracks().map((track) => pc.addTransceiver(track, { direction: "sendonly" }));
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringDone(pc);
  if (started !== generation) return;
  const tracks = {};
  for (const t of pc.getTransceivers()) {
    if (t.sender.track) tracks[t.mid] = { source: t.sender.track.kind === "audio" ? "microphone" : "camera" };
  }
  const ack = await request("publish_offer", { sdp: pc.localDescription.sdp, tracks });
  if (!ack.ok || started !== generation) return;
  await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
  for (const published of ack.tracks) {
    const transceiver = added.find((t) => t.mid === published.mid);
    if (transceiver) mine.set(published.kind, { sid: published.sid, track: transceiver.sender.track });
    trackOwner.set(published.sid, self.sid);
  }
}

async function toggle(kind, button) {
  const entry = mine.get(kind);
  if (!entry) return;
  const muted = button.getAttribute("aria-pressed") !== "true";
  entry.track.enabled = !muted;
  const ack = await request("mute_track", { track_sid: entry.sid, muted });
  if (!ack.ok) return;
  button.setAttribute("aria-pressed", String(muted));
  if (kind === "video") request("video-off", { off: muted });
  button.textContent = kind === "audio" ? (muted ? "unmute mic" : "mute mic") : (muted ? "camera on" : "camera off");
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

async function onSubscriberOffer({ sdp, tracks }) {
  const started = generation;
  midToTrack = tracks;
  if (!subPc) {
    subPc = new RTCPeerConnection();
    subPc.addEventListener("track", (event) => {
      const participantSid = event.streams[0] ? event.streams[0].id : "unknown";
      const tile = tileFor(participantSid, participants.get(participantSid));
      tile.stream.addTrack(event.track);
      if (event.track.kind === "audio") {
        tile.audio = tile.audio || new Audio();
        tile.audio.srcObject = new MediaStream([event.track]);
        tile.audio.play().catch(() => setStatus("click anywhere to hear the others"));
      }
      event.track.addEventListener("ended", () => tile.stream.removeTrack(event.track));
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

if (!token) {
  // a bare link to the room: the home page asks for a name and gets the page a token
  location.replace(`/?room=${encodeURIComponent(room)}`);
}

const socket = io({ path: "/socket.io", auth: { token, room }, transports: ["websocket"] });
const chat = new Chat($("chat-list"), $("chat-form"), socket, (m) => setStatus(m, true));
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
  for (const sid of [...tiles.keys()]) removeTile(sid);
  participants.clear();
  trackOwner.clear();
  mine.clear();
  for (const id of ["mic", "cam"]) $(id).setAttribute("aria-pressed", "false");
  $("mic").textContent = "mute mic";
  $("cam").textContent = "camera off";
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
  setStatus(`in room as ${self.name}`);
  for (const el of document.querySelectorAll(".host-only")) el.hidden = !isHost();
  $("raise-hand").hidden = self.permission.can_publish;
  showBoard(Boolean(data.state?.whiteboardOpen));
  showRecording(Boolean(data.state?.recording));
  for (const p of data.participants) {
    participants.set(p.sid, p);
    for (const t of p.tracks || []) trackOwner.set(t.sid, p.sid);
    tileFor(p.sid, p);
    for (const t of p.tracks || []) if (t.muted && t.kind === "audio") showMuted(t.sid, true);
  }
  participants.set(self.sid, self);
  const state = await request("whiteBoardStateRequest");
  if (state.ok) board.load(state.state);
  if (self.permission.can_publish) await publish(["audio", "video"]);
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
socket.on("track_published", ({ participant_sid, track }) => trackOwner.set(track.sid, participant_sid));
socket.on("track_muted", ({ track_sid, muted }) => {
  showMuted(track_sid, muted);
  const entry = mine.get("audio");
  if (entry && entry.sid === track_sid && muted) {
    entry.track.enabled = false;
    $("mic").setAttribute("aria-pressed", "true");
    $("mic").textContent = "unmute mic";
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
socket.on("transcript", (m) => { $("captions").textContent = `${m.username}: ${m.msg}`; });
socket.on("recording", (m) => showRecording(m.recording));
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

$("mic").addEventListener("click", (e) => toggle("audio", e.currentTarget));
$("cam").addEventListener("click", (e) => toggle("video", e.currentTarget));
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

window.meetbox = { socket, tiles, board, chat, audioPacketsFrom, mine, get self() { return self; }, get selfSid() { return self?.sid; } };
