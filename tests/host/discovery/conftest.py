"""Real installed distributions for the discovery tests.

``installed_site`` builds a wheel from every directory under ``distributions/`` and
installs them all with ``pip install --target`` into a temporary site directory, so the
tests exercise the same ``.dist-info`` layout (METADATA, entry_points.txt, RECORD) that a
real installation produces. ``site_factory`` writes further distributions straight into
a fresh directory (same layout, no pip) for tests that need many of them or fresh module
names.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DISTRIBUTIONS = Path(__file__).parent / "distributions"
#: Module name prefixes of the fixture packages; imports of them are undone after each test.
FIXTURE_PREFIXES = ("fpdisc_", "fpsyn_")
DIST_INFO_FILES = ("METADATA", "entry_points.txt")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _metadata_field(metadata: str, key: str) -> str:
    match = re.search(rf"^{key}: (.+)$", metadata, re.MULTILINE)
    assert match, f"METADATA lacks {key}"
    return match.group(1).strip()


def build_wheel(source: Path, out: Path) -> Path:
    """Build a pure-Python wheel from a fixture directory (METADATA, entry_points.txt, code)."""
    metadata = (source / "METADATA").read_text()
    stem = f"{_metadata_field(metadata, 'Name').replace('-', '_')}-"
    stem += _metadata_field(metadata, "Version")
    dist_info = f"{stem}.dist-info"
    wheel_path = out / f"{stem}-py3-none-any.whl"
    records: list[str] = []
    with zipfile.ZipFile(wheel_path, "w") as archive:

        def add(name: str, data: bytes) -> None:
            archive.writestr(name, data)
            records.append(_record_line(name, data))

        for file in sorted(source.rglob("*")):
            rel = file.relative_to(source)
            if file.is_dir() or "__pycache__" in rel.parts or rel.as_posix() in DIST_INFO_FILES:
                continue
            add(rel.as_posix(), file.read_bytes())
        for name in DIST_INFO_FILES:
            add(f"{dist_info}/{name}", (source / name).read_bytes())
        wheel_meta = "Wheel-Version: 1.0\nGenerator: fleetprompt-tests\n"
        wheel_meta += "Root-Is-Purelib: true\nTag: py3-none-any\n"
        add(f"{dist_info}/WHEEL", wheel_meta.encode())
        archive.writestr(f"{dist_info}/RECORD", "\n".join([*records, f"{dist_info}/RECORD,,"]))
    return wheel_path


@pytest.fixture(scope="session")
def installed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding every fixture distribution, installed by pip."""
    wheels = tmp_path_factory.mktemp("wheels")
    site = tmp_path_factory.mktemp("site")
    built = [str(build_wheel(d, wheels)) for d in sorted(DISTRIBUTIONS.iterdir()) if d.is_dir()]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(site),
            *built,
        ],
        check=True,
        capture_output=True,
    )
    return site


@dataclass
class SiteFactory:
    """Writes installed distributions (code, manifest, ``.dist-info``) into one directory."""

    path: Path
    modules: list[str] = field(default_factory=list)

    def add(
        self,
        module: str,
        manifest: dict[str, Any] | None,
        code: str,
        *,
        target: str = "package",
        entry_point: str | None = None,
        distribution: str | None = None,
        version: str = "0.1.0",
    ) -> None:
        """Install a one-module distribution whose entry point is ``module:target``."""
        dist_name = distribution or module.replace("_", "-")
        files: dict[str, bytes] = {f"{module}/__init__.py": code.encode()}
        if manifest is not None:
            files[f"{module}/fleetprompt.json"] = json.dumps(manifest).encode()
        value = f"{module}:{target}" if target else module
        dist_info = f"{dist_name.replace('-', '_')}-{version}.dist-info"
        files[f"{dist_info}/METADATA"] = (
            f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n".encode()
        )
        files[f"{dist_info}/entry_points.txt"] = (
            f"[fleetprompt.packages]\n{entry_point or module} = {value}\n".encode()
        )
        files[f"{dist_info}/INSTALLER"] = b"fleetprompt-tests\n"
        records = [_record_line(name, data) for name, data in files.items()]
        files[f"{dist_info}/RECORD"] = "\n".join([*records, f"{dist_info}/RECORD,,"]).encode()
        for name, data in files.items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_bytes(data)
        self.modules.append(module)


@pytest.fixture
def site_factory(tmp_path: Path) -> SiteFactory:
    """An empty site directory to install synthetic distributions into."""
    site = tmp_path / "site"
    site.mkdir()
    return SiteFactory(site)


def minimal_manifest(name: str, **extra: Any) -> dict[str, Any]:
    """Return the smallest valid manifest for ``name``, with ``extra`` fields merged in."""
    return {"name": name, "version": "0.1.0", "display_name": name.title(), **extra}


@pytest.fixture
def manifest_for() -> Callable[..., dict[str, Any]]:
    """Builder of minimal valid manifests (fixtures are the way to share helpers here)."""
    return minimal_manifest


@pytest.fixture(autouse=True)
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what discovery did to the interpreter: sys.path entries and fixture imports."""
    monkeypatch.delenv("FLEETPROMPT_PACKAGES", raising=False)
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m.startswith(FIXTURE_PREFIXES)]:
        del sys.modules[name]
    importlib.invalidate_caches()


def fixture_modules_imported() -> list[str]:
    """Return the fixture modules currently imported."""
    return sorted(m for m in sys.modules if m.startswith(FIXTURE_PREFIXES))


@pytest.fixture
def imported() -> Callable[[], list[str]]:
    """Return a function listing the fixture packages imported so far."""
    return fixture_modules_imported
