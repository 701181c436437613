"""Signal and directive handlers contributed by packages."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ManifestError
from .naming import EVENT_TYPE_PATTERN, LOCAL_NAME_PATTERN

SignalHandlerFunction = Callable[[Any, Any], None]
DirectiveHandlerFunction = Callable[[Any, Any], "dict[str, Any] | None"]


@dataclass(frozen=True)
class SignalHandler:
    """A named function that receives signals matching its manifest subscription."""

    name: str
    function: SignalHandlerFunction

    def __post_init__(self) -> None:
        if not re.match(LOCAL_NAME_PATTERN, self.name):
            raise ManifestError(
                f"signal handler {self.name!r}: name must match {LOCAL_NAME_PATTERN}",
                code="invalid-handler-name",
            )


@dataclass(frozen=True)
class DirectiveHandler:
    """A function that executes one directive type."""

    type: str
    function: DirectiveHandlerFunction

    def __post_init__(self) -> None:
        if not re.match(EVENT_TYPE_PATTERN, self.type):
            raise ManifestError(
                f"directive handler {self.type!r}: type must match {EVENT_TYPE_PATTERN}",
                code="invalid-directive-type",
            )
