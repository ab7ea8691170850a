"""Room files: upload, details, download, delete; size limit, safe names, who may."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from meetbox.server import EmbeddedServer
from tests.api.conftest import Reply, Rest, api_settings


def form(content: bytes, name: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("file", content, filename=name, content_type="application/octet-stream")
    return data


async def post_raw(rest: Rest, room: str, token: str, body: bytes) -> Reply:
    """Upload a multipart body written by hand (boundary ``B``), as a browser may send it."""
    return await rest.call(
        "POST",
        f"/room/{room}/upload",
        data=body,
        token=token,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )


async def make_room(rest: Rest, token: str, private: bool = False) -> str:
    reply = await rest.call(
        "POST",
        "/room/create",
        json={"name": "r", "type": "meeting", "isPrivate": private},
        token=token,
    )
    assert reply.status == 201
    return str(reply.body["data"]["id"])


async def test_upload_details_download_and_delete(rest: Rest, server: EmbeddedServer) -> None:
    owner = await rest.user("owner")
    room = await make_room(rest, owner.token)
    sent = await rest.call(
        "POST",
        f"/room/{room}/upload",
        data=form(b"x" * 27685, "Document_72835505.docx"),
        token=owner.token,
    )
    assert sent.status == 200, sent.body
    assert sent.body["msg"] == "File uploaded successfully!"
    data = sent.body["data"]
    filename = f"{room}_Document_72835505.docx"
    assert data == {
        "originalName": "Document_72835505.docx",
        "filename": filename,
        "size": 27685,
        "roomId": room,
        "path": f"documents/{room}/{filename}",
        "uploadDate": data["uploadDate"],
        "contentType": "application/octet-stream",
    }
    data_dir = Path(server.server.settings.server.data_dir)  # type: ignore[union-attr]
    assert (data_dir / data["path"]).read_bytes() == b"x" * 27685

    details = await rest.call("GET", f"/room/{room}/files/{filename}", token=owner.token)
    assert details.status == 200 and details.body["msg"] == "File retrieved successfully!"
    assert details.body["data"]["size"] == 27685
    content = await rest.call(
        "GET", f"/room/{room}/files/{filename}", params={"download": "true"}, token=owner.token
    )
    assert content.status == 200 and content.body == b"x" * 27685

    # a participant of the room (room token) may upload and read; one of another room may not
    guest = server.token(room, "guest")
    assert (await rest.call("GET", f"/room/{room}/files/{filename}", token=guest)).status == 200
    stranger = server.token("another-room", "guest")
    assert (await rest.call("GET", f"/room/{room}/files/{filename}", token=stranger)).status == 403
    assert (
        await rest.call("POST", f"/room/{room}/upload", data=form(b"1", "a.txt"), token=stranger)
    ).status == 403
    # deleting needs the owner or a host's token
    assert (await rest.call("DELETE", f"/room/{room}/files", token=guest)).status == 403
    host = server.token(room, "host", room_admin=True)
    deleted = await rest.call("DELETE", f"/room/{room}/files", token=host)
    assert deleted.status == 200 and deleted.body["data"] == {"deleted": 1}
    assert not (data_dir / data["path"]).exists()
    gone = await rest.call("GET", f"/room/{room}/files/{filename}", token=owner.token)
    assert gone.status == 404
    actions = {(e["action"], e["outcome"]) for e in await rest.store.audit.find({})}
    assert {("file.upload", "success"), ("file.delete", "success")} <= actions


async def test_names_cannot_escape_the_room_folder(rest: Rest, server: EmbeddedServer) -> None:
    owner = await rest.user("owner")
    room = await make_room(rest, owner.token)
    data_dir = Path(server.server.settings.server.data_dir)  # type: ignore[union-attr]
    folder = data_dir / "documents" / room
    for name, expected in (
        ("../../keys.json", "keys.json"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\system.ini", "system.ini"),
        ("..\\..\\x.txt", "x.txt"),
        ("a%00b.txt", "a_00b.txt"),  # a literal '%' (the client encodes it as %25)
        ("%2E%2E%2Fup.txt", "_2E_2E_2Fup.txt"),  # literal text, not a path
    ):
        sent = await rest.call(
            "POST", f"/room/{room}/upload", data=form(b"1", name), token=owner.token
        )
        assert sent.status == 200, (name, sent.body)
        assert sent.body["data"]["originalName"] == expected, name
        assert (folder / f"{room}_{expected}").exists()
    for raw_name in (b"a\x00b.txt", b"a%00b.txt", b"..%2F..%2Fz.txt"):
        # as a browser sends it: the name's bytes in the part header, NUL raw or percent-encoded
        body = (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="'
            + raw_name
            + b'"\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--\r\n'
        )
        sent = await post_raw(rest, room, owner.token, body)
        assert sent.status in (200, 400), raw_name
        if sent.status == 200:
            assert sent.body["data"]["originalName"] in ("ab.txt", "z.txt"), raw_name
    # a part header whose name cannot be read (schemathesis found it once: a 500)
    body = (
        b'--B\r\nContent-Disposition: form-data; name="b\xf2\xb8\xb6\x9e;;\xf2"\r\n\r\n1\r\n'
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="c.txt"\r\n\r\n1\r\n'
        b"--B--\r\n"
    )
    sent = await post_raw(rest, room, owner.token, body)
    assert sent.status in (200, 400), sent.body
    for name in ("..", "...", " "):
        sent = await rest.call(
            "POST", f"/room/{room}/upload", data=form(b"1", name), token=owner.token
        )
        assert sent.status == 400, name
    keys = data_dir / "keys.json"
    assert keys.exists() and b"api_secret" in keys.read_bytes()  # untouched
    for path in (f"/room/{room}/files/..%2Fkeys.json", f"/room/{room}/files/%2E%2E"):
        assert (await rest.call("GET", path, token=owner.token)).status in (400, 404)
    assert (await rest.call("GET", "/room/..%2F..%2Fx/files/a", token=owner.token)).status in (
        400,
        404,
    )
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".upload-")]
    assert leftovers == []


async def test_private_rooms_and_the_size_limit() -> None:
    async with (
        EmbeddedServer(api=api_settings(max_upload_bytes=1000)) as server,
        aiohttp.ClientSession() as session,
    ):
        rest = Rest(server, session)
        owner = await rest.user("owner")
        other = await rest.user("other")
        public = await make_room(rest, owner.token)
        private = await make_room(rest, owner.token, private=True)
        ok = await rest.call(
            "POST", f"/room/{public}/upload", data=form(b"1", "a.txt"), token=other.token
        )
        assert ok.status == 200
        refused = await rest.call(
            "POST", f"/room/{private}/upload", data=form(b"1", "a.txt"), token=other.token
        )
        assert refused.status == 403
        big = await rest.call(
            "POST", f"/room/{public}/upload", data=form(b"1" * 1001, "b.txt"), token=owner.token
        )
        assert big.status == 413 and "1000" in big.body["msg"]
        assert await rest.store.files.count({"filename": f"{public}_b.txt"}) == 0
        assert (
            await rest.call("POST", f"/room/{public}/upload", data=b"raw", token=owner.token)
        ).status == 400
        nobody = await rest.call("POST", f"/room/{public}/upload", data=form(b"1", "a.txt"))
        assert nobody.status == 401
        missing = await rest.call(
            "POST", f"/room/{'0' * 24}/upload", data=form(b"1", "a.txt"), token=owner.token
        )
        assert missing.status == 404
