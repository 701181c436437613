"""The FleetPrompt engine: signals, directives, executions and the runner.

Modules: :mod:`.signals` (the one emit entry point, fanout) and :mod:`.batch` (many at
once), :mod:`.directives` (request, cancel, rerun) and :mod:`.host_directives` (types the
host handles), :mod:`.runner` and :mod:`.delivery_runner` (run a claimed directive or
delivery), :mod:`.leases` (claims), :mod:`.inline` (embedded mode), :mod:`.executions`
(records of work), :mod:`.replay`, :mod:`.queries`, :mod:`.history` and :mod:`.audit`
(reading back), :mod:`.contexts` (what package code receives). The worker modules
(:mod:`.claims`, :mod:`.scheduler`, :mod:`.worker` ...) drive the runner. Nothing is
imported here, so importing one module does not pay for the others.
"""
