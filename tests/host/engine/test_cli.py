"""The signals, directives, executions and audit commands, run through the real ``main``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetprompt_host.testing.cli import CliResult, run_cli


@pytest.fixture
def fp(engine: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``fleetprompt --db URL ARGS`` with the test packages as the environment's."""
    for module in ("signals_cmd", "directives_cmd"):
        monkeypatch.setattr(f"fleetprompt_host.cli.{module}.load_registry", lambda: engine.registry)
    monkeypatch.setenv("FLEETPROMPT_ACTOR", engine.owner)

    def call(*args: str) -> CliResult:
        return run_cli(capsys, "--db", engine.db.url, *args)

    return call


def _request(fp: Any, *extra: str, params: str = '{"item": "tea"}') -> CliResult:
    return fp(
        "directives",
        "request",
        "--tenant",
        "acme",
        "--type",
        "shop.order.place",
        "--params",
        params,
        *extra,
    )


def test_request_wait_runs_the_directive_inline_and_every_view_shows_it(fp: Any) -> None:
    result = _request(fp, "--wait", "--json")
    assert result.code == 0, result.err
    directive = result.json()
    assert (directive["status"], directive["created"], directive["result"]["order"][:6]) == (
        "succeeded",
        True,
        "order-",
    )
    listed = fp("directives", "list", "--tenant", "acme", "--json").json()
    assert [d["id"] for d in listed] == [directive["id"]]
    shown = fp("directives", "show", directive["id"][:12], "--tenant", "acme")
    assert "status:      succeeded" in shown.out and "attempt 1: succeeded" in shown.out
    [execution] = fp(
        "executions", "list", "--tenant", "acme", "--kind", "directive", "--json"
    ).json()
    timeline = fp("executions", "show", execution["id"], "--tenant", "acme")
    assert timeline.code == 0
    assert "outcome:     succeeded" in timeline.out
    assert timeline.out.index("directive_run") < timeline.out.index("signal_emitted")
    audit = fp("audit", "--tenant", "acme", "--correlation", directive["correlation_id"])
    lines = audit.out.splitlines()
    assert lines[0].endswith(
        f"directive shop.order.place requested by {directive['actor']}: now succeeded, attempt 1/3"
    )
    assert any("signal #2 shop.order.placed" in line for line in lines)
    entries = fp(
        "audit", "--tenant", "acme", "--correlation", directive["correlation_id"], "--json"
    ).json()
    assert [e["at"] for e in entries if e["kind"] != "step"] == sorted(
        e["at"] for e in entries if e["kind"] != "step"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--params", '{"item": "tea", "qty": 0}'),
            2,
            "params.qty: 0 is less than the minimum of 1",
        ),
        (("--params", "{nope"), 2, "--params is not JSON"),
        (
            ("--params", '{"item": "x"}', "--actor", "user:max", "--type", "shop.order.purge"),
            5,
            "needs admin",
        ),
        (("--params", '{"item": "x"}', "--run-after", "yesterday-ish"), 2, "invalid --run-after"),
    ],
    ids=["schema", "not-json", "role", "time"],
)
def test_bad_requests_print_one_error_line_with_its_code_and_exit_code(
    fp: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    base = ["directives", "request", "--tenant", "acme", "--type", "shop.order.place"]
    result = fp(*base, *args)
    assert result.code == code
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert message in result.err and "Traceback" not in result.err
    assert fp("directives", "list", "--tenant", "acme", "--json").json() == []


def test_cancel_and_rerun_from_the_command_line(fp: Any) -> None:
    directive = _request(fp, "--json").json()
    canceled = fp("directives", "cancel", directive["id"], "--tenant", "acme", "--reason", "typo")
    assert canceled.out.strip() == f"directive {directive['id']} is canceled"
    again = fp("directives", "rerun", directive["id"], "--tenant", "acme", "--wait", "--json")
    assert again.code == 0 and again.json()["status"] == "succeeded"
    refused = fp("directives", "cancel", directive["id"], "--tenant", "acme")
    assert refused.code == 4 and "[directive-not-cancelable]" in refused.err


def test_signals_list_show_tail_and_filters(fp: Any, engine: Any) -> None:
    from fleetprompt_sdk.models import Subject

    for n in range(3):
        engine.emit(
            "shop.order.placed", {"order": str(n)}, subject=Subject(type="order", id=str(n))
        )
    engine.emit("shop.order.noted", {"n": 1}, correlation_id="corr-1")
    listed = fp(
        "signals", "list", "--tenant", "acme", "--type", "shop.order.placed", "--json"
    ).json()
    assert [s["seq"] for s in listed] == [1, 2, 3]
    assert (
        fp("signals", "list", "--tenant", "acme", "--subject", "order:2", "--json").json()[0]["seq"]
        == 3
    )
    assert [
        s["seq"]
        for s in fp(
            "signals", "list", "--tenant", "acme", "--correlation", "corr-1", "--json"
        ).json()
    ] == [4]
    table = fp("signals", "list", "--tenant", "acme", "--type", "shop.*.noted")
    assert table.out.splitlines()[0].split()[:3] == ["SEQ", "OCCURRED", "(UTC)"]
    shown = fp("signals", "show", "2", "--tenant", "acme")
    assert "type:           shop.order.placed" in shown.out and "shop:notify: pending" in shown.out
    tail = fp("signals", "tail", "--tenant", "acme", "-n", "2")
    assert [line.split()[0] for line in tail.out.splitlines()] == ["#3", "#4"]
    bad = fp("signals", "list", "--tenant", "acme", "--type", "Shop")
    assert bad.code == 2 and "[invalid-type-pattern]" in bad.err
    missing = fp("signals", "show", "99", "--tenant", "acme")
    assert missing.code == 3 and "[signal-not-found]" in missing.err


def test_signals_export_writes_cloudevents_one_per_line(fp: Any, engine: Any) -> None:
    from fleetprompt_sdk.models import Subject

    signal, _ = engine.emit(
        "shop.order.placed",
        {"order": "7"},
        subject=Subject(type="order", id="7"),
        correlation_id="c1",
    )
    result = fp("signals", "export", "--tenant", "acme", "--format", "cloudevents")
    [line] = result.out.splitlines()
    event = json.loads(line)
    assert event == {
        "specversion": "1.0",
        "id": signal.id,
        "source": "/fleetprompt/acme/test",
        "type": "shop.order.placed",
        "time": signal.occurred_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": {"order": "7"},
        "subject": "order:7",
        "sequence": "1",
        "tenant": "acme",
        "correlationid": "c1",
    }


def test_signals_replay_dry_run_then_for_real(fp: Any, engine: Any) -> None:
    engine.emit("shop.order.placed", {"order": "1"})
    engine.emit("shop.order.placed", {"order": "2"})
    base = [
        "signals",
        "replay",
        "--tenant",
        "acme",
        "--type",
        "shop.order.*",
        "--handler",
        "shop:notify",
    ]
    dry = fp(*base, "--dry-run", "--json").json()
    assert dry["dry_run"] and [d["seq"] for d in dry["deliveries"]] == [1, 2]
    assert not any(d.replay for d in engine.deliveries())
    real = fp(*base)
    assert real.out.splitlines()[0] == "created 2 replay deliveries for 2 signals"
    assert [d.signal_seq for d in engine.deliveries() if d.replay] == [1, 2]
    unknown = fp("signals", "replay", "--tenant", "acme", "--all", "--handler", "nobody:here")
    assert unknown.code == 3 and "[handler-not-found]" in unknown.err
    nothing = fp("signals", "replay", "--tenant", "acme")
    assert nothing.code == 2 and "[replay-needs-selector]" in nothing.err


def test_listings_say_when_nothing_matches_and_unknown_ids_are_not_found(fp: Any) -> None:
    assert fp("signals", "list", "--tenant", "acme").out.strip() == "no signals match"
    assert fp("executions", "list", "--tenant", "acme").out.strip() == "no executions match"
    assert fp("directives", "show", "nope", "--tenant", "acme").code == 3
    assert fp("executions", "show", "nope", "--tenant", "acme").code == 3
    empty = fp("audit", "--tenant", "acme")
    assert empty.code == 0 and empty.out.strip() == "nothing recorded for this tenant"
    usage = fp("audit", "--tenant", "acme", "--correlation", "c", "--subject", "order:1")
    assert usage.code == 2 and "not both" in usage.err
    since = fp("signals", "list", "--tenant", "acme", "--since", "last tuesday")
    assert since.code == 2 and "[invalid-time]" in since.err
