"""The system prompt: the tenant's installed packages, the agent profile, the ground rules.

Built fresh for every turn (packages may have been installed or disabled since the last
one) and never stored with the conversation's messages; the execution step of each model
call records the prompt that was actually sent.
"""

from __future__ import annotations

from fleetprompt_host.tools.catalog import ToolCatalog
from fleetprompt_sdk.enums import Effect

RULES = """\
Rules:
- Tools are named package__tool. Use read tools to look things up; never invent data a \
tool can read.
- Use a write tool only when the user asks for a change. A write tool does not change \
anything by itself: it requests a directive and returns its id, status and a preview. \
Report the status you get back; a "requested" directive has not run yet.
- Some tools need the user's confirmation; if a call is refused or declined, say so and \
do not retry it with other arguments to get around the refusal.
- When a tool returns an error, read it: fix the arguments and try again, or explain \
what went wrong."""


def system_prompt(catalog: ToolCatalog, tenant_name: str | None = None) -> str:
    """Return the system prompt for a turn with ``catalog``'s tools."""
    parts: list[str] = []
    where = f' for the organisation "{tenant_name}"' if tenant_name else ""
    parts.append(f"You are the FleetPrompt assistant{where} (tenant {catalog.tenant}).")
    if catalog.agent is not None:
        parts.append(f"Agent profile {catalog.agent.name}:\n{catalog.agent.profile.system_prompt}")
    if catalog.manifests:
        lines = ["Installed packages:"]
        for name, manifest in sorted(catalog.manifests.items()):
            summary = manifest.description.strip().splitlines()[0] if manifest.description else ""
            lines.append(
                f"- {name} {manifest.version}: {manifest.display_name}. {summary}".rstrip()
            )
        parts.append("\n".join(lines))
    writes = sorted(n for n, e in catalog.entries.items() if e.effect is Effect.WRITE)
    confirm = sorted(n for n, e in catalog.entries.items() if e.requires_confirmation)
    if writes:
        parts.append("Write tools (only when the user asks for a change): " + ", ".join(writes))
    if confirm:
        parts.append("Tools that need the user's confirmation: " + ", ".join(confirm))
    if not catalog.entries:
        parts.append("No tools are available to you in this tenant; answer from the conversation.")
    parts.append(RULES)
    return "\n\n".join(parts)
