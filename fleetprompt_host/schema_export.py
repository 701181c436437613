"""Write the generated manifest artifacts: ``schemas/manifest.schema.json`` and the field
tables of ``docs/manifest.md``, both from the pydantic model.

Usage::

    python -m fleetprompt_host.schema_export           # rewrite both
    python -m fleetprompt_host.schema_export --check   # exit 1 when either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from fleetprompt_sdk.manifest import manifest_json_schema

from .manifest_reference import render_document

SCHEMA_PATH = Path("schemas") / "manifest.schema.json"
REFERENCE_PATH = Path("docs") / "manifest.md"


@dataclass(frozen=True)
class Artifact:
    """A generated file: where it lives and the text it should have."""

    path: Path
    expected: str

    def current(self) -> str | None:
        """Return the file's text, or None when it does not exist."""
        return self.path.read_text(encoding="utf-8") if self.path.is_file() else None

    @property
    def stale(self) -> bool:
        """True when the file is missing or differs from what the model generates."""
        return self.current() != self.expected


def schema_text() -> str:
    """Return the manifest JSON Schema exactly as it is committed."""
    return json.dumps(manifest_json_schema(), indent=2, ensure_ascii=False) + "\n"


def default_root() -> Path:
    """Return the source checkout holding this module, else the working directory."""
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def artifacts(root: Path) -> list[Artifact]:
    """Return the generated files under ``root`` with their expected contents.

    Raises ValueError when docs/manifest.md exists but lost its generated-table markers.
    """
    schema = manifest_json_schema()
    reference = root / REFERENCE_PATH
    current = reference.read_text(encoding="utf-8") if reference.is_file() else None
    found = [Artifact(root / SCHEMA_PATH, schema_text())]
    if current is not None:
        found.append(Artifact(reference, render_document(current, schema)))
    return found


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the generated artifacts; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m fleetprompt_host.schema_export")
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument("--root", type=Path, default=None, help="checkout root (default: auto)")
    args = parser.parse_args(argv)
    root = args.root or default_root()
    try:
        found = artifacts(root)
    except ValueError as exc:
        print(f"error: {root / REFERENCE_PATH}: {exc}", file=sys.stderr)
        return 2
    stale = [a for a in found if a.stale]
    if args.check:
        for artifact in stale:
            print(f"stale: {artifact.path} (run python -m fleetprompt_host.schema_export)")
        return 1 if stale else 0
    for artifact in stale:
        artifact.path.parent.mkdir(parents=True, exist_ok=True)
        artifact.path.write_text(artifact.expected, encoding="utf-8")
        print(f"wrote {artifact.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
