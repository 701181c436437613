"""Where FleetPrompt keeps its data and which database it talks to.

Resolution order for the database URL: the ``--db`` flag, ``FLEETPROMPT_DATABASE_URL``,
then a SQLite file under the FleetPrompt home (``FLEETPROMPT_HOME``, else the platform's
user data directory for ``fleetprompt``).
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

from fleetprompt_sdk.errors import ConfigError

HOME_ENV = "FLEETPROMPT_HOME"
DATABASE_URL_ENV = "FLEETPROMPT_DATABASE_URL"
ACTOR_ENV = "FLEETPROMPT_ACTOR"
HOST_DB_FILENAME = "fleetprompt.sqlite"


def home_dir() -> Path:
    """Return the FleetPrompt home directory (not created here)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("fleetprompt"))


def default_database_url() -> str:
    """Return the URL of the embedded SQLite host database under :func:`home_dir`."""
    return f"sqlite:///{home_dir() / HOST_DB_FILENAME}"


def resolve_database_url(explicit: str | None = None) -> str:
    """Return the database URL to use: ``explicit``, the environment, or the default."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or default_database_url()
    return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """Validate ``url`` and pick the driver FleetPrompt ships for its dialect.

    ``postgresql://`` and ``postgres://`` select psycopg 3; ``sqlite://`` must name a file
    (tenants are files next to it). Raises :class:`ConfigError` (``database-url``).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"invalid database URL {mask_url(url)!r}: {exc}", code="database-url"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        driver = parsed.drivername.partition("+")[2]
        if driver not in ("", "psycopg"):
            raise ConfigError(
                f"unsupported PostgreSQL driver {driver!r} in {mask_url(url)!r}: "
                "use postgresql+psycopg",
                code="database-url",
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        if not parsed.database:
            raise ConfigError(
                f"database URL {mask_url(url)!r} names no database", code="database-url"
            )
    elif backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError(
                f"database URL {mask_url(url)!r} must name a SQLite file "
                "(tenant databases are files next to it)",
                code="database-url",
            )
        parsed = parsed.set(drivername="sqlite")
    else:
        raise ConfigError(
            f"unsupported database {backend!r} in {mask_url(url)!r}: use sqlite or postgresql",
            code="database-url",
        )
    return parsed.render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (safe to print)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def default_actor() -> str:
    """Return the actor the CLI acts as: ``FLEETPROMPT_ACTOR`` or ``user:<login name>``."""
    explicit = os.environ.get(ACTOR_ENV)
    if explicit:
        return explicit
    try:
        login = getpass.getuser()
    except Exception:
        login = "operator"
    login = re.sub(r"[^A-Za-z0-9_.@+-]", "_", login)[:100] or "operator"
    return f"user:{login}"
