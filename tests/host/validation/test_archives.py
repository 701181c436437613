"""Validating wheels and sdists built during the test, without importing them.

The sdist is built for real (``python -m build --sdist --no-isolation``); the wheel is
assembled with zipfile in the layout a build backend writes (package files plus a
``.dist-info`` folder), since building wheels offline needs the ``wheel`` package.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fleetprompt_host.manifest_sources import from_path
from fleetprompt_sdk.errors import ManifestError


def build_sdist(root: Path, out: Path) -> Path:
    """Build a real sdist of the package source tree at ``root``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "--outdir",
            str(out),
            str(root),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [sdist] = out.glob("*.tar.gz")
    return sdist


def assemble_wheel(root: Path, out: Path, name: str) -> Path:
    """Zip the package under ``root/src/name`` into a wheel with its dist-info files."""
    wheel = out / f"{name}-0.3.0-py3-none-any.whl"
    dist_info = f"{name}-0.3.0.dist-info"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for file in sorted((root / "src" / name).rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(root / "src").as_posix())
        zf.writestr(
            f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.0\n"
        )
        zf.writestr(
            f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(
            f"{dist_info}/entry_points.txt", f"[fleetprompt.packages]\n{name} = {name}:package\n"
        )
        zf.writestr(f"{dist_info}/RECORD", "")
    return wheel


@pytest.fixture
def broken_manifest(package_manifest: Callable[[str], dict]) -> dict:
    manifest = package_manifest("arcpkg")
    manifest["version"] = "one"
    manifest["signals"]["emits"] = [{"type": "other.thing.happened"}]
    manifest["permissions"].append("signals:emit")
    return manifest


def test_real_sdist_is_read_and_its_problems_reported(
    make_package: Callable[..., Path],
    broken_manifest: dict,
    tmp_path: Path,
    run_cli: Callable[..., Result],
) -> None:
    sdist = build_sdist(make_package("arcpkg", manifest=broken_manifest), tmp_path / "dist")
    document = from_path(sdist)
    assert document.data == broken_manifest
    assert document.origin.endswith("!arcpkg-0.3.0/src/arcpkg/fleetprompt.json")
    result = run_cli("validate", "--format", "json", str(sdist))
    assert result.exit_code == 1, result.output
    [target] = json.loads(result.output)["results"]
    assert {(p["code"], p["path"]) for p in target["problems"]} == {
        ("invalid-version", "version"),
        ("signal-outside-namespace", "signals.emits[0].type"),
    }
    assert target["file"] == str(sdist)


def test_wheel_is_read_from_its_package_folder_not_dist_info(
    make_package: Callable[..., Path],
    broken_manifest: dict,
    tmp_path: Path,
    run_cli: Callable[..., Result],
) -> None:
    wheel = assemble_wheel(
        make_package("arcpkg", manifest=broken_manifest), tmp_path / "dist", "arcpkg"
    )
    document = from_path(wheel)
    assert document.origin == f"{wheel}!arcpkg/fleetprompt.json"
    result = run_cli("validate", str(wheel))
    assert result.exit_code == 1
    assert "[invalid-version] version" in result.output


def test_valid_sdist_and_wheel_pass_together(
    make_package: Callable[..., Path], tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root = make_package("arcpkg")
    sdist = build_sdist(root, tmp_path / "sdist")
    wheel = assemble_wheel(root, tmp_path / "wheel", "arcpkg")
    result = run_cli("validate", str(sdist), str(wheel), str(root))
    assert result.exit_code == 0, result.output
    assert result.output.count("ok  arcpkg 0.3.0") == 3


@pytest.mark.parametrize("suffix", [".whl", ".tar.gz"])
def test_corrupt_archive_is_a_problem_not_a_crash(
    suffix: str, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    archive = tmp_path / f"broken-1.0{suffix}"
    archive.write_bytes(b"\x1f\x8bnot really an archive")
    with pytest.raises(ManifestError) as raised:
        from_path(archive)
    assert raised.value.code == "archive-invalid"
    result = run_cli("validate", str(archive))
    assert result.exit_code == 1 and "[archive-invalid]" in result.output


def test_archive_without_a_manifest_is_reported(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    sdist = tmp_path / "empty-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        readme = tmp_path / "README"
        readme.write_text("nothing here")
        tf.add(readme, "empty-1.0/README")
    result = run_cli("validate", "--format", "json", str(sdist))
    assert result.exit_code == 1
    [target] = json.loads(result.output)["results"]
    assert target["problems"][0]["code"] == "manifest-not-found"


def test_sdist_manifest_under_tests_folder_is_ignored(tmp_path: Path) -> None:
    sdist = tmp_path / "pkg-1.0.tar.gz"
    manifest = tmp_path / "fleetprompt.json"
    manifest.write_text("{}")
    with tarfile.open(sdist, "w:gz") as tf:
        tf.add(manifest, "pkg-1.0/tests/fixture/fleetprompt.json")
        tf.add(manifest, "pkg-1.0/src/pkg/fleetprompt.json")
    assert from_path(sdist).origin.endswith("pkg-1.0/src/pkg/fleetprompt.json")
