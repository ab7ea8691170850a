// Adaptive video: the camera goes out as three simulcast layers, a screen share as one sharp
// stream; each received video's tile tells the server the size it is shown at and whether it
// is on screen (the server sends the layer that size needs, nothing to a hidden tile); the
// server's "layers" event says which of our layers someone receives, the others are paused.

// smallest first, as the server expects them when no keyframe has told their size yet
// (scalabilityMode on each: without it Chromium sends VP9 and AV1 as one SVC stream of the
// first encoding only; with it, as true simulcast, like VP8)
export const CAMERA_LAYERS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: "L1T1" },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: "L1T1" },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: "L1T1" },
];

export function transceiverInit(source) {
  if (source === "camera") return { direction: "sendonly", sendEncodings: CAMERA_LAYERS.map((l) => ({ ...l })) };
  if (source === "screen_share") return { direction: "sendonly", sendEncodings: [{ maxBitrate: 2_500_000 }] };
  return { direction: "sendonly" };
}

export function prepareTrack(track, source) {
  if (source === "screen_share" && "contentHint" in track) track.contentHint = "detail"; // text stays sharp
}

export async function favourSharpness(sender) {
  const params = sender.getParameters();
  params.degradationPreference = "maintain-resolution";
  await sender.setParameters(params).catch(() => {});
}

// dynacast: send only the layers someone receives. One change at a time per sender (a
// setParameters must follow its own getParameters), the latest wish last.
const layerWork = new WeakMap(); // sender -> {busy, wanted}
export function applyLayers(sender, active) {
  const work = layerWork.get(sender) || { busy: null, wanted: null };
  layerWork.set(sender, work);
  work.wanted = active;
  if (!work.busy) {
    work.busy = (async () => {
      while (work.wanted) {
        const wanted = work.wanted;
        work.wanted = null;
        await setActive(sender, wanted);
      }
    })().finally(() => { work.busy = null; });
  }
  return work.busy;
}

async function setActive(sender, active) {
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length < 2) return;
  let changed = false;
  for (const encoding of params.encodings) {
    const on = active.includes(encoding.rid);
    if (encoding.active !== on) {
      encoding.active = on;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}

// reports each watched tile's size (device pixels) and visibility as they change
export class ViewReporter {
  constructor(send) {
    this.send = send;
    this.watched = new Map(); // track sid -> {el, visible, off, last}
    this.resize = new ResizeObserver((entries) => entries.forEach((e) => this.changed(e.target)));
    this.intersect = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const item = this.byElement(entry.target);
        if (item) item.visible = entry.isIntersecting;
        this.changed(entry.target);
      }
    });
  }

  byElement(el) {
    for (const item of this.watched.values()) if (item.el === el) return item;
    return null;
  }

  watch(trackSid, el) {
    if (this.watched.has(trackSid)) return;
    this.watched.set(trackSid, { trackSid, el, visible: true, off: false, last: "" });
    this.resize.observe(el);
    this.intersect.observe(el);
  }

  unwatch(trackSid) {
    const item = this.watched.get(trackSid);
    if (!item) return;
    clearTimeout(item.timer);
    this.watched.delete(trackSid);
    if (!this.byElement(item.el)) {
      this.resize.unobserve(item.el);
      this.intersect.unobserve(item.el);
    }
  }

  forget(el) {
    for (const [sid, item] of [...this.watched]) if (item.el === el) this.unwatch(sid);
  }

  // the participant turned this video off (or on again): selective subscription
  setOff(trackSid, off) {
    const item = this.watched.get(trackSid);
    if (!item) return;
    item.off = off;
    this.report(item);
  }

  // layout settles in bursts: report once it has been still for a moment
  changed(el) {
    for (const item of this.watched.values()) {
      if (item.el !== el) continue;
      clearTimeout(item.timer);
      item.timer = setTimeout(() => this.report(item), 100);
    }
  }

  report(item) {
    const scale = window.devicePixelRatio || 1;
    const width = Math.round(item.el.clientWidth * scale);
    const height = Math.round(item.el.clientHeight * scale);
    const visible = item.visible && !item.off && !document.hidden && width > 0 && height > 0;
    const key = `${width}x${height}:${visible}`;
    if (key === item.last) return;
    item.last = key;
    this.send({ track_sid: item.trackSid, width, height, visible });
  }

  refresh() {
    for (const item of this.watched.values()) {
      item.last = "";
      this.report(item);
    }
  }
}

// connection quality of each received video, from the browser's own statistics every two
// seconds: loss over the interval and frames per second (good, fair, poor)
export function watchQuality(getPc, tileOf) {
  const last = new Map(); // inbound report id -> {lost, received}
  return setInterval(async () => {
    const pc = getPc();
    if (!pc) return;
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type !== "inbound-rtp" || r.kind !== "video") return;
      const tile = tileOf(r.mid);
      const before = last.get(r.id) || { lost: 0, received: 0 };
      last.set(r.id, { lost: r.packetsLost || 0, received: r.packetsReceived || 0 });
      if (!tile) return;
      const lost = (r.packetsLost || 0) - before.lost;
      const got = (r.packetsReceived || 0) - before.received;
      const loss = lost + got > 0 ? lost / (lost + got) : 0;
      const fps = r.framesPerSecond || 0;
      const quality = loss > 0.1 || fps < 5 ? "poor" : loss > 0.02 || fps < 15 ? "fair" : "good";
      let badge = tile.el.querySelector(".quality");
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "quality";
        tile.el.append(badge);
      }
      tile.el.dataset.quality = quality;
      badge.textContent = quality;
      badge.title = `connection ${quality}: ${Math.round(loss * 100)}% lost, ${Math.round(fps)} frames/s`;
    });
  }, 2000);
}
