"""The tutorial in docs/ is followed literally: scaffold, install, test, validate."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import FreshVenv

TUTORIAL = Path(__file__).resolve().parents[3] / "docs" / "tutorial.md"


def tutorial_commands() -> list[str]:
    """Return the tutorial's ```bash blocks, in order."""
    return re.findall(r"```bash\n(.*?)```", TUTORIAL.read_text(), flags=re.S)


def test_the_tutorial_has_the_steps_a_package_author_needs() -> None:
    script = "\n".join(tutorial_commands())
    for step in ("fleetprompt new", "pip install -e .", "python -m pytest", "validate"):
        assert step in script


def test_following_the_tutorial_in_a_fresh_venv_gives_a_tested_valid_package(
    fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = "\n".join(tutorial_commands())

    done = fresh_venv.run(script, cwd=work)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 passed" in done.stdout
    assert "1 valid, 0 invalid" in done.stdout
    # The package went into the fresh venv only, not into the environment running this.
    listed = fresh_venv.run("pip list --format=freeze", cwd=work).stdout
    assert "fleetprompt-notes" in listed
