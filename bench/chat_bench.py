"""Chat benchmarks: the chat loop's own cost per round, and one tool call's full path.

Every figure is printed next to a baseline measured in the same run, against the same
scripted local OpenAI-compatible server (:mod:`fleetprompt_host.testing.llm_server`, run
in a process of its own: :mod:`llm_server_process`):

- **chat-loop overhead per round**, the server's own time subtracted: FleetPrompt's loop
  (tool catalog, validation, dispatch, durable conversation and execution records) vs.
  a hand-written streaming loop calling ``litellm.completion`` for the same two rounds
  with the same tool (target <= 1.3x); the hand-written loop vs. the same loop on the
  ``openai`` client (what litellm's streaming path costs); and what
  ``litellm.disable_streaming_logging`` changes for litellm and for FleetPrompt (which
  switches it on, since it records its own steps);
- **tool dispatch**: ``tools call`` of a read tool through the full path (catalog,
  validation, permission check, execution record) vs. a bare single-row INSERT + COMMIT
  on the same database (target <= 2x), on SQLite and PostgreSQL. Further lines show the
  floor, one INSERT through FleetPrompt's tenant session, and where a call's time goes:
  its catalog read alone and its execution record alone.

``--quick`` runs a few turns for CI. PostgreSQL comes from
``FLEETPROMPT_BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_server_process import ServerProcess
from postgres_server import bench_server
from report import report

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.testing.llm_server import (
    ReceivedRequest,
    Reply,
    ToolCallScript,
    text_reply,
    tool_calls_reply,
)
from fleetprompt_sdk import Package, ToolContext
from fleetprompt_sdk.manifest import Manifest

TENANT = "bench"
ACTOR = "user:alice"
#: What a call of ``fpchat__lookup`` records (for the record-alone figure).
RECORD_SUMMARY = {"tool": "fpchat__lookup", "call_id": "cli-0123456789abcdef"}
RECORD_INPUT = {
    "call_id": "cli-0123456789abcdef",
    "arguments": {"city": "Paris"},
    "arguments_hash": "0" * 64,
    "effect": "read",
    "idempotency_key": "tool:" + "0" * 48,
}
RECORD_OUTPUT = {
    "status": "ok",
    "output": {"city": "Paris", "days": 1, "celsius": 14, "rain": True, "wind_kmh": 9},
}
QUESTION = "What is the weather in Paris, and should I take an umbrella?"
ANSWER = (
    "In Paris it is 14 degrees with light rain this afternoon, clearing in the evening. "
    "Take an umbrella if you go out before six; the wind is light, so a small one will do. "
    "Tomorrow looks dry and a little warmer, around 17 degrees, with sun after ten. "
) * 2

weather = Package("fpchat")


@weather.tool
def lookup(ctx: ToolContext, city: str, days: int = 1) -> dict[str, Any]:
    """Return the forecast for a city.

    Args:
        city: The city's name.
        days: How many days ahead.
    """
    return {"city": city, "days": days, "celsius": 14, "rain": True, "wind_kmh": 9}


def _registry() -> PackageRegistry:
    tools = [t.to_spec().model_dump(mode="json") for t in weather.fleetprompt_tools()]
    manifest = Manifest.model_validate(
        {
            "name": "fpchat",
            "version": "1.0.0",
            "display_name": "Weather",
            "permissions": ["records:read"],
            "tools": tools,
        }
    )
    registry = PackageRegistry()
    registry.register(weather, manifest)
    return registry


def _responder(request: ReceivedRequest) -> Reply:
    """Round 1: call the tool (arguments split over chunks); round 2: a streamed answer."""
    if request.messages[-1]["role"] == "tool":
        return text_reply(ANSWER, chunk_size=8, usage=(420, 90))
    call = ToolCallScript("fpchat__lookup", {"city": "Paris", "days": 1}, id="call_1")
    return tool_calls_reply(call, text="Let me check.", chunk_size=8, usage=(380, 20))


def _setup(db: Database) -> None:
    from fleetprompt_host.engine.installed import mark_installed

    db.create_tenant(TENANT, actor=ACTOR)
    with db.tenant_session(TENANT) as session:
        mark_installed(session, "fpchat", "1.0.0")


# -- the loops ------------------------------------------------------------------------


def fleetprompt_loop(db: Database, registry: PackageRegistry, base: str) -> Callable[[], None]:
    """One chat turn through FleetPrompt (a new conversation each time)."""
    from fleetprompt_host.chat.loop import ChatSession
    from fleetprompt_host.chat.model import LiteLLMClient, ModelSettings

    client = LiteLLMClient(ModelSettings(model="scripted", api_base=base))

    def turn() -> None:
        session = ChatSession(db, registry, TENANT, ACTOR, lambda _: client, model="scripted")
        result = session.send(QUESTION)
        assert result.ok and result.rounds == 2, result

    return turn


def _hand_loop(create: Callable[..., Any], tools: list[dict[str, Any]]) -> Callable[[], None]:
    """The loop a developer writes by hand: stream, accumulate, call the tool, repeat."""

    def turn() -> None:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You answer weather questions."},
            {"role": "user", "content": QUESTION},
        ]
        for _ in range(4):
            stream = create(
                messages=messages,
                tools=tools,
                stream=True,
                stream_options={"include_usage": True},
            )
            text: list[str] = []
            calls: dict[int, dict[str, Any]] = {}
            for chunk in stream:
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                    for tc in delta.tool_calls or []:
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                        slot["id"] = tc.id or slot["id"]
                        if tc.function is not None:
                            slot["name"] = tc.function.name or slot["name"]
                            slot["args"] += tc.function.arguments or ""
            message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
            if not calls:
                return
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["args"]},
                }
                for c in calls.values()
            ]
            messages.append(message)
            for c in calls.values():
                output = lookup(None, **json.loads(c["args"]))  # type: ignore[arg-type]
                messages.append(
                    {"role": "tool", "tool_call_id": c["id"], "content": json.dumps(output)}
                )
        raise AssertionError("the hand-written loop did not finish")

    return turn


def litellm_loop(base: str, tools: list[dict[str, Any]]) -> Callable[[], None]:
    """The hand-written loop calling ``litellm.completion``."""
    from fleetprompt_host.chat.model import load_litellm

    litellm = load_litellm()

    def create(**kw: Any) -> Any:
        return litellm.completion(
            model="openai/scripted", api_base=base, api_key="bench", max_retries=0, **kw
        )

    return _hand_loop(create, tools)


def openai_loop(base: str, tools: list[dict[str, Any]]) -> Callable[[], None]:
    """The hand-written loop calling the ``openai`` client directly."""
    import openai

    client = openai.OpenAI(base_url=base, api_key="bench", max_retries=0)

    def create(**kw: Any) -> Any:
        return client.chat.completions.create(model="scripted", **kw)

    return _hand_loop(create, tools)


class BackgroundWork:
    """The work litellm leaves on its logging threads after a call, waited for.

    After each call litellm runs its success logging (and, with streaming logging on,
    per-chunk logging) on a thread pool. A turn's background work would otherwise run
    during the next turn measured, which is another loop's: :meth:`wait` lets each turn
    pay for its own, whatever order the loops run in.
    """

    def __init__(self) -> None:
        self._pending: list[Future[Any]] = []
        try:
            from litellm.litellm_core_utils import thread_pool_executor
        except ImportError:  # a litellm that logs on threads of its own: nothing to track
            self._executor = None
            return
        self._executor = thread_pool_executor.executor
        self._submit = self._executor.submit
        self._executor.submit = self._track  # type: ignore[method-assign]

    def _track(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._submit(fn, *args, **kwargs)
        self._pending.append(future)
        return future

    def wait(self) -> None:
        """Return once everything submitted so far has finished."""
        while self._pending:
            pending, self._pending = self._pending, []
            futures.wait(pending)

    def close(self) -> None:
        """Stop tracking (litellm's own submit again)."""
        self.wait()
        if self._executor is not None:
            self._executor.submit = self._submit  # type: ignore[method-assign]


def overhead_per_round(
    server: ServerProcess, turns: dict[str, Callable[[], None]], count: int, rounds: int = 2
) -> dict[str, float]:
    """Median seconds per round of each loop, the server's own time subtracted.

    The loops run interleaved, one turn each in turn, so machine noise hits them alike.
    Each turn starts with no background work left by another and ends when its own is
    done (:class:`BackgroundWork`).
    """
    background = BackgroundWork()
    samples: dict[str, list[float]] = {name: [] for name in turns}
    try:
        for turn in turns.values():  # warm up: imports, connections, caches
            for _ in range(3):
                turn()
        for _ in range(count):
            for name, turn in turns.items():
                background.wait()
                served = server.handled_seconds
                started = time.perf_counter()
                turn()
                background.wait()
                wall = time.perf_counter() - started
                samples[name].append((wall - (server.handled_seconds - served)) / rounds)
    finally:
        background.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_chat(quick: bool) -> None:
    """The chat-loop figures (SQLite, embedded mode)."""
    from fleetprompt_host.chat.model import load_litellm

    litellm = load_litellm()
    registry = _registry()
    count = 10 if quick else 60
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(_responder) as server:
        db = Database(f"sqlite:///{tmp}/fleetprompt.sqlite")
        _setup(db)
        from fleetprompt_host.tools.runtime import open_catalog

        tools = open_catalog(db, registry, TENANT, ACTOR).openai_tools()
        fp = fleetprompt_loop(db, registry, server.base_url)
        lite = litellm_loop(server.base_url, tools)

        def logging(on: bool, loop: Callable[[], None]) -> Callable[[], None]:
            def turn() -> None:
                litellm.disable_streaming_logging = not on
                loop()

            return turn

        # Every variant runs interleaved with the others, so load changes hit them alike.
        per_round = overhead_per_round(
            server,
            {
                "fleetprompt": logging(False, fp),
                "litellm": logging(False, lite),
                "openai": openai_loop(server.base_url, tools),
                "fleetprompt+logging": logging(True, fp),
                "litellm+logging": logging(True, lite),
            },
            count,
        )
        litellm.disable_streaming_logging = True
        report(
            "chat loop per round: FleetPrompt (records incl.)",
            per_round["fleetprompt"],
            "hand-written litellm loop",
            per_round["litellm"],
            target="<= 1.3x",
        )
        report(
            "chat loop per round: hand-written litellm",
            per_round["litellm"],
            "same loop on the openai client",
            per_round["openai"],
        )
        report(
            "litellm loop per round, streaming logging ON",
            per_round["litellm+logging"],
            "streaming logging OFF",
            per_round["litellm"],
        )
        report(
            "FleetPrompt per round, streaming logging ON",
            per_round["fleetprompt+logging"],
            "OFF (FleetPrompt's default)",
            per_round["fleetprompt"],
        )
        report(
            "FleetPrompt per round (its default)",
            per_round["fleetprompt"],
            "hand-written litellm, logging ON",
            per_round["litellm+logging"],
        )
        db.close()


# -- tool dispatch --------------------------------------------------------------------


def _medians(fns: dict[str, Callable[[int], None]], count: int) -> dict[str, float]:
    """Median seconds per call of each function, the functions interleaved."""
    for fn in fns.values():
        for i in range(min(20, count)):
            fn(-1 - i)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(count):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn(i)
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def _dispatch_lines(
    label: str, db: Database, registry: PackageRegistry, bare: Callable[[int], None], count: int
) -> None:
    from sqlalchemy import insert

    from fleetprompt_host.storage.models import RecordRow
    from fleetprompt_host.tools.runtime import call_tool, open_catalog
    from fleetprompt_host.tools.steps import ExecutionRecorder

    def tool_call(i: int) -> None:
        outcome = call_tool(db, registry, TENANT, ACTOR, "fpchat__lookup", {"city": "Paris"})
        assert outcome.result.ok

    def one_insert(i: int) -> None:
        with db.tenant_session(TENANT) as session:
            session.connection().execute(
                insert(RecordRow.__table__).values(
                    package="fpchat", collection="bench", key=f"k{i}-{time.time_ns()}", data={}
                )
            )

    def catalog(i: int) -> None:
        open_catalog(db, registry, TENANT, ACTOR)

    def record(i: int) -> None:
        # The record a read tool's call writes: one execution, one tool_call step.
        recorder = ExecutionRecorder(db, TENANT, "tool", actor=ACTOR, summary=RECORD_SUMMARY)
        recorder.add("tool_call", "fpchat__lookup", input=RECORD_INPUT, output=RECORD_OUTPUT)
        recorder.finish("succeeded")

    took = _medians(
        {
            "tool": tool_call,
            "bare": bare,
            "insert": one_insert,
            "catalog": catalog,
            "record": record,
        },
        count,
    )
    report(
        f"{label} tools call, read tool, full path",
        took["tool"],
        "bare INSERT+COMMIT",
        took["bare"],
        target="<= 2x",
    )
    report(
        f"{label} one INSERT via tenant_session", took["insert"], "bare INSERT+COMMIT", took["bare"]
    )
    report(
        f"{label} tools call, read tool, full path",
        took["tool"],
        "one INSERT via tenant_session",
        took["insert"],
    )
    # Where a call's time goes: its two statements, each on its own.
    report(
        f"{label} the call's catalog read alone",
        took["catalog"],
        "bare INSERT+COMMIT",
        took["bare"],
    )
    report(
        f"{label} the call's execution record alone",
        took["record"],
        "bare INSERT+COMMIT",
        took["bare"],
    )


def bench_dispatch_sqlite(quick: bool) -> None:
    """Tool dispatch on SQLite vs. bare sqlite3 with the same pragmas."""
    registry = _registry()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/fleetprompt.sqlite")
        _setup(db)
        bare = sqlite3.connect(Path(tmp) / "bare.sqlite", isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):
            bare.execute(f"PRAGMA {pragma}")
        bare.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, data TEXT)")

        def bare_one(i: int) -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (k, data) VALUES (?, ?)", (f"k{i}", "{}"))
            bare.execute("COMMIT")

        _dispatch_lines("SQLite", db, registry, bare_one, 100 if quick else 1000)
        bare.close()
        db.close()


def bench_dispatch_postgres(quick: bool) -> None:
    """Tool dispatch on PostgreSQL vs. bare psycopg on the same database."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = bench_server()
    if server is None:
        return
    url = server.create_database("fp_bench_chat")
    try:
        db = Database(url)
        _setup(db)
        target = make_url(url)
        bare = psycopg.connect(
            host=target.host,
            port=target.port,
            user=target.username,
            password=target.password,
            dbname=target.database,
        )
        bare.execute("CREATE TABLE bare_t (id bigserial PRIMARY KEY, k text, data jsonb)")
        bare.commit()

        def bare_one(i: int) -> None:
            bare.execute("INSERT INTO bare_t (k, data) VALUES (%s, %s)", (f"k{i}", "{}"))
            bare.commit()

        _dispatch_lines("PG", db, _registry(), bare_one, 60 if quick else 500)
        bare.close()
        db.close()
    finally:
        server.drop_all()


def main(argv: list[str]) -> int:
    """Run the chat benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized run")
    args = parser.parse_args(argv)
    bench_chat(args.quick)
    bench_dispatch_sqlite(args.quick)
    bench_dispatch_postgres(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
