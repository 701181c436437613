"""``fleetprompt packages``: the packages installed in this environment and their manifests."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

import click

from fleetprompt_host.discovery import discover
from fleetprompt_host.registry import (
    DISABLED_REASON,
    ENV_VAR,
    BrokenPackage,
    DisabledPackage,
    LoadedPackage,
    Origin,
    PackageStatus,
)
from fleetprompt_sdk.errors import ManifestError, NotFoundError, PackageError
from fleetprompt_sdk.manifest import AgentProfile, Manifest, ToolSpec


@click.group("packages")
def packages() -> None:
    """List and inspect the packages discovered in this environment.

    Packages are installed distributions with an entry point in the group
    ``fleetprompt.packages``. FLEETPROMPT_PACKAGES=crm,helpdesk limits which of them load.
    """


@packages.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_packages(as_json: bool) -> None:
    """List every discovered package with its version, distribution and status.

    Status is ok, broken (with the reason) or disabled (left out by FLEETPROMPT_PACKAGES).
    """
    registry = discover()
    with _package_output_to_stderr():
        rows = registry.statuses()
    for name in registry.not_found:
        click.echo(
            f"warning: {ENV_VAR} names {name!r}, but no installed package has that name",
            err=True,
        )
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    if not rows:
        click.echo("no packages found (no entry points in the group fleetprompt.packages)")
        return
    table = [("NAME", "VERSION", "DISTRIBUTION", "STATUS")]
    table += [(r.name, r.version or "-", _distribution(r.origin), _status(r)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        padded = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*padded, row[3]]))


@contextlib.contextmanager
def _package_output_to_stderr() -> Iterator[None]:
    """Send what package code prints while it loads to stderr, keeping stdout parseable."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _distribution(origin: Origin) -> str:
    if origin.distribution is None:
        return "(registered in code)"
    return f"{origin.distribution} {origin.distribution_version or ''}".rstrip()


def _status(row: PackageStatus) -> str:
    if row.status == "broken":
        return f"broken [{row.code}]: {row.reason}"
    if row.status == "disabled":
        return f"disabled ({DISABLED_REASON})"
    return row.status


@packages.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.pass_context
def show_package(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show package NAME's manifest in readable form.

    Identity, tools (effect, confirmation), permissions, signals emitted and subscribed,
    directives (required role), config (secret fields marked), collections and agents.
    A broken package's reason is shown and the command exits 1.
    """
    name = name.strip().lower()
    with _package_output_to_stderr():
        entry = discover().find(name)
    if entry is None:
        raise NotFoundError(
            f"no package named {name!r} is installed (see `fleetprompt packages list`)",
            code="package-not-found",
        )
    manifest = _manifest_of(entry)
    broken = entry if isinstance(entry, BrokenPackage) else None
    if not as_json:
        for line in _describe(entry, manifest):
            click.echo(line)
    elif manifest is not None:
        if broken is not None:
            click.echo(f"warning: package {name!r} is broken: {broken.reason}", err=True)
        click.echo(json.dumps(manifest.model_dump(mode="json", by_alias=True), indent=2))
    elif broken is not None:
        raise PackageError(
            f"package {name!r} is broken: {broken.reason} [{broken.code}]", code="package-broken"
        )
    if broken is not None:
        ctx.exit(1)


Entry = LoadedPackage | BrokenPackage | DisabledPackage


def _manifest_of(entry: Entry) -> Manifest | None:
    if isinstance(entry, DisabledPackage):
        if entry.read_manifest is None:
            raise ManifestError(
                f"package {entry.name!r} ({DISABLED_REASON}) ships no readable manifest",
                code="manifest-not-found",
            )
        manifest: Manifest = entry.read_manifest()
        return manifest
    return entry.manifest


def _describe(entry: Entry, manifest: Manifest | None) -> list[str]:
    version = manifest.version if manifest else entry.version
    title = f"{entry.name} {version or ''}".rstrip()
    lines = [f"{title} - {manifest.display_name}" if manifest else title]
    if isinstance(entry, BrokenPackage):
        lines.append(f"status: broken [{entry.code}]: {entry.reason}")
        lines += [f"  {problem}" for problem in entry.problems]
    elif isinstance(entry, DisabledPackage):
        lines.append(f"status: disabled ({DISABLED_REASON}; its code is not imported)")
    else:
        lines.append("status: ok")
    lines.append(f"origin: {entry.origin.describe()}")
    if manifest is not None:
        lines += render_manifest(manifest)
    return lines


def render_manifest(manifest: Manifest) -> list[str]:
    """Return the readable form of a manifest, one section per kind of declaration."""
    lines: list[str] = []
    if manifest.description:
        lines += ["", manifest.description]
    identity = [
        ("authors", ", ".join(_author(a.name, a.email) for a in manifest.authors)),
        ("license", manifest.license or ""),
        ("homepage", manifest.homepage or ""),
        ("requires fleetprompt", manifest.requires_fleetprompt),
        ("depends on", ", ".join(f"{d.name}{d.version}" for d in manifest.dependencies)),
    ]
    lines += [f"{label}: {value}" for label, value in identity if value]
    lines += _section("Tools", [_tool_line(t) for t in manifest.tools])
    lines += _section("Permissions", [p.value for p in manifest.permissions])
    lines += _section(
        "Signals emitted",
        [_with_description(s.type, s.description) for s in manifest.signals.emits],
    )
    lines += _section(
        "Subscriptions",
        [
            _with_description(f"{s.handler} <- {s.pattern}", s.description)
            for s in manifest.signals.subscribes
        ],
    )
    lines += _section(
        "Directives",
        [
            _with_description(f"{d.type} (role: {d.required_role.value})", d.description)
            for d in manifest.directives
        ],
    )
    lines += _section("Config", _config_lines(manifest))
    lines += _section(
        "Collections", [_with_description(c.name, c.description) for c in manifest.collections]
    )
    lines += _section("Agents", [_agent_line(a) for a in manifest.agents])
    return lines


def _section(title: str, items: list[str]) -> list[str]:
    return ["", f"{title}:", *(f"  {item}" for item in items)] if items else []


def _author(name: str, email: str | None) -> str:
    return f"{name} <{email}>" if email else name


def _with_description(head: str, description: str) -> str:
    first = description.strip().splitlines()[0] if description.strip() else ""
    return f"{head} - {first}" if first else head


def _tool_line(tool: ToolSpec) -> str:
    flags = [tool.effect.value]
    if tool.directive:
        flags.append(f"directive {tool.directive}")
    if tool.requires_confirmation:
        flags.append("requires confirmation")
    return _with_description(f"{tool.name} [{', '.join(flags)}]", tool.description)


def _agent_line(agent: AgentProfile) -> str:
    extra = [f"tools: {', '.join(agent.tools)}" if agent.tools else "no tools"]
    if agent.model:
        extra.append(f"model: {agent.model}")
    return _with_description(f"{agent.name} ({'; '.join(extra)})", agent.description)


def _config_lines(manifest: Manifest) -> list[str]:
    schema = manifest.config.schema_
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required") or [])
    lines: list[str] = []
    for key, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        flags = [str(spec.get("type", "any"))]
        if key in required:
            flags.append("required")
        if spec.get("secret") is True:
            # A secret's schema default is never echoed: operators copy CLI output around.
            flags.append("secret")
        elif "default" in spec:
            flags.append(f"default {json.dumps(spec['default'])}")
        lines.append(
            _with_description(f"{key} [{', '.join(flags)}]", str(spec.get("description", "")))
        )
    return lines
