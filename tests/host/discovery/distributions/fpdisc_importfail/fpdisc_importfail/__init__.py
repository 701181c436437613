"""A package whose import fails, as when a dependency is missing."""

raise RuntimeError("fpdisc_importfail refuses to import")
