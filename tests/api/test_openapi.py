"""The OpenAPI document matches the server: every route is in it, and schemathesis agrees."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from meetbox.server import EmbeddedServer
from meetbox.web.site import TABLES
from tests.api.conftest import Rest

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


async def test_the_document_lists_every_route_and_the_docs_page_renders_it(rest: Rest) -> None:
    spec = await rest.call("GET", "/openapi.json")
    assert spec.status == 200
    assert spec.body["openapi"].startswith("3.")
    documented = {
        (method.upper(), path) for path, ops in spec.body["paths"].items() for method in ops
    }
    served = {(r.method, r.path) for table in TABLES for r in table.routes}
    assert documented == served
    assert len(served) == 34
    for path, ops in spec.body["paths"].items():
        for method, op in ops.items():
            assert {"400", "401", "429", "503"} <= set(op["responses"]), (method, path)
    page = await rest.call("GET", "/docs")
    assert page.status == 200 and b"/static/docs.js" in page.body
    script = await rest.call("GET", "/static/docs.js")
    assert script.status == 200 and b"openapi.json" in script.body


@pytest.mark.timeout(240)
@pytest.mark.parametrize("auth", ["admin", "none"])
async def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
    rest: Rest, server: EmbeddedServer, auth: str
) -> None:
    headers: list[str] = []
    if auth == "admin":
        admin = await rest.user("admin", admin=True)
        headers = ["--header", f"Authorization: Bearer {admin.token}"]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        CHECKS,
        *headers,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "25",
        "--seed",
        "20261121",
        "--workers",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 200)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "Tested: 34" in report
