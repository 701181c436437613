"""The ``@tool`` decorator: a typed Python function becomes a tool a model may call."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast, get_type_hints

from .enums import Effect
from .errors import ManifestError, Problem, ToolArgumentError
from .naming import TOOL_NAME_PATTERN

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .manifest import ToolSpec

JsonSchema = dict[str, Any]

ToolFunction = Callable[..., Any]
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)
_ARGS_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _split_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Return the description and the per-argument descriptions of a Google-style docstring."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    description: list[str] = []
    args: dict[str, str] = {}
    in_args = False
    for line in lines:
        if _ARGS_SECTION.match(line):
            in_args = True
            continue
        if in_args:
            m = _ARG_LINE.match(line)
            if m:
                args[m.group(1)] = m.group(2).strip()
            elif line.strip() and not line.startswith((" ", "\t")):
                in_args = False
            continue
        description.append(line)
    return "\n".join(description).strip(), args


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(eq=False)
class Tool:
    """A tool: its model-facing contract and the function that implements it.

    The pydantic model of the arguments is built on first use, so that importing a
    package (and the SDK) stays cheap.
    """

    name: str
    description: str
    effect: Effect
    function: ToolFunction
    parameters: list[tuple[str, Any, Any]] = field(repr=False)
    requires_confirmation: bool = False
    directive: str | None = None
    timeout: float = 30.0

    @cached_property
    def arguments_model(self) -> type[BaseModel]:
        """The pydantic model that validates the tool's arguments."""
        from pydantic import ConfigDict, create_model
        from pydantic.fields import FieldInfo

        fields: dict[str, Any] = {}
        for name, annotation, default in self.parameters:
            info = default if isinstance(default, FieldInfo) else None
            if info is None:
                info = FieldInfo.from_annotated_attribute(annotation, default)
            if info.description is None and name in self._arg_docs:
                info.description = self._arg_docs[name]
            fields[name] = (annotation, info)
        model_name = "".join(part.title() for part in self.name.replace("-", "_").split("_"))
        model = create_model(
            f"{model_name}Arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        return cast("type[BaseModel]", model)

    @property
    def _arg_docs(self) -> dict[str, str]:
        return _split_docstring(inspect.getdoc(self.function) or "")[1]

    def parameters_schema(self) -> JsonSchema:
        """Return the JSON Schema (an object schema) of the tool's arguments."""
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        schema.setdefault("properties", {})
        schema["type"] = "object"
        return schema

    def to_spec(self) -> ToolSpec:
        """Return the manifest entry that describes this tool."""
        from .manifest import ToolSpec

        return ToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.parameters_schema(),
            effect=self.effect,
            requires_confirmation=self.requires_confirmation,
            directive=self.directive,
        )

    def validate_arguments(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate raw arguments; raise :class:`ToolArgumentError` naming each bad field."""
        from pydantic import ValidationError

        try:
            return self.arguments_model.model_validate(arguments)
        except ValidationError as exc:
            problems = [
                Problem(code=f"argument-{e['type']}", path=_location(e["loc"]), message=e["msg"])
                for e in exc.errors()
            ]
            summary = "; ".join(f"{p.path or '(arguments)'}: {p.message}" for p in problems)
            raise ToolArgumentError(
                f"invalid arguments for tool {self.name!r}: {summary}", problems=problems
            ) from None

    def invoke(self, ctx: Any, arguments: BaseModel) -> Any:
        """Call the tool function with a context and validated arguments."""
        kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        return self.function(ctx, **kwargs)


def build_tool(
    function: ToolFunction,
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect | str = Effect.READ,
    requires_confirmation: bool = False,
    directive: str | None = None,
    timeout: float = 30.0,
) -> Tool:
    """Build a :class:`Tool` from a typed function whose first parameter is the context."""
    tool_name = name or function.__name__
    where = f"tool {tool_name!r} ({function.__module__}.{function.__qualname__})"
    if not _TOOL_NAME.match(tool_name):
        raise ManifestError(
            f"{where}: name must match {TOOL_NAME_PATTERN}", code="invalid-tool-name"
        )
    doc_description, _ = _split_docstring(inspect.getdoc(function) or "")
    text = (description or doc_description).strip()
    if not text:
        raise ManifestError(f"{where}: needs a docstring or description", code="tool-undocumented")
    params = list(inspect.signature(function).parameters.values())
    if not params:
        raise ManifestError(f"{where}: first parameter must be the context", code="tool-signature")
    hints = get_type_hints(function, include_extras=True)
    parameters: list[tuple[str, Any, Any]] = []
    for param in params[1:]:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ManifestError(
                f"{where}: *args and **kwargs cannot be described to a model",
                code="tool-signature",
            )
        if param.name not in hints:
            raise ManifestError(
                f"{where}: parameter {param.name!r} needs a type annotation", code="tool-signature"
            )
        default = param.default if param.default is not inspect.Parameter.empty else ...
        parameters.append((param.name, hints[param.name], default))
    return Tool(
        name=tool_name,
        description=text,
        effect=Effect(effect),
        function=function,
        parameters=parameters,
        requires_confirmation=requires_confirmation,
        directive=directive,
        timeout=timeout,
    )


def tool(
    function: ToolFunction | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect | str = Effect.READ,
    requires_confirmation: bool = False,
    directive: str | None = None,
    timeout: float = 30.0,
) -> Any:
    """Turn a typed function into a :class:`Tool`.

    Use bare (``@tool``) or with options
    (``@tool(effect="write", directive="crm.contact.create")``).
    The function's first parameter receives a :class:`~fleetprompt_sdk.context.ToolContext`
    and is not part of the parameter schema; the docstring is the description.
    """

    def decorate(fn: ToolFunction) -> Tool:
        return build_tool(
            fn,
            name=name,
            description=description,
            effect=effect,
            requires_confirmation=requires_confirmation,
            directive=directive,
            timeout=timeout,
        )

    if function is not None:
        return decorate(function)
    return decorate
