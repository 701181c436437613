"""``fleetprompt new`` scaffolds a package that validates as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetprompt_host.cli.main import cli, main
from fleetprompt_host.scaffold import LAYOUT, scaffold
from fleetprompt_host.validation import validate_document


def test_new_writes_every_file_of_the_layout_with_the_tools_generated_from_code(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(cli, ["new", "field_notes", "-d", str(tmp_path)])

    assert result.exit_code == 0, result.output
    root = tmp_path / "field_notes"
    for target in LAYOUT.values():
        path = root / target.replace("__MODULE__", "fleetprompt_field_notes").replace(
            "__NAME__", "field_notes"
        )
        assert path.is_file(), path
    manifest = json.loads((root / "fleetprompt_field_notes" / "fleetprompt.json").read_text())
    assert [t["name"] for t in manifest["tools"]] == ["list_notes", "add_note"]
    assert manifest["tools"][1]["directive"] == "field_notes.note.add"
    report = validate_document(manifest)
    assert report.ok and report.problems == []
    pyproject = (root / "pyproject.toml").read_text()
    assert 'field_notes = "fleetprompt_field_notes:package"' in pyproject
    assert "__" not in pyproject.replace("__init__", "")


@pytest.mark.parametrize("name", ["Notes", "1notes", "no-tes", "a", "x__y", "notes;drop"])
def test_an_invalid_package_name_is_refused_and_nothing_is_written(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["new", name, "-d", str(tmp_path)])

    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: invalid package name {name!r}")
    assert err.rstrip().endswith("[invalid-package-name]")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_non_empty_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    keep = tmp_path / "notes" / "mine.txt"
    keep.write_text("precious")

    with pytest.raises(Exception) as info:
        scaffold("notes", tmp_path, sync=False)

    assert getattr(info.value, "code", None) == "path-exists"
    assert keep.read_text() == "precious"
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["mine.txt"]
