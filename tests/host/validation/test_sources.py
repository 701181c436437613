"""Reading manifests from source trees: which file is chosen, and what is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetprompt_host.manifest_sources import from_path
from fleetprompt_sdk.errors import ManifestError


def _write(path: Path, text: str = '{"name": "crm"}') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_src_layout_manifest_is_found_and_virtualenvs_and_tests_are_ignored(
    tmp_path: Path,
) -> None:
    manifest = _write(tmp_path / "src" / "crm" / "fleetprompt.json")
    _write(tmp_path / ".venv" / "lib" / "other" / "fleetprompt.json")
    _write(tmp_path / "tests" / "fleetprompt.json")
    _write(tmp_path / "build" / "lib" / "crm" / "fleetprompt.json")
    _write(tmp_path / "crm.egg-info" / "fleetprompt.json")
    document = from_path(tmp_path)
    assert document.file == manifest
    assert document.data == {"name": "crm"}
    assert document.text == '{"name": "crm"}'


def test_two_manifests_at_the_same_depth_are_ambiguous(tmp_path: Path) -> None:
    _write(tmp_path / "src" / "crm" / "fleetprompt.json")
    _write(tmp_path / "src" / "crm_extra" / "fleetprompt.json")
    with pytest.raises(ManifestError) as raised:
        from_path(tmp_path)
    assert raised.value.code == "manifest-ambiguous"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"name": "crm",}', "manifest-not-json"),
        ("{}".encode("utf-16"), "manifest-not-json"),
        (b"[" * 100_000 + b"]" * 100_000, "manifest-not-json"),
        (b" " * 1_000_001, "manifest-too-large"),
    ],
    ids=["trailing-comma", "utf-16", "nested-too-deeply", "too-large"],
)
def test_unparseable_manifest_raises_a_coded_error(tmp_path: Path, raw: bytes, code: str) -> None:
    path = tmp_path / "fleetprompt.json"
    path.write_bytes(raw)
    with pytest.raises(ManifestError) as raised:
        from_path(path)
    assert raised.value.code == code


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "fleetprompt.json"
    path.write_bytes(b'\xef\xbb\xbf{"name": "crm"}')
    assert from_path(path).data == {"name": "crm"}


def test_missing_path_and_empty_tree_are_coded(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as missing:
        from_path(tmp_path / "nope")
    assert missing.value.code == "path-not-found"
    with pytest.raises(ManifestError) as empty:
        from_path(tmp_path)
    assert empty.value.code == "manifest-not-found"
