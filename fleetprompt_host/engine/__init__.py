"""The FleetPrompt engine: signals, directives, executions and the runner.

Modules: :mod:`.signals` (emit, fanout), :mod:`.directives` (request, cancel, rerun),
:mod:`.runner` (run a claimed directive or delivery), :mod:`.leases` (claims),
:mod:`.inline` (embedded mode), :mod:`.executions` (records of work), :mod:`.replay`,
:mod:`.contexts` (what package code receives). Nothing is imported here, so importing
one module does not pay for the others.
"""
