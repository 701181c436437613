"""The CLI reference in docs/ is generated from the commands and kept current."""

from __future__ import annotations

from fleetprompt_host.cli import reference


def test_cli_reference_in_docs_is_current() -> None:
    assert reference.DOC_PATH.read_text() == reference.render(), (
        "docs/cli.md is stale: run python -m fleetprompt_host.cli.reference"
    )


def test_reference_documents_every_top_level_command_and_the_exit_codes() -> None:
    text = reference.render()
    for name in reference.main_module.COMMANDS:
        assert f"`fleetprompt {name}`" in text
    assert "| 3 | not found" in text
