"""Finding the importable module that ships a manifest, without importing it.

The drift check and ``tools sync`` import a package in a subprocess; this module works
out what that subprocess needs: the ``sys.path`` entry, the module's dotted name and, when
an entry point names it, the attribute holding the package object.
"""

from __future__ import annotations

import configparser
import tarfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path, PurePosixPath

from fleetprompt_sdk.errors import ManifestError
from fleetprompt_sdk.manifest import MANIFEST_FILENAME

from .manifest_sources import from_path

ENTRY_POINT_GROUP = "fleetprompt.packages"


@dataclass(frozen=True)
class PackageLocation:
    """How to import the package that holds a manifest."""

    sys_path: str
    module: str
    attr: str | None = None


def _module_of(
    manifest: PurePosixPath, is_package: Callable[[PurePosixPath], bool]
) -> tuple[str, PurePosixPath]:
    """Return ``(dotted module, sys.path folder)`` for a manifest at ``manifest``.

    Climbs while the parent folder is a regular package (has ``__init__.py``), so a
    manifest in ``src/acme/crm/`` gives module ``acme.crm`` importable from ``src``.
    """
    folder = manifest.parent
    parts = [folder.name]
    while folder.parent != folder and is_package(folder.parent):
        folder = folder.parent
        parts.insert(0, folder.name)
    return ".".join(parts), folder.parent


def _attr_from(value: str, module: str) -> str | None:
    """Return the attribute of an entry point ``mod:attr`` when it points into ``module``."""
    target, _, attr = value.partition(":")
    return attr.strip() or None if target.strip() == module else None


def _attr_from_pyproject(root: Path, module: str) -> str | None:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None
    group = data.get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    for value in group.values() if isinstance(group, dict) else []:
        if isinstance(value, str) and (attr := _attr_from(value, module)):
            return attr
    return None


def _attr_from_installed(module: str) -> str | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if attr := _attr_from(ep.value, module):
            return attr
    return None


def _project_root(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def locate_source(manifest_file: Path) -> PackageLocation:
    """Locate the package of a manifest inside a source tree (or a plain manifest file)."""
    manifest_file = manifest_file.resolve()
    module, folder = _module_of(
        PurePosixPath(manifest_file.as_posix()),
        lambda p: (Path(p) / "__init__.py").is_file(),
    )
    project = _project_root(manifest_file.parent)
    attr = (_attr_from_pyproject(project, module) if project else None) or _attr_from_installed(
        module
    )
    return PackageLocation(str(folder), module, attr)


def locate_wheel(wheel: Path) -> PackageLocation:
    """Locate the package inside a pure-Python wheel, which is importable as a zip."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        manifests = [
            n for n in names if n.endswith("/" + MANIFEST_FILENAME) and ".dist-info/" not in n
        ]
        if not manifests:
            raise ManifestError(f"{wheel}: no {MANIFEST_FILENAME} found", code="manifest-not-found")
        chosen = PurePosixPath(min(manifests, key=lambda n: n.count("/")))
        module, _ = _module_of(chosen, lambda p: f"{p}/__init__.py" in names)
        attr = None
        for name in names:
            if name.endswith(".dist-info/entry_points.txt"):
                parser = configparser.ConfigParser(interpolation=None)
                parser.read_string(zf.read(name).decode("utf-8"))
                if parser.has_section(ENTRY_POINT_GROUP):
                    for value in parser[ENTRY_POINT_GROUP].values():
                        attr = attr or _attr_from(value, module)
    return PackageLocation(str(wheel.resolve()), module, attr)


def extract_sdist(sdist: Path, into: Path) -> Path:
    """Extract a source distribution safely into ``into``; return its top folder."""
    with tarfile.open(sdist, "r:*") as tf:
        tf.extractall(into, filter="data")
    tops = [p for p in into.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else into


def locate(path: Path, scratch: Path) -> PackageLocation:
    """Locate the package for any ``validate`` target: a directory, a manifest file, a
    wheel or an sdist (extracted into ``scratch``)."""
    name = path.name
    if path.is_file() and name.endswith(".whl"):
        return locate_wheel(path)
    if path.is_file() and name.endswith((".tar.gz", ".tgz", ".tar")):
        top = extract_sdist(path, scratch)
        document = from_path(top)
    else:
        document = from_path(path)
    if document.file is None:
        raise ManifestError(f"{path}: manifest has no file on disk", code="manifest-not-found")
    return locate_source(document.file)
