"""The entry point names a plain dictionary, not a plugin."""

SETTINGS = {"colour": "blue"}
