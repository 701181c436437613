"""Reusable pytest fixtures for FleetPrompt storage (the seed of the package authors' plugin).

Use them from a ``conftest.py``::

    from fleetprompt_host.testing.fixtures import (  # noqa: F401
        db, db_backend, db_url, fp_postgres, fp_postgres_url,
    )

``db`` is parametrized over ``sqlite`` and ``postgres`` so every storage test runs on both.
PostgreSQL comes from ``FLEETPROMPT_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``); each test session works in its own
throwaway database. ``fleetprompt_host.testing.cli.Cli`` runs the ``fleetprompt``
command in-process against such a database. Without a reachable server the PostgreSQL
half is skipped, unless ``FLEETPROMPT_TEST_REQUIRE_POSTGRES=1`` turns that into a failure.
"""
