"""``fleetprompt packages list|show`` over real installed fixture distributions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fleetprompt_host.cli import main as main_module
from fleetprompt_host.cli.main import cli
from fleetprompt_sdk.manifest import Manifest

GOOD_MANIFEST = (
    Path(__file__).parent / "distributions" / "fpdisc_good" / "fpdisc_good" / "fleetprompt.json"
)


@pytest.fixture
def on_sys_path(installed_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the fixture site on sys.path, as PYTHONPATH or a virtualenv would."""
    monkeypatch.syspath_prepend(str(installed_site))
    return installed_site


def invoke(*args: str) -> Result:
    """Run the CLI in-process."""
    return CliRunner().invoke(cli, list(args))


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``main`` (which maps errors to exit codes) and return (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main_module.main(list(args))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def _rows(output: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(output) if row["name"].startswith("disc")}


def test_list_shows_each_package_with_version_distribution_and_status(on_sys_path: Path) -> None:
    result = invoke("packages", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "DISTRIBUTION", "STATUS"]
    good = next(line for line in lines if line.startswith("discgood "))
    assert good.split() == ["discgood", "1.0.0", "fpdisc-good", "1.0.0", "ok"]
    failing = next(line for line in lines if line.startswith("discimportfail "))
    assert "broken [import-failed]: cannot import: RuntimeError: fpdisc_importfail" in failing


def test_list_json_reports_ok_broken_and_reasons(on_sys_path: Path) -> None:
    result = invoke("packages", "list", "--json")

    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert rows["discgood"] == {
        "name": "discgood",
        "version": "1.0.0",
        "status": "ok",
        "distribution": "fpdisc-good",
        "distribution_version": "1.0.0",
        "entry_point": "discgood",
        "target": "fpdisc_good:package",
        "code": None,
        "reason": None,
    }
    assert rows["dischookraises"]["status"] == "broken"
    assert rows["dischookraises"]["code"] == "hook-failed"
    assert "exploded" in rows["dischookraises"]["reason"]


def test_list_marks_packages_left_out_by_the_environment_as_disabled(
    on_sys_path: Path, monkeypatch: pytest.MonkeyPatch, imported: Callable[[], list[str]]
) -> None:
    monkeypatch.setenv("FLEETPROMPT_PACKAGES", "discgood,discgoood")

    result = invoke("packages", "list")

    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("discimportfail "))
    assert line.endswith("disabled (left out by FLEETPROMPT_PACKAGES)")
    assert "FLEETPROMPT_PACKAGES names 'discgoood'" in result.stderr
    assert imported() == ["fpdisc_good"]


def test_show_prints_the_manifest_in_readable_form(on_sys_path: Path) -> None:
    result = invoke("packages", "show", "discgood")

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    for expected in [
        "discgood 1.0.0 - Disc Good",
        "status: ok",
        "origin: distribution fpdisc-good 1.0.0, entry point discgood = fpdisc_good:package",
        "license: Apache-2.0",
        "lookup_note [read] - Find notes whose text contains some words.",
        "create_note [write, directive discgood.note.create, requires confirmation]"
        " - Write a new note.",
        "secrets:read",
        "discgood.note.created - A note was written.",
        "remember_ticket <- helpdesk.ticket.* - Note each ticket.",
        "discgood.note.create (role: admin) - Store a note.",
        "api_token [string, required, secret] - Token for the notes service.",
        'region [string, default "eu"] - Where notes are kept.',
        "notes - Free-text notes.",
        "note_keeper (tools: lookup_note, create_note) - Keeps notes tidy.",
    ]:
        assert expected in lines, f"missing {expected!r} in:\n{result.stdout}"
    for section in [
        "Tools:",
        "Permissions:",
        "Signals emitted:",
        "Subscriptions:",
        "Directives:",
        "Config:",
        "Collections:",
        "Agents:",
    ]:
        assert section in lines


def test_show_json_prints_the_manifest(on_sys_path: Path) -> None:
    result = invoke("packages", "show", "discgood", "--json")

    assert result.exit_code == 0, result.output
    expected = Manifest.model_validate_json(GOOD_MANIFEST.read_text())
    assert Manifest.model_validate(json.loads(result.stdout)) == expected


def test_show_of_a_broken_package_explains_why_and_exits_1(on_sys_path: Path) -> None:
    result = invoke("packages", "show", "dischookraises")

    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [
        "dischookraises 0.1.0 - Dischookraises",
        "status: broken [hook-failed]: hook fleetprompt_tools raised RuntimeError: "
        "the tool table of dischookraises exploded",
    ]


def test_show_of_an_invalid_manifest_lists_its_problems(on_sys_path: Path) -> None:
    result = invoke("packages", "show", "discbadmanifest")

    assert result.exit_code == 1
    assert "status: broken [manifest-invalid]" in result.stdout
    assert "tools[0].description: " in result.stdout


def test_show_json_of_a_package_without_a_valid_manifest_is_a_one_line_error(
    on_sys_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "packages", "show", "discbadmanifest", "--json")

    assert code == 1
    assert out == ""
    assert err.startswith("error: package 'discbadmanifest' is broken: invalid manifest: ")
    assert err.endswith("[package-broken]\n") and err.count("\n") == 1


def test_show_of_a_disabled_package_reads_its_manifest_without_importing_it(
    on_sys_path: Path, monkeypatch: pytest.MonkeyPatch, imported: Callable[[], list[str]]
) -> None:
    monkeypatch.setenv("FLEETPROMPT_PACKAGES", "")

    result = invoke("packages", "show", "discgood")

    assert result.exit_code == 0, result.output
    assert "status: disabled (left out by FLEETPROMPT_PACKAGES; its code is not imported)" in (
        result.stdout
    )
    assert "create_note [write, directive discgood.note.create, requires confirmation]" in (
        result.stdout
    )
    assert imported() == []


def test_show_of_an_unknown_package_is_not_found_with_exit_code_3(
    on_sys_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "packages", "show", "nosuchpackage")

    assert (code, out) == (3, "")
    assert err == (
        "error: no package named 'nosuchpackage' is installed "
        "(see `fleetprompt packages list`) [package-not-found]\n"
    )


def _subprocess_env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEETPROMPT_PACKAGES"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def _cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", *args],
        capture_output=True,
        text=True,
        env=_subprocess_env(site, **env),
        timeout=60,
    )


def test_list_in_a_real_process_shows_the_good_package_ok_and_the_broken_one_with_its_reason(
    installed_site: Path,
) -> None:
    result = _cli(installed_site, "packages", "list", "--json")

    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    assert rows["discgood"]["status"] == "ok"
    assert rows["discimportfail"]["status"] == "broken"
    assert rows["discimportfail"]["code"] == "import-failed"
    assert "fpdisc_importfail refuses to import" in rows["discimportfail"]["reason"]
    assert "Traceback" not in result.stderr


def test_fleetprompt_packages_leaves_a_package_out_in_a_real_process(installed_site: Path) -> None:
    result = _cli(installed_site, "packages", "list", "--json", FLEETPROMPT_PACKAGES="discgood")

    assert result.returncode == 0, result.stderr
    statuses = {name: row["status"] for name, row in _rows(result.stdout).items()}
    assert statuses["discgood"] == "ok"
    assert set(statuses.values()) == {"ok", "disabled"}
    assert statuses["discimportfail"] == "disabled"


def test_show_of_an_unknown_package_in_a_real_process_exits_3_without_a_traceback(
    installed_site: Path,
) -> None:
    result = _cli(installed_site, "packages", "show", "nosuchpackage")

    assert result.returncode == 3
    assert result.stderr.startswith("error: no package named 'nosuchpackage'")
    assert "Traceback" not in result.stderr


def test_what_a_package_prints_while_loading_goes_to_stderr_and_json_stays_parseable(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = 'from fleetprompt_sdk import Package\nprint("hello from import")\n'
    code += 'package = Package("synchatty")\n'
    site_factory.add("fpsyn_chatty", manifest_for("synchatty"), code)
    monkeypatch.syspath_prepend(str(site_factory.path))

    result = invoke("packages", "list", "--json")

    assert result.exit_code == 0, result.output
    rows = {row["name"]: row["status"] for row in json.loads(result.stdout)}
    assert rows["synchatty"] == "ok"
    assert "hello from import" in result.stderr
