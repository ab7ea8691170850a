// The home page: sign in, create a room, join one by id or link. Talks to the REST API.
const $ = (id) => document.getElementById(id);
let userToken = sessionStorage.getItem("meetbox.userToken");

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (userToken) headers.Authorization = `Bearer ${userToken}`;
  const response = await fetch(path, { method, headers, body: JSON.stringify(body) });
  const reply = await response.json().catch(() => ({ success: false, msg: response.statusText }));
  if (!response.ok || reply.success === false) throw new Error(reply.msg || `HTTP ${response.status}`);
  return reply.data;
}

function showUser() {
  const email = sessionStorage.getItem("meetbox.email");
  $("who").textContent = userToken ? `signed in as ${email}` : "";
  $("create-panel").hidden = !userToken;
  $("signin-panel").hidden = Boolean(userToken);
}

function roomIdFrom(text) {
  const value = text.trim();
  const match = value.match(/\/r\/([^/?#]+)/);
  return decodeURIComponent(match ? match[1] : value);
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const data = await api("POST", "/auth/login", { userName: form.get("userName"), password: form.get("password") });
    userToken = data.token;
    sessionStorage.setItem("meetbox.userToken", userToken);
    sessionStorage.setItem("meetbox.email", data.user.email);
    setStatus("");
    showUser();
  } catch (err) {
    setStatus(`sign-in failed: ${err.message}`, true);
  }
});

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { name: form.get("name"), type: form.get("type"), isPrivate: form.get("isPrivate") === "on" };
  if (form.get("maxParticipants")) body.maxParticipants = Number(form.get("maxParticipants"));
  try {
    const room = await api("POST", "/room/create", body);
    const link = `${location.origin}/r/${room.id}`;
    $("created-link").textContent = link;
    $("created-link").href = link;
    $("created").hidden = false;
    $("join-form").elements.namedItem("room").value = link;
  } catch (err) {
    setStatus(`could not create the room: ${err.message}`, true);
  }
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = roomIdFrom(String(new FormData(event.target).get("room")));
  // the meeting page asks for the name and the devices before joining
  location.assign(`/r/${encodeURIComponent(room)}`);
});

const linked = new URLSearchParams(location.search).get("room");
if (linked) $("join-form").elements.namedItem("room").value = linked;
showUser();
