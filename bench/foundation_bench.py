"""Foundation benchmarks: manifest validation, package discovery, CLI cold start.

Each figure is printed next to a baseline measured in the same run:
- validating a manifest with 200 tools vs. a bare jsonschema validation of the document,
  once with 200 identical tool schemas and once with 200 different ones (target <= 3x);
- discovering 50 installed packages vs. a bare ``importlib.metadata.entry_points()`` scan;
- ``fleetprompt --help`` cold start vs. ``python -c "import click"`` (target ratio <= 2).
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import report, timeit


def manifest_with_tools(count: int) -> dict[str, object]:
    """Return a valid manifest document declaring ``count`` tools."""
    tool = {
        "name": "tool",
        "description": "Look something up.",
        "effect": "read",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    }
    tools = []
    for i in range(count):
        t = copy.deepcopy(tool)
        t["name"] = f"tool_{i}"
        tools.append(t)
    return {
        "manifest_version": 1,
        "name": "bench",
        "version": "1.0.0",
        "display_name": "Bench",
        "permissions": ["records:read"],
        "tools": tools,
    }


def distinct_parameters(i: int) -> dict[str, object]:
    """Return tool ``i``'s parameters: a schema of its own, with everyday keywords."""
    kinds: list[dict[str, object]] = [
        {"type": "string", "minLength": 1, "maxLength": 40 + i},
        {"type": "integer", "minimum": 0, "maximum": 1000 + i, "default": i % 50},
        {"type": "string", "enum": [f"mode_{i}", "fast", "slow"], "default": "fast"},
        {"type": "array", "items": {"type": "string", "pattern": f"^[a-z]{{1,{i % 9 + 1}}}$"}},
        {"type": ["string", "null"], "format": "date-time"},
        {"$ref": "#/$defs/Address"},
        {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5},
        {"type": "boolean", "default": bool(i % 2)},
    ]
    properties = {
        f"field_{i}_{k}": {**kinds[(i + k) % len(kinds)], "description": f"Field {k} of tool {i}."}
        for k in range(4 + i % 5)
    }
    return {
        "type": "object",
        "description": f"Arguments of tool {i}.",
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["street"],
                "additionalProperties": False,
            }
        },
        "properties": properties,
        "required": sorted(properties)[:2],
        "additionalProperties": False,
    }


def manifest_with_distinct_tools(count: int) -> dict[str, object]:
    """Return a valid manifest whose ``count`` tools each have different parameters."""
    doc = manifest_with_tools(count)
    tools: list[dict[str, object]] = doc["tools"]  # type: ignore[assignment]
    for i, tool in enumerate(tools):
        tool["parameters"] = distinct_parameters(i)
    return doc


def bench_validation(quick: bool) -> None:
    from jsonschema import Draft202012Validator

    from fleetprompt_host.validation import validate_document
    from fleetprompt_sdk.manifest import manifest_json_schema

    validator = Draft202012Validator(manifest_json_schema())
    repeat = 5 if quick else 30
    cases = (
        ("validate manifest, 200 tools", manifest_with_tools(200)),
        ("validate manifest, 200 distinct tools", manifest_with_distinct_tools(200)),
    )
    for name, doc in cases:
        report_ = validate_document(doc)
        assert report_.ok, report_.problems
        ours_once = functools.partial(validate_document, doc)
        bare_once = functools.partial(lambda d: list(validator.iter_errors(d)), doc)
        # Interleaved, so that load from elsewhere on the machine slows both alike.
        samples = [
            (timeit(ours_once, repeat=1, warmup=0), timeit(bare_once, repeat=1, warmup=0))
            for _ in range(repeat)
        ]
        ours = statistics.median(s for s, _ in samples)
        bare = statistics.median(b for _, b in samples)
        report(name, ours, "bare jsonschema", bare, target="<= 3x")


def _write_fake_distribution(site: Path, index: int) -> None:
    name = f"fpbench_pkg{index}"
    module = site / name
    module.mkdir()
    (module / "__init__.py").write_text(
        f"from fleetprompt_sdk import Package\npackage = Package('bench{index}')\n"
    )
    manifest = {"name": f"bench{index}", "version": "1.0.0", "display_name": f"Bench {index}"}
    (module / "fleetprompt.json").write_text(json.dumps(manifest))
    info = site / f"{name}-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text(
        f"[fleetprompt.packages]\nbench{index} = {name}:package\n"
    )
    (info / "RECORD").write_text(
        f"{name}/__init__.py,,\n{name}/fleetprompt.json,,\n{info.name}/METADATA,,\n"
    )


def bench_discovery(quick: bool) -> None:
    try:
        from fleetprompt_host import discovery
    except ImportError:
        print("discovery: not available yet, skipped")
        return
    from importlib.metadata import distributions

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        for i in range(50):
            _write_fake_distribution(site, i)
        sys.path.insert(0, str(site))
        try:

            def bare() -> None:
                found = [
                    ep
                    for dist in distributions(path=[str(site)])
                    for ep in dist.entry_points
                    if ep.group == "fleetprompt.packages"
                ]
                assert len(found) == 50

            def ours() -> None:
                registry = discovery.discover(path=[str(site)])
                assert len(registry.packages) == 50, registry.broken

            repeat = 3 if quick else 10
            report(
                "discover 50 installed packages",
                timeit(ours, repeat=repeat),
                "bare entry_points scan",
                timeit(bare, repeat=repeat),
            )
        finally:
            sys.path.remove(str(site))


def bench_cold_start(quick: bool) -> None:
    repeat = 3 if quick else 10
    help_cmd = [sys.executable, "-m", "fleetprompt_host", "--help"]
    click_cmd = [sys.executable, "-c", "import click"]

    def run(cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    ours = timeit(lambda: run(help_cmd), repeat=repeat)
    bare = timeit(lambda: run(click_cmd), repeat=repeat)
    report("fleetprompt --help cold start", ours, "python -c 'import click'", bare, target="<= 2x")


def main() -> None:
    """Run the foundation benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run")
    args = parser.parse_args()
    bench_validation(args.quick)
    bench_discovery(args.quick)
    bench_cold_start(args.quick)


if __name__ == "__main__":
    main()
