"""Fixtures for the validator tests: a valid manifest and tmp package source trees.

``make_package`` writes a real, importable package (src layout, pyproject with a
``fleetprompt.packages`` entry point) whose code and manifest a test chooses, so drift,
``tools sync`` and archive builds run against packages that exist only for that test.
"""

from __future__ import annotations

import copy
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fleetprompt_host.cli.main import cli

HERE = Path(__file__).parent
VALID_MANIFEST = HERE / "fixtures" / "valid_manifest.json"
CORPUS = HERE / "corpus"

#: A package whose code agrees with MATCHING_MANIFEST (see test_code_drift, test_tools_sync).
PACKAGE_CODE = '''
from fleetprompt_sdk import Package

package = Package("{name}")


@package.tool
def search_notes(ctx, query: str, limit: int = 10) -> list:
    """Search notes.

    Args:
        query: Words to look for.
        limit: At most this many notes.
    """
    return []


@package.tool(effect="write", directive="{name}.note.create", requires_confirmation=True)
def add_note(ctx, text: str) -> dict:
    """Add a note."""
    return dict(text=text)


@package.directive("{name}.note.create")
def create_note(ctx, directive):
    return None


@package.on_signal("on_contact_created")
def on_contact_created(ctx, signal):
    return None
'''


def package_manifest(name: str) -> dict[str, Any]:
    """Return a manifest that matches PACKAGE_CODE except for its tools section."""
    return {
        "manifest_version": 1,
        "name": name,
        "version": "0.3.0",
        "display_name": "Notes",
        "permissions": [
            "records:read",
            "directives:request",
            "directives:handle",
            "signals:subscribe",
        ],
        "directives": [{"type": f"{name}.note.create", "params": {"type": "object"}}],
        "signals": {"subscribes": [{"handler": "on_contact_created", "pattern": "crm.contact.*"}]},
        "tools": [],
    }


@pytest.fixture(name="package_manifest")
def package_manifest_fixture() -> Callable[[str], dict[str, Any]]:
    """``package_manifest(name)``: a manifest matching PACKAGE_CODE, tools left empty."""
    return package_manifest


@pytest.fixture
def package_code() -> str:
    """The module code of the tmp packages (``{name}`` is the package name)."""
    return PACKAGE_CODE


@pytest.fixture
def valid_manifest() -> dict[str, Any]:
    """A manifest that uses every section and passes every rule (a fresh copy)."""
    return copy.deepcopy(json.loads(VALID_MANIFEST.read_text()))


PackageFactory = Callable[..., Path]


@pytest.fixture
def make_package(tmp_path: Path) -> Iterator[PackageFactory]:
    """Write a package source tree under tmp_path; return its root directory.

    ``make_package(name, code=..., manifest=..., manifest_text=...)``: ``code`` is the
    module's ``__init__.py`` (``{name}`` is substituted), ``manifest`` a dict written as
    JSON, or ``manifest_text`` written verbatim.
    """
    created: list[str] = []

    def make(
        name: str,
        code: str = PACKAGE_CODE,
        manifest: dict[str, Any] | None = None,
        manifest_text: str | None = None,
    ) -> Path:
        root = tmp_path / f"{name}-src"
        module = root / "src" / name
        module.mkdir(parents=True)
        (module / "__init__.py").write_text(textwrap.dedent(code).replace("{name}", name))
        text = manifest_text
        if text is None:
            text = json.dumps(manifest or package_manifest(name), indent=2) + "\n"
        (module / "fleetprompt.json").write_text(text)
        (root / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""
                [build-system]
                requires = ["setuptools>=65"]
                build-backend = "setuptools.build_meta"

                [project]
                name = "{name}"
                version = "0.3.0"

                [project.entry-points."fleetprompt.packages"]
                {name} = "{name}:package"

                [tool.setuptools.package-data]
                {name} = ["fleetprompt.json"]
                """
            )
        )
        created.append(name)
        return root

    yield make
    for name in created:
        sys.modules.pop(name, None)


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the ``fleetprompt`` click group in-process; returns click's Result."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=True)

    return run
