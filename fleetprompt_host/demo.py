"""The guided demo behind ``fleetprompt demo``: the core loop, end to end, on one tenant.

It creates a tenant, installs the example packages (helpdesk with a secret in its
config), calls read and write tools the way a model would, lets signals fan out to
handlers, and prints the audit timeline of each unit of work. With a model configured it
also runs one chat turn. Running it again is safe: every step is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetprompt_sdk.errors import ConflictError, FleetPromptError

from .host import Host

Say = Callable[[str], None]
DEMO_PACKAGES = ("crm", "helpdesk", "forums")
#: A made-up credential: the demo shows that it is stored encrypted and never echoed.
DEMO_SECRET = "demo-webhook-token-7f3a"


@dataclass
class DemoReport:
    """What the demo did, for callers and tests."""

    tenant: str
    installed: list[str] = field(default_factory=list)
    correlations: list[str] = field(default_factory=list)
    chat_text: str | None = None


def _timeline(host: Host, tenant: str, correlation_id: str, say: Say) -> None:
    from fleetprompt_host.engine.audit import timeline

    with host.db.tenant_session(tenant, readonly=True) as session:
        entries = timeline(session, correlation_id=correlation_id)
    for entry in entries:
        say(f"      {entry.at:%H:%M:%S.%f}"[:-3] + f"  {entry.title}")


def _tool(host: Host, tenant: str, name: str, args: dict[str, Any], say: Say) -> Any:
    outcome = host.call_tool(tenant, name, args, run_inline=True)
    if not outcome.ok:
        raise FleetPromptError(f"demo: {name} failed: {outcome.error}", code="demo-failed")
    if outcome.directive is not None:
        d = outcome.directive
        say(f"  {name}: directive {d['type']} {d['status']}")
    else:
        count = len(outcome.output) if isinstance(outcome.output, list) else 1
        say(f"  {name}: {count} result(s)")
    return outcome


def run_demo(
    host: Host,
    tenant: str,
    say: Say,
    *,
    model: str | None = None,
    api_base: str | None = None,
) -> DemoReport:
    """Run the demo in ``tenant`` (created if missing) and narrate it through ``say``."""
    report = DemoReport(tenant=tenant)
    missing = [p for p in DEMO_PACKAGES if p not in host.registry.names()]
    if missing:
        raise FleetPromptError(
            f"demo needs the example packages {', '.join(missing)}: pip install -e "
            + " ".join(f"example_packages/{p}" for p in missing),
            code="demo-packages-missing",
        )
    say(f"1. tenant {tenant}")
    try:
        host.create_tenant(tenant, "Acme Inc." if tenant == "acme" else None)
        say("   created; you are its owner")
    except ConflictError:
        say("   exists already; reusing it")

    say("2. install packages (each install is a package.install directive)")
    configs: dict[str, dict[str, Any]] = {"helpdesk": {"webhook_token": DEMO_SECRET}}
    for package in DEMO_PACKAGES:
        host.install(tenant, package, configs.get(package), with_deps=True)
        report.installed.append(package)
        say(f"   {package}: installed")
    say(f"   tools offered: {len(host.tools(tenant))}")

    say("3. tools, as a model would call them")
    found = _tool(host, tenant, "crm__search_contacts", {"query": "ada@example.com"}, say)
    if found.output:
        say("   Ada is a contact already (an earlier demo run)")
    else:
        created = _tool(
            host,
            tenant,
            "crm__create_contact",
            {"name": "Ada Lovelace", "email": "ada@example.com"},
            say,
        )
        report.correlations.append(created.correlation_id)
        say("   crm.contact.created fans out to helpdesk's welcome_ticket handler:")
        runs = host.run_until_idle(tenant)
        say(f"   {runs} more run(s) until idle")
    _tool(host, tenant, "helpdesk__list_tickets", {}, say)
    threads = _tool(host, tenant, "forums__list_threads", {}, say)
    if not any(t.get("title") == "Welcome Ada" for t in threads.output or []):
        thread = _tool(
            host,
            tenant,
            "forums__create_thread",
            {"category": "general", "title": "Welcome Ada", "body": "Say hello to Ada."},
            say,
        )
        report.correlations.append(thread.correlation_id)

    say("4. audit: the story of each unit of work")
    if not report.correlations:
        say("   nothing new this run; see fleetprompt audit --tenant " + tenant)
    for correlation in report.correlations:
        say(f"   correlation {correlation}")
        _timeline(host, tenant, correlation, say)

    if model:
        say(f"5. chat with {model}")
        result = host.chat(tenant, "Which contacts do we have?", model=model, api_base=api_base)
        report.chat_text = result.text
        say(f"   assistant: {result.text}" if result.ok else f"   chat failed: {result.error}")
    else:
        say("5. chat: set FLEETPROMPT_MODEL (and --api-base) to add a chat turn")
    say(
        f"done. Explore: fleetprompt audit --tenant {tenant} --subject contact:<key>, "
        f"fleetprompt signals list --tenant {tenant}, fleetprompt chat --tenant {tenant}"
    )
    return report
