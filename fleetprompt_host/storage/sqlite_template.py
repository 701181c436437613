"""The database image every new SQLite tenant file starts from.

Running the tenant migrations through Alembic costs tens of milliseconds per tenant, most
of it Alembic itself rather than SQLite. So the chain runs once, into an image that is
stamped at head like any migrated tenant; each new tenant file is a copy of it. The
image is kept in memory per process and on disk next to the host file
(``<host dir>/<stem>-cache/``), so a short-lived process such as one ``fleetprompt
tenants create`` does not rebuild it either.

The image's name carries the head revision and a digest of everything that shapes the
schema (the migration scripts and the SQLAlchemy, Alembic and SQLite versions): changing
a migration makes a new image. An image read from disk is used only after SQLite's
integrity check passes and its recorded revision is the head; anything else is rebuilt.
The on-disk copy is a cache: failing to write it never fails a tenant creation.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, suppress
from functools import cache
from pathlib import Path

import alembic
import sqlalchemy
from sqlalchemy.engine import Connection

from . import migrate

#: Builds the image: given a new file's path, yields a connection to it in a transaction.
Opener = Callable[[Path], AbstractContextManager[Connection]]

_images: dict[str, bytes] = {}
_lock = threading.Lock()
#: A temporary file older than this was left by a process that died while writing it.
_STALE_TMP_SECONDS = 600.0


@cache
def template_key() -> str:
    """Return ``<head revision>-<digest>``: what the image depends on, in a file name."""
    head = migrate.head("tenant")
    digest = hashlib.sha256()
    for part in (sqlalchemy.__version__, alembic.__version__, sqlite3.sqlite_version):
        digest.update(part.encode() + b"\0")
    sources = sorted((migrate.MIGRATIONS_DIR / "tenant").rglob("*.py"))
    for path in [*sources, migrate.MIGRATIONS_DIR / "helpers.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{head}-{digest.hexdigest()[:16]}"


def cache_dir(host_path: Path) -> Path:
    """Return the directory that keeps the on-disk images of the host file ``host_path``."""
    return host_path.parent / f"{host_path.stem}-cache"


def image(directory: Path, workdir: Path, build: Opener) -> bytes:
    """Return the tenant image: from memory, else from ``directory``, else built.

    ``build`` opens a connection on a new file (see :data:`Opener`), made in ``workdir``;
    the migrations run in it once. The image is also written to ``directory`` when it
    is missing there.
    """
    key = template_key()
    with _lock:
        data = _images.get(key)
        path = directory / f"tenant-{key}.sqlite"
        if data is None:
            data = _load(path)
            if data is None:
                data = _build(workdir, key, build)
                _store(path, data)  # replaces a spoiled copy too
            _images[key] = data
        elif not path.exists():
            _store(path, data)
        return data


def is_valid(data: bytes) -> bool:
    """Return True when ``data`` is a sound SQLite database whose revision is the head."""
    if not data.startswith(b"SQLite format 3\0"):
        return False
    try:
        with closing(sqlite3.connect(":memory:")) as conn:
            conn.deserialize(data)
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                return False
            version = conn.execute(f"SELECT version_num FROM {migrate.VERSION_TABLE}").fetchall()
    except sqlite3.Error:
        return False
    return version == [(migrate.head("tenant"),)]


def _load(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if is_valid(data) else None


def _build(workdir: Path, key: str, build: Opener) -> bytes:
    _remove_stale(workdir, ".template-*.build-*")
    path = workdir / f".template-{key}.build-{os.getpid()}-{threading.get_ident()}"
    path.unlink(missing_ok=True)
    try:
        with build(path) as conn:
            revision = migrate.upgrade(conn, "tenant", None)
        assert revision == migrate.head("tenant"), revision
        return path.read_bytes()
    finally:
        for leftover in (path, Path(f"{path}-journal")):
            leftover.unlink(missing_ok=True)


def _store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, best effort (the file is only a cache)."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path.parent, "*.tmp-*")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    with suppress(OSError):
        tmp.unlink(missing_ok=True)


def _remove_stale(directory: Path, pattern: str) -> None:
    """Remove files matching ``pattern`` left long ago by a process that died writing them."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for leftover in directory.glob(pattern):
        with suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
