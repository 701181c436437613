"""Run the ``fleetprompt`` command in-process from a test, as a user would see it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class CliResult:
    """Exit code and output of one ``fleetprompt`` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Parse stdout as JSON."""
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run ``fleetprompt ARGS`` through its real ``main`` (error lines and exit codes)."""
    from fleetprompt_host.cli.main import main

    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    else:  # pragma: no cover - main always exits
        code = 0
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


class Cli:
    """``fleetprompt --db URL ...`` bound to one database, acting as ``actor`` by default.

    ``--actor`` is added to the commands that take it (``tenants create/delete``,
    ``members ...``, ``db prune-signals``) unless the call passes ``actor=None``.
    """

    _TAKES_ACTOR = {
        ("tenants", "create"),
        ("tenants", "delete"),
        ("members", "add"),
        ("members", "remove"),
        ("db", "prune-signals"),
    }

    def __init__(
        self, capsys: pytest.CaptureFixture[str], db_url: str, actor: str = "user:alice"
    ) -> None:
        self.capsys = capsys
        self.db_url = db_url
        self.actor = actor

    def __call__(self, *args: str, actor: str | None = "") -> CliResult:
        """Run one command and return its result."""
        who = self.actor if actor == "" else actor
        extra = ["--actor", who] if who and tuple(args[:2]) in self._TAKES_ACTOR else []
        return run_cli(self.capsys, "--db", self.db_url, *args, *extra)
