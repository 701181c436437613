"""``fleetprompt new``: scaffold a package that installs, tests and validates out of the box."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fleetprompt_host import __version__
from fleetprompt_sdk.errors import ConflictError, InvalidInputError
from fleetprompt_sdk.naming import PACKAGE_NAME_PATTERN

#: Template file (relative to ``templates/``) -> path in the new package.
LAYOUT: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "module/__init__.py.tmpl": "__MODULE__/__init__.py",
    "module/fleetprompt.json.tmpl": "__MODULE__/fleetprompt.json",
    "tests/conftest.py.tmpl": "tests/conftest.py",
    "tests/test_package.py.tmpl": "tests/test___NAME__.py",
    "github/fleetprompt.yml.tmpl": ".github/workflows/fleetprompt.yml",
}


@dataclass(frozen=True)
class Scaffold:
    """What ``new`` created."""

    root: Path
    name: str
    module: str
    distribution: str
    files: list[Path]


def _substitutions(name: str, author: str) -> dict[str, str]:
    return {
        "__NAME__": name,
        "__MODULE__": f"fleetprompt_{name}",
        "__DIST__": f"fleetprompt-{name.replace('_', '-')}",
        "__TITLE__": name.replace("_", " ").title(),
        "__AUTHOR__": author,
        "__FP_VERSION__": __version__,
    }


def _render(text: str, values: dict[str, str]) -> str:
    for token, value in values.items():
        text = text.replace(token, value)
    return text


def scaffold(name: str, parent: Path, *, author: str | None = None, sync: bool = True) -> Scaffold:
    """Create the package ``name`` in ``parent/name``; refuse to overwrite anything.

    With ``sync`` the manifest's tools section is generated from the code, exactly as
    ``fleetprompt tools sync`` would.
    """
    if not re.match(PACKAGE_NAME_PATTERN, name) or "__" in name:
        raise InvalidInputError(
            f"invalid package name {name!r}: use lowercase letters, digits and single "
            f"underscores, starting with a letter ({PACKAGE_NAME_PATTERN})",
            code="invalid-package-name",
        )
    root = parent / name
    if root.exists() and any(root.iterdir()):
        raise ConflictError(f"{root} already exists and is not empty", code="path-exists")
    values = _substitutions(name, author or getpass.getuser())
    templates = resources.files(__package__).joinpath("templates")
    written: list[Path] = []
    for source, target in LAYOUT.items():
        path = root / _render(target, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(templates.joinpath(source).read_text("utf-8"), values), "utf-8")
        written.append(path)
    if sync:
        from fleetprompt_host.tools_sync import sync_tools, write

        write(sync_tools(root))
    return Scaffold(
        root=root,
        name=name,
        module=values["__MODULE__"],
        distribution=values["__DIST__"],
        files=written,
    )
