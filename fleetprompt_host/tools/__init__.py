"""Typed tools at run time: the tenant's tool list and the one path every call takes.

:mod:`.catalog` decides which tools a tenant, actor and agent profile may use;
:mod:`.dispatch` runs calls (validation, permissions, confirmation, directives, records).
"""
