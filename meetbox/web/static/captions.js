// Live captions: each speaker's words as they speak (interim text, then the final line),
// the button that starts and stops the room's transcriber (any participant may, as in
// La Suite Meet), and, after the meeting, its transcript and summary. Text only, never markup.
const LIVE_LINES = 3;

export class Captions {
  constructor({ room, button, live, panel, list, summaryButton, summary, getToken, onError }) {
    Object.assign(this, { room, button, live, panel, list, summaryButton, summary, getToken, onError });
    this.lines = new Map(); // segmentId -> {who, text, final}
    this.meetingId = "";
    this.active = false;
    button.addEventListener("click", () => this.toggle());
    summaryButton.addEventListener("click", () => this.makeSummary());
  }

  async call(method, path, body) {
    const reply = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.getToken()}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(data.msg || data.message || `HTTP ${reply.status}`);
    return data;
  }

  async toggle() {
    const action = this.active ? "stop" : "start";
    try {
      await this.call("POST", `/api/v1.0/rooms/${encodeURIComponent(this.room)}/${action}-subtitle/`, {});
    } catch (err) {
      this.onError(`captions: ${err.message}`);
    }
  }

  setActive(on) {
    this.active = on;
    this.button.setAttribute("aria-pressed", String(on));
    this.button.textContent = on ? "stop captions" : "captions";
    this.live.hidden = !on && !this.lines.size;
  }

  state(message) {
    if (message.state === "active") this.setActive(true);
    if (message.state === "stopped") this.setActive(false);
    if (message.state === "error") this.notice(`captions paused: ${message.message}`);
    if (message.recovered) this.notice("captions are back");
  }

  notice(text) {
    const item = document.createElement("p");
    item.className = "caption-notice";
    item.textContent = text;
    this.live.append(item);
    setTimeout(() => item.remove(), 6000);
  }

  show(message) {
    if (message.meetingId) this.meetingId = message.meetingId;
    const key = message.segmentId || `${message.id}-${message.time}`;
    this.lines.set(key, { who: message.username || message.id, text: message.msg, final: message.final !== false });
    while (this.lines.size > LIVE_LINES) this.lines.delete(this.lines.keys().next().value);
    this.live.hidden = false;
    for (const old of this.live.querySelectorAll(".caption")) old.remove();
    for (const line of this.lines.values()) {
      const item = document.createElement("p");
      item.className = line.final ? "caption" : "caption interim";
      const who = document.createElement("strong");
      who.textContent = `${line.who}: `;
      item.append(who, document.createTextNode(line.text));
      this.live.append(item);
    }
  }

  // after the meeting: the transcript as it was said, and a summary on request
  async afterMeeting() {
    if (!this.meetingId) return;
    this.panel.hidden = false;
    try {
      const { data } = await this.call("GET", `/view-transcript/${this.meetingId}`);
      this.list.replaceChildren(...data.map((line) => {
        const item = document.createElement("li");
        const who = document.createElement("strong");
        who.textContent = `${line.userName}: `;
        item.append(who, document.createTextNode(line.message));
        return item;
      }));
    } catch (err) {
      this.onError(`transcript: ${err.message}`);
    }
  }

  async makeSummary() {
    try {
      await this.call("POST", `/transcription/generate-summary/${this.meetingId}`);
      for (let tries = 0; tries < 60; tries += 1) {
        const result = await this.call("GET", `/meeting/${this.meetingId}/summary`);
        this.summary.textContent = result.markdown || `summarising… ${Math.round(result.progress * 100)}%`;
        if (result.state !== "running") return;
        await new Promise((done) => setTimeout(done, 1000));
      }
    } catch (err) {
      this.onError(`summary: ${err.message}`);
    }
  }
}
