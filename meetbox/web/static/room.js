// meetbox's minimal room page: join with the token in the link, publish camera and
// microphone, show everyone else. The protocol is in docs/PROTOCOL.md.
import { io } from "/vendor/socket.io.js";

const room = decodeURIComponent(location.pathname.split("/").pop());
const token = new URLSearchParams(location.search).get("token");
const statusEl = document.getElementById("status");
const grid = document.getElementById("grid");
document.getElementById("room-name").textContent = room;

const participants = new Map(); // sid -> info
const tiles = new Map(); // participant sid -> {el, stream}
let midToTrack = {};
let pubPc = null;
let subPc = null;
let selfSid = null;

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", isError);
}

function tileFor(sid, label) {
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
    el.append(video, name);
    grid.append(el);
    tile = { el, video, name, stream: new MediaStream(), audio: null };
    video.srcObject = tile.stream;
    tiles.set(sid, tile);
  }
  if (label) {
    tile.name.textContent = label; // text, never markup
    tile.el.dataset.identity = label;
  }
  return tile;
}

function removeTile(sid) {
  const tile = tiles.get(sid);
  if (tile) {
    tile.el.remove();
    tiles.delete(sid);
  }
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

async function publish(self) {
  if (!self.permission.can_publish) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  } catch (err) {
    setStatus(`camera or microphone refused: ${err.name}`, true);
    return;
  }
  const local = tileFor(self.sid, `${self.name} (you)`);
  local.video.srcObject = stream;
  pubPc = new RTCPeerConnection();
  const tracks = {};
  const transceivers = stream.getTracks().map((track) => pubPc.addTransceiver(track, { direction: "sendonly" }));
  await pubPc.setLocalDescription(await pubPc.createOffer());
  await iceGatheringDone(pubPc);
  for (const t of transceivers) {
    tracks[t.mid] = { source: t.sender.track.kind === "audio" ? "microphone" : "camera" };
  }
  const ack = await socket.emitWithAck("publish_offer", { sdp: pubPc.localDescription.sdp, tracks });
  if (!ack.ok) {
    setStatus(`could not publish: ${ack.error.message}`, true);
    return;
  }
  await pubPc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
}

async function onSubscriberOffer({ sdp, tracks }) {
  midToTrack = tracks;
  if (!subPc) {
    subPc = new RTCPeerConnection();
    subPc.addEventListener("track", (event) => {
      const participantSid = event.streams[0] ? event.streams[0].id : "unknown";
      const info = participants.get(participantSid);
      const tile = tileFor(participantSid, info ? info.name : participantSid);
      tile.el.dataset.tracks = `${tile.el.dataset.tracks || ""} ${midToTrack[event.transceiver.mid] || ""}`.trim();
      tile.stream.addTrack(event.track);
      if (event.track.kind === "audio") {
        tile.audio = tile.audio || new Audio();
        tile.audio.srcObject = new MediaStream([event.track]);
        tile.audio.play().catch(() => setStatus("click anywhere to hear the others"));
      }
      event.track.addEventListener("ended", () => tile.stream.removeTrack(event.track));
    });
  }
  await subPc.setRemoteDescription({ type: "offer", sdp });
  await subPc.setLocalDescription(await subPc.createAnswer());
  await iceGatheringDone(subPc);
  const ack = await socket.emitWithAck("subscriber_answer", { sdp: subPc.localDescription.sdp });
  if (!ack.ok) setStatus(`subscription failed: ${ack.error.message}`, true);
}

document.addEventListener("click", () => {
  for (const tile of tiles.values()) if (tile.audio) tile.audio.play().catch(() => {});
});

if (!token) setStatus("this link has no access token", true);

const socket = io({ path: "/socket.io", auth: { token, room }, transports: ["websocket"] });

socket.on("connect_error", (err) => {
  const message = err.message;
  setStatus(`cannot join: ${message}`, true);
});
socket.on("disconnected", ({ reason }) => setStatus(`disconnected: ${reason}`, true));
socket.on("room_connected", async (data) => {
  selfSid = data.participant.sid;
  setStatus(`in room as ${data.participant.name}`);
  for (const p of data.participants) {
    participants.set(p.sid, p);
    tileFor(p.sid, p.name);
  }
  await publish(data.participant);
});
socket.on("participant_joined", ({ participant }) => {
  participants.set(participant.sid, participant);
  tileFor(participant.sid, participant.name);
});
socket.on("participant_left", ({ sid }) => {
  participants.delete(sid);
  removeTile(sid);
});
socket.on("active_speakers", ({ speakers }) => {
  const speaking = new Set(speakers.map((s) => s.sid));
  for (const [sid, tile] of tiles) tile.el.classList.toggle("speaking", speaking.has(sid));
});
socket.on("subscriber_offer", (offer) => {
  onSubscriberOffer(offer).catch((err) => setStatus(`subscription failed: ${err}`, true));
});
window.meetbox = { socket, tiles, get selfSid() { return selfSid; } };
