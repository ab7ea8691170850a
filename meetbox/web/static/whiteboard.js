// The whiteboard: a canvas drawn with pointer events, kept in the same stroke model as the
// server (meetbox/signalling/whiteboard.py) so undo, clear and late-joiner sync agree.
const WIDTH = 960;
const HEIGHT = 540;

export class Whiteboard {
  constructor(canvas, socket) {
    this.canvas = canvas;
    this.socket = socket;
    this.ctx = canvas.getContext("2d");
    canvas.width = WIDTH;
    canvas.height = HEIGHT;
    this.stage = null;
    this.strokes = [];
    this.current = new Map(); // sender -> index of its open stroke
    this.brush = { size: 3, color: "#000000", eraser: false };
    this.drawing = false;
    this.selfKey = "self";
    canvas.addEventListener("pointerdown", (e) => this.local("mousedown", e));
    canvas.addEventListener("pointermove", (e) => this.drawing && this.local("mousemove", e));
    window.addEventListener("pointerup", (e) => this.drawing && this.local("mouseup", e));
    this.redraw();
  }

  position(event) {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: Math.round(((event.clientX - box.left) / box.width) * WIDTH),
      y: Math.round(((event.clientY - box.top) / box.height) * HEIGHT),
    };
  }

  local(kind, event) {
    this.drawing = kind !== "mouseup";
    const payload = {
      pos: this.position(event),
      eraser: this.brush.eraser,
      brushSize: this.brush.size,
      inkColor: this.brush.color,
      brushOpacity: 1,
    };
    this.apply(this.selfKey, { drawingType: kind, payload });
    this.socket.emit("sendDrawingData", { drawingType: kind, payload }, (ack) => {
      if (!ack.ok) this.onError?.(ack.error.message);
    });
  }

  apply(sender, event) {
    if (event.drawingType === "mousedown" || !this.current.has(sender)) {
      this.strokes.push([]);
      this.current.set(sender, this.strokes.length - 1);
    }
    const stroke = this.strokes[this.current.get(sender)];
    stroke.push(event);
    this.paintSegment(stroke, stroke.length - 1);
  }

  remote(message) {
    const { msg } = message;
    this.apply(msg.socketId, { drawingType: msg.drawingType, payload: msg.payload });
  }

  undo(local = true) {
    if (!this.strokes.length) return;
    this.strokes.pop();
    const last = this.strokes.length;
    for (const [sender, index] of this.current) if (index >= last) this.current.delete(sender);
    this.redraw();
    if (local) this.socket.emit("Un-do", {}, () => {});
  }

  clear(local = true) {
    this.stage = null;
    this.strokes = [];
    this.current.clear();
    this.redraw();
    if (local) this.socket.emit("clear-whiteBoard", {}, () => {});
  }

  load(state) {
    this.stage = state.stage;
    this.strokes = state.strokes.map((s) => s.slice());
    this.current.clear();
    this.redraw();
  }

  paintSegment(stroke, index) {
    const event = stroke[index];
    const previous = index > 0 ? stroke[index - 1] : event;
    const p = event.payload || {};
    const from = (previous.payload || {}).pos;
    const to = p.pos;
    if (!from || !to) return;
    const ctx = this.ctx;
    ctx.save();
    ctx.globalAlpha = Number(p.brushOpacity ?? 1);
    ctx.strokeStyle = p.eraser ? "#ffffff" : String(p.inkColor || "#000000");
    ctx.lineWidth = Math.max(1, Math.min(64, Number(p.brushSize) || 3)) * (p.eraser ? 4 : 1);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + (from === to ? 0.01 : 0), to.y);
    ctx.stroke();
    ctx.restore();
  }

  redraw() {
    const ctx = this.ctx;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    for (const stroke of this.strokes) {
      for (let i = 0; i < stroke.length; i += 1) this.paintSegment(stroke, i);
    }
  }

  inkedPixels() {
    const data = this.ctx.getImageData(0, 0, WIDTH, HEIGHT).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 128) count += 1;
    return count;
  }
}
