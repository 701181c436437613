"""Keep the ``tools`` section of each example package's manifest equal to its code.

Usage::

    python example_packages/sync_tools.py            # rewrite every manifest's tools
    python example_packages/sync_tools.py --check    # exit 1 if one is stale or invalid
    python example_packages/sync_tools.py example_packages/crm

Each package is imported in its own subprocess with its source directory first on
``sys.path``, so two versions of one distribution (``helpdesk`` and ``helpdesk_v1``)
can be checked side by side whichever one is installed. ``fleetprompt tools sync`` does
the same job for any package; this script exists only for the examples.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_DUMP_TOOLS = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module = importlib.import_module(sys.argv[2])
if not module.__file__.startswith(sys.argv[1].rstrip('/') + '/'):
    raise SystemExit(f"imported {module.__file__}, not the copy in {sys.argv[1]}")
tools = module.package.fleetprompt_tools()
print(json.dumps([t.to_spec().model_dump(mode="json", by_alias=True) for t in tools]))
"""


def package_dirs() -> list[Path]:
    """Return the example package directories (those holding a ``pyproject.toml``)."""
    return sorted(p.parent for p in HERE.glob("*/pyproject.toml"))


def manifest_path(directory: Path) -> Path:
    """Return the manifest inside the package directory's one ``fleetprompt_*`` module."""
    found = sorted(directory.glob("fleetprompt_*/fleetprompt.json"))
    if len(found) != 1:
        raise SystemExit(f"{directory}: expected one fleetprompt_*/fleetprompt.json, found {found}")
    return found[0]


def generated_tools(directory: Path, module: str) -> list[dict[str, object]]:
    """Import ``module`` from ``directory`` in a subprocess and return its tool specs."""
    out = subprocess.run(
        [sys.executable, "-c", _DUMP_TOOLS, str(directory), module],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{directory}: importing {module} failed:\n{out.stderr}")
    tools: list[dict[str, object]] = json.loads(out.stdout)
    return tools


def problems_of(data: object, origin: str) -> list[str]:
    """Return the validator's findings for a manifest document, as printable lines."""
    from fleetprompt_host.validation import validate_document

    return [str(p) for p in validate_document(data, origin).problems]


def sync(directory: Path, *, check: bool) -> bool:
    """Sync (or with ``check`` only compare) one package; return True when it is in order."""
    path = manifest_path(directory)
    data = json.loads(path.read_text(encoding="utf-8"))
    tools = generated_tools(directory, path.parent.name)
    stale = data.get("tools") != tools
    if stale and not check:
        data["tools"] = tools
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path}: tools updated")
    elif stale:
        print(f"{path}: tools section differs from the code; run sync_tools.py")
    problems = problems_of(data, str(path))
    for problem in problems:
        print(f"{path}: {problem}")
    return not problems and not (stale and check)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="package directories (default: all)")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    dirs = [d.resolve() for d in args.dirs] or package_dirs()
    results = [sync(d, check=args.check) for d in dirs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
