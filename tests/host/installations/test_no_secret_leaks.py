"""No secret in durable records: a full install, upgrade and chat flow, then a scan of
every table, every column, the database files, the logs and the CLI output."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.testing.cli import CliResult, run_cli
from fleetprompt_host.testing.llm_server import (  # noqa: F401 - fixture used by name
    ScriptedLLMServer,
    ToolCallScript,
    llm_server,
    text_reply,
    tool_calls_reply,
)

FIRST = "s3cr3t-first-Q9v7Lm2Zx8Kp4Wd6"
SECOND = "s3cr3t-second-Hy5Tb3Nc1Rg7Je0"


class _Hooks(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Hooks.received.append(self.headers.get("Authorization", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local webhook receiver; yields its URL, remembers the Authorization headers."""
    _Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _rows_text(conn: Connection, schema: str | None) -> list[str]:
    out: list[str] = []
    inspector = inspect(conn)
    for table in inspector.get_table_names(schema=schema):
        columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
        name = f'"{schema}"."{table}"' if schema else f'"{table}"'
        cast = ", ".join(f'CAST("{c}" AS TEXT)' for c in columns)
        for row in conn.execute(text(f"SELECT {cast} FROM {name}")):
            out.extend(f"{table}.{c}={v}" for c, v in zip(columns, row, strict=True))
    return out


def _sqlite_rows_text(path: Path) -> list[str]:
    out: list[str] = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                out.extend(f"{table}.{c}={v}" for c, v in zip(columns, row, strict=True))
    return out


def durable_text(db: Database, home: Path) -> str:
    """Every column of every table (host and tenants) as text; on SQLite also file bytes."""
    chunks: list[str] = []
    if db.dialect == "postgresql":
        with db.backend.host_transaction(write=False) as conn:
            for schema in inspect(conn).get_schema_names():
                if schema in ("fleetprompt", "public") or schema.startswith("org_"):
                    chunks.extend(_rows_text(conn, schema))
        return "\n".join(chunks)
    data_dir = Path(db.backend.host_path).parent  # type: ignore[attr-defined]
    files = sorted(p for d in (home, data_dir) for p in d.rglob("*") if p.is_file())
    for path in files:
        if path.suffix == ".sqlite":
            chunks.extend(_sqlite_rows_text(path))
        chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def test_a_secret_appears_nowhere_durable_after_install_upgrade_and_chat(
    db: Database,
    db_url: str,
    registry: PackageRegistry,
    fp_home: Path,
    webhook: str,
    llm_server: ScriptedLLMServer,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[CliResult] = []

    def cli(*args: str) -> CliResult:
        result = run_cli(capsys, "--db", db_url, *args)
        outputs.append(result)
        assert result.code == 0, result.err
        return result

    config = tmp_path / "helpdesk.toml"
    config.write_text(f'webhook_url = "{webhook}"\nwebhook_token = "{FIRST}"\n')
    cli("tenants", "create", "acme", "--actor", "user:alice")
    common = ("--tenant", "acme", "--actor", "user:alice")
    cli("install", "helpdesk", *common, "--config", str(config), "--with-deps", "--dry-run")
    cli("install", "helpdesk", *common, "--config", str(config), "--with-deps", "--json", "--wait")
    cli("upgrade", "helpdesk", *common, "--set", f"webhook_token={SECOND}", "--dry-run", "--json")
    cli("upgrade", "helpdesk", *common, "--set", f"webhook_token={SECOND}", "--wait")
    cli("installations", "list", "--tenant", "acme", "--json")
    cli("installations", "show", "helpdesk", "--tenant", "acme")
    cli("secrets", "status")
    cli("secrets", "rotate-key")

    from fleetprompt_host.chat.loop import ChatSession
    from fleetprompt_host.chat.model import LiteLLMClient, ModelSettings

    llm_server.script(
        tool_calls_reply(ToolCallScript("helpdesk__create_ticket", {"title": "Printer on fire"})),
        text_reply("Ticket opened."),
    )
    chat = ChatSession(
        db,
        registry,
        "acme",
        "user:alice",
        lambda model: LiteLLMClient(
            ModelSettings(model=model, api_base=llm_server.base_url, backoff=0.01)
        ),
        model="scripted",
    )
    chat.send("The printer is on fire, open a ticket")

    assert _Hooks.received == [f"Bearer {SECOND}"]  # the secret works where it is meant to
    cli("audit", "--tenant", "acme", "--subject", "package:helpdesk")
    cli("directives", "list", "--tenant", "acme")
    cli("executions", "list", "--tenant", "acme")

    stored = durable_text(db, fp_home)
    # The scan does see the data, the encrypted secret included.
    assert "helpdesk" in stored and "webhook_token" in stored and "fp1." in stored
    printed = "\n".join(r.out + r.err for r in outputs)
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for secret in (FIRST, SECOND):
        assert secret not in stored
        assert secret not in printed
        assert secret not in logged
        for request in llm_server.wait_for_requests(2):
            assert secret not in str(request.body)
