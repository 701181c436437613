"""Alembic migration scripts: ``host/`` for the host tables, ``tenant/`` for every tenant.

They are run programmatically by :mod:`fleetprompt_host.storage.migrate`; there is no
``alembic.ini`` to configure. Each script reads the schema it works on from the migration
context (``op.get_context().opts["fp_schema"]``: ``None`` on SQLite).
"""
