// The chat panel: messages are text (textContent), never markup; nothing is stored.
export class Chat {
  constructor(list, form, socket, onError) {
    this.list = list;
    this.socket = socket;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = form.elements.namedItem("msg");
      const msg = input.value.trim();
      if (!msg) return;
      socket.emit("chat-box", { msg }, (ack) => {
        if (!ack.ok) return onError(`chat: ${ack.error.message}`);
        input.value = "";
        this.show(ack.message, true);
      });
    });
  }

  show(message, mine = false) {
    const item = document.createElement("li");
    item.className = mine ? "mine" : "";
    const who = document.createElement("strong");
    who.textContent = mine ? "you" : message.username;
    const text = document.createElement("span");
    text.textContent = message.msg;
    item.append(who, text);
    this.list.append(item);
    this.list.scrollTop = this.list.scrollHeight;
  }
}
