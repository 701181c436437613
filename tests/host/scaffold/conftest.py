"""A fresh virtualenv that sees this environment's packages, for scaffolded packages."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest


class FreshVenv:
    """A new virtualenv layered over the running environment's site-packages.

    What gets installed into it stays in it; FleetPrompt and its dependencies come from
    the environment running the tests (through a ``site.addsitedir`` line, so editable
    installs there work too), which keeps the test off the network.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        venv.EnvBuilder(with_pip=True).create(root)
        purelib = Path(
            subprocess.run(
                [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        parents = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        lines = [f"import site; site.addsitedir({p!r})" for p in sorted(parents)]
        (purelib / "zz_parent_environment.pth").write_text("\n".join(lines) + "\n")

    @property
    def bin(self) -> Path:
        """The directory holding the venv's executables."""
        return self.root / "bin"

    @property
    def python(self) -> str:
        """The venv's interpreter."""
        return str(self.root / "bin" / "python")

    def env(self) -> dict[str, str]:
        """Environment for commands run 'inside' the venv (as after activating it)."""
        env = dict(os.environ)
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        env["VIRTUAL_ENV"] = str(self.root)
        # Offline: build with what is installed rather than a fresh isolated build env.
        env["PIP_NO_BUILD_ISOLATION"] = "0"
        env["PIP_NO_DEPS"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env.pop("PYTHONPATH", None)
        return env

    def run(self, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a bash script in the venv; return the finished process."""
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.fixture
def fresh_venv(tmp_path: Path) -> FreshVenv:
    """A new virtualenv in a temporary directory."""
    assert sys.prefix  # the parent environment must be a real interpreter
    return FreshVenv(tmp_path / "venv")
