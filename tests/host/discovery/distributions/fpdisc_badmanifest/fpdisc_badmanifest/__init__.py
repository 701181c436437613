"""Must never be imported: discovery refuses this package before loading its code."""

raise AssertionError("fpdisc_badmanifest was imported although discovery should have refused it")
