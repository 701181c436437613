"""Pieces of ``engine_bench.py``: the ``fpbench`` package, and the baseline programs (a bare
SKIP LOCKED queue worker, procrastinate's setup and worker) run as separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

MANIFEST = {
    "manifest_version": 1,
    "name": "fpbench",
    "version": "1.0.0",
    "display_name": "Engine bench",
    "description": "No-op and clock directives for the engine benchmarks.",
    "permissions": ["directives:handle", "signals:emit"],
    "signals": {
        "emits": [{"type": "fpbench.thing.happened", "description": "A thing.", "schema": {}}]
    },
    "directives": [
        {"type": "fpbench.noop", "description": "Do nothing.", "params": {"type": "object"}},
        {
            "type": "fpbench.clock",
            "description": "Write the time the handler started to a file.",
            "params": {"type": "object"},
        },
    ],
}

CODE = '''"""Handlers of the engine bench package."""

import time
from pathlib import Path

from fleetprompt_sdk import Package

package = Package("fpbench")


@package.directive("fpbench.noop")
def noop(ctx, directive):
    """Do nothing."""
    return None


@package.directive("fpbench.clock")
def clock(ctx, directive):
    """Write the wall-clock time the handler started."""
    started = time.time()
    Path(directive.params["dir"], directive.id).write_text(repr(started))
    return None
'''

#: ``python -c BARE_QUEUE_WORKER CONNINFO GO_FILE``: claim one job (SELECT ... FOR UPDATE
#: SKIP LOCKED, mark it running), run nothing, mark it done; exit when the queue is empty.
BARE_QUEUE_WORKER = """
import sys, time
from pathlib import Path
import psycopg

conn = psycopg.connect(sys.argv[1], autocommit=True)
print("ready", file=sys.stderr, flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
while True:
    with conn.transaction():
        row = conn.execute(
            "SELECT id FROM bare_jobs WHERE status = 'queued' ORDER BY id "
            "LIMIT 1 FOR UPDATE SKIP LOCKED"
        ).fetchone()
        if row is None:
            break
        conn.execute(
            "UPDATE bare_jobs SET status = 'running', started_at = now() WHERE id = %s", row
        )
    with conn.transaction():
        conn.execute("UPDATE bare_jobs SET status = 'done', finished_at = now() WHERE id = %s", row)
"""

#: ``python -c PROCRASTINATE_SETUP CONNINFO JOBS``: (re)create procrastinate's schema and
#: defer JOBS no-op jobs.
PROCRASTINATE_SETUP = """
import sys
import psycopg
from procrastinate import App, PsycopgConnector

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("DROP SCHEMA public CASCADE")
    conn.execute("CREATE SCHEMA public")
app = App(connector=PsycopgConnector(conninfo=sys.argv[1]))

@app.task(name="noop")
def noop(i):
    return None

with app.open():
    app.schema_manager.apply_schema()
    jobs = int(sys.argv[2])
    for start in range(0, jobs, 500):
        noop.batch_defer(*[{"i": i} for i in range(start, min(jobs, start + 500))])
"""

#: ``python -c PROCRASTINATE_WORKER CONNINFO GO_FILE``: run a worker until the queue is empty.
PROCRASTINATE_WORKER = """
import logging, sys, time, warnings
from pathlib import Path
from procrastinate import App, PsycopgConnector

logging.disable(logging.WARNING)
warnings.simplefilter("ignore")
app = App(connector=PsycopgConnector(conninfo=sys.argv[1]))

@app.task(name="noop")
def noop(i):
    return None

print("ready", file=sys.stderr, flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
app.run_worker(wait=False, concurrency=1, install_signal_handlers=False)
"""


def conninfo(url: str) -> str:
    """Return a libpq connection string for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build_site(tmp: Path) -> Path:
    """Write the ``fpbench`` distribution (code, manifest, ``.dist-info``) under ``tmp``."""
    site = tmp / "site"
    package = site / "fpbench_pkg"
    dist_info = site / "fpbench_pkg-1.0.0.dist-info"
    package.mkdir(parents=True)
    dist_info.mkdir()
    (package / "__init__.py").write_text(CODE)
    (package / "fleetprompt.json").write_text(json.dumps(MANIFEST))
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fpbench-pkg\nVersion: 1.0.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[fleetprompt.packages]\nfpbench = fpbench_pkg:package\n"
    )
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    record = [*files, f"{dist_info.name}/RECORD"]
    (dist_info / "RECORD").write_text("\n".join(f"{f},," for f in record))
    return site


def procrastinate_python(venv: Path) -> str | None:
    """Return the python of a throwaway virtualenv with procrastinate, or None.

    procrastinate is installed from the package index for the bench only, never into the
    project's environment.
    """
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import procrastinate, psycopg"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "procrastinate", "psycopg[binary]"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return str(python) if subprocess.run(check, capture_output=True).returncode == 0 else None
