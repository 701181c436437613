"""Reading a manifest without importing the package: from a source tree, a manifest file,
a wheel, an sdist, or an installed distribution.
"""

from __future__ import annotations

import json
import os
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path

from fleetprompt_sdk.errors import ManifestError
from fleetprompt_sdk.manifest import MANIFEST_FILENAME

#: Directories never searched for a manifest inside a source tree.
_SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__", "tests"}
MAX_MANIFEST_BYTES = 1_000_000


@dataclass(frozen=True)
class ManifestDocument:
    """Raw manifest JSON and where it came from (for messages).

    ``file`` is the file on disk that holds the manifest (the archive, for wheels and
    sdists) and ``text`` the manifest's JSON text, for pointing problems at lines.
    """

    data: object
    origin: str
    file: Path | None = None
    text: str | None = None


def _parse(raw: bytes, origin: str, file: Path | None = None) -> ManifestDocument:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{origin}: manifest is larger than {MAX_MANIFEST_BYTES} bytes",
            code="manifest-too-large",
        )
    try:
        text = raw.decode("utf-8-sig")
        return ManifestDocument(data=json.loads(text), origin=origin, file=file, text=text)
    except RecursionError:
        raise ManifestError(f"{origin}: JSON nested too deeply", code="manifest-not-json") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{origin}: not UTF-8 ({exc.reason})", code="manifest-not-json"
        ) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{origin}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            code="manifest-not-json",
        ) from None


def _pick(candidates: list[str], origin: str) -> str:
    """Choose the one manifest of an archive or tree: the shallowest, and only one of it."""
    if not candidates:
        raise ManifestError(f"{origin}: no {MANIFEST_FILENAME} found", code="manifest-not-found")
    depth = min(c.count("/") for c in candidates)
    shallow = sorted(c for c in candidates if c.count("/") == depth)
    if len(shallow) > 1:
        raise ManifestError(
            f"{origin}: several manifests found ({', '.join(shallow)}); a package ships one",
            code="manifest-ambiguous",
        )
    return shallow[0]


def _skipped(directory: str) -> bool:
    return directory in _SKIP_DIRS or directory.endswith(".egg-info") or directory.startswith(".")


def from_directory(path: Path) -> ManifestDocument:
    """Find the manifest inside a package source tree (``src/`` layouts included)."""
    found: list[str] = []
    # Walk with pruning: a source tree may hold a virtualenv or build output that a
    # plain recursive glob would crawl through in full.
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        if MANIFEST_FILENAME in files:
            found.append((Path(folder) / MANIFEST_FILENAME).relative_to(path).as_posix())
    chosen = _pick(found, str(path))
    return _parse((path / chosen).read_bytes(), str(path / chosen), path / chosen)


def from_wheel(path: Path) -> ManifestDocument:
    """Read the manifest from a ``.whl`` without extracting or importing anything."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [
                n
                for n in zf.namelist()
                if n.rsplit("/", 1)[-1] == MANIFEST_FILENAME and ".dist-info/" not in n
            ]
            chosen = _pick(names, str(path))
            return _parse(zf.read(chosen), f"{path}!{chosen}", path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ManifestError(
            f"{path}: not a valid wheel ({exc or type(exc).__name__})", code="archive-invalid"
        ) from None


def from_sdist(path: Path) -> ManifestDocument:
    """Read the manifest from a ``.tar.gz`` source distribution."""
    try:
        with tarfile.open(path, "r:*") as tf:
            members = {
                m.name: m
                for m in tf.getmembers()
                if m.isfile()
                and m.name.rsplit("/", 1)[-1] == MANIFEST_FILENAME
                and not any(part in _SKIP_DIRS for part in m.name.split("/")[1:-1])
            }
            chosen = _pick(list(members), str(path))
            handle = tf.extractfile(members[chosen])
            if handle is None:
                raise ManifestError(f"{path}!{chosen}: unreadable", code="archive-invalid")
            return _parse(handle.read(), f"{path}!{chosen}", path)
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise ManifestError(f"{path}: not a valid sdist ({exc})", code="archive-invalid") from None


def from_path(path: Path) -> ManifestDocument:
    """Read a manifest from a directory, a manifest file, a wheel or an sdist."""
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory", code="path-not-found")
    if path.is_dir():
        return from_directory(path)
    name = path.name
    if name.endswith(".whl"):
        return from_wheel(path)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return from_sdist(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(
            f"{path}: cannot be read ({exc.strerror})", code="manifest-unreadable"
        ) from None
    return _parse(raw, str(path), path)


def from_distribution(dist: Distribution, module: str) -> ManifestDocument:
    """Read the manifest of an installed distribution whose entry point lives in ``module``.

    The distribution's file list is used, so the package's code is not imported; an
    editable install (no file list entry) falls back to the module's source directory.
    """
    top = module.split(".")[0]
    origin = f"distribution {dist.metadata['Name']}"
    candidates = [
        f
        for f in (dist.files or [])
        if f.name == MANIFEST_FILENAME and f.parts and f.parts[0] == top
    ]
    if candidates:
        chosen = sorted(candidates, key=lambda f: len(f.parts))[0]
        return _parse(Path(str(dist.locate_file(chosen))).read_bytes(), f"{origin} ({chosen})")
    from importlib.util import find_spec

    # Editable installs list no module files; locating the spec does not execute the
    # package's code for a top-level package (only its parents, of which there are none).
    spec = find_spec(top)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            manifest = Path(location) / MANIFEST_FILENAME
            if manifest.is_file():
                return _parse(manifest.read_bytes(), f"{origin} ({manifest})")
    raise ManifestError(
        f"{origin}: module {top!r} ships no {MANIFEST_FILENAME}", code="manifest-not-found"
    )
