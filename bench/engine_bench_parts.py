"""Pieces of ``engine_bench.py``: the ``fpbench`` package, and the baseline programs (a bare
SKIP LOCKED queue worker, procrastinate's setup and worker) run as separate processes."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
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


def wait_all(procs: list[subprocess.Popen[bytes]], timeout: float = 900) -> None:
    """Wait for every process; raise if one failed."""
    for proc in procs:
        if proc.wait(timeout=timeout) != 0:
            raise RuntimeError(f"bench process {proc.args!r} failed")


def start_ready(
    cmd: list[str], workers: int, env: dict[str, str], tmp: Path, ready_text: str
) -> list[subprocess.Popen[bytes]]:
    """Start ``workers`` copies of ``cmd``; return once each wrote ``ready_text`` to stderr."""
    logs = [tmp / f"proc-{time.monotonic_ns()}-{i}.err" for i in range(workers)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        for log in logs
    ]
    deadline = time.monotonic() + 120
    while not all(ready_text in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"bench processes did not start: {logs[0].read_text()[-2000:]}")
        time.sleep(0.01)
    return procs


def release_processes(cmd: list[str], workers: int, tmp: Path, env: dict[str, str]) -> None:
    """Start ``workers`` copies of ``cmd GO_FILE``, release them together once all are
    ready, and wait for them to finish."""
    go = tmp / f"go-{time.monotonic_ns()}"
    procs = start_ready([*cmd, str(go)], workers, env, tmp, ready_text="ready")
    go.touch()
    wait_all(procs)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return the median and the 99th percentile of ``samples``."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bare_notify_latency(url: str, count: int) -> list[float]:
    """Seconds from a NOTIFY's commit to its arrival at a LISTENing connection."""
    import psycopg

    listener = psycopg.connect(conninfo(url), autocommit=True)
    listener.execute("LISTEN fp_bench")
    arrived: list[float] = []

    def listen() -> None:
        for _ in listener.notifies(stop_after=count, timeout=60):
            arrived.append(time.time())

    thread = threading.Thread(target=listen)
    thread.start()
    sender = psycopg.connect(conninfo(url))
    sent: list[float] = []
    for i in range(count):
        sender.execute("SELECT pg_notify('fp_bench', %s)", (str(i),))
        sent.append(time.time())
        sender.commit()
        while len(arrived) <= i:
            time.sleep(0.0002)
    thread.join()
    listener.close()
    sender.close()
    return [a - s for a, s in zip(arrived, sent, strict=True)]
