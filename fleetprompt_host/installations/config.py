"""Per-installation config: read it, validate it against the package's schema, split secrets.

Config reaches an install from ``--config FILE`` (JSON, or TOML for ``.toml`` files) and
``--set key=value`` (applied over the file). It is validated against the manifest's
``config.schema`` (JSON Schema 2020-12); fields marked ``"secret": true`` are split off
before anything is stored or requested, and error messages never repeat a secret's value.

The *normalised* non-secret config (schema defaults filled in, keys sorted) has a stable
checksum: two requests with the same config produce the same idempotency key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from fleetprompt_sdk.errors import ConfigError, Problem
from fleetprompt_sdk.manifest import Manifest


class InvalidConfigError(ConfigError):
    """A package config failed its schema; ``problems`` names every bad field."""

    code = "config-invalid"

    def __init__(self, message: str, *, problems: list[Problem], code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.problems = problems


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated config split into what may be stored in clear and what is secret."""

    public: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)
    checksum: str

    @property
    def secret_fields(self) -> list[str]:
        """The names of the secret fields that were supplied (never their values)."""
        return sorted(self.secrets)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a config object from a JSON file, or a TOML file when the name ends ``.toml``.

    Raises :class:`ConfigError` (``config-file``) naming the file and, for syntax errors,
    the line.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {source}: {exc.strerror or exc}", code="config-file"
        ) from None
    try:
        if source.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}", code="config-file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}", code="config-file"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: a config file holds one object, not {type(data).__name__}",
            code="config-file",
        )
    return data


def _properties(manifest: Manifest) -> dict[str, Any]:
    props = manifest.config.schema_.get("properties", {})
    return props if isinstance(props, dict) else {}


def _declared_types(spec: Any) -> set[str]:
    if not isinstance(spec, dict):
        return set()
    declared = spec.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def parse_assignments(items: Iterable[str], manifest: Manifest) -> dict[str, Any]:
    """Turn ``--set key=value`` items into a config object.

    A value is taken as a string when the field is a string (or unknown); for fields of
    another JSON type (number, boolean, array, object, null) it is parsed as JSON, so
    ``--set retries=3`` gives ``3``. Raises :class:`ConfigError` (``config-set``).
    """
    props = _properties(manifest)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"--set {item.split('=')[0]!r}: expected KEY=VALUE", code="config-set"
            )
        types = _declared_types(props.get(key))
        if not types or "string" in types:
            out[key] = raw
            continue
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            secret = isinstance(props.get(key), dict) and props[key].get("secret") is True
            shown = "(secret value hidden)" if secret else repr(raw)
            expected = " or ".join(sorted(types))
            raise ConfigError(
                f"--set {key}: {shown} is not a JSON {expected}", code="config-set"
            ) from None
    return out


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge config layers left to right: a later layer's top-level keys win."""
    out: dict[str, Any] = {}
    for layer in layers:
        if layer:
            out.update(layer)
    return out


def _field_of(error: jsonschema.ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if not path and error.validator == "required":
        missing = error.message.split("'")
        return missing[1] if len(missing) > 2 else "(root)"
    if not path and error.validator == "additionalProperties":
        extra = error.message.split("'")
        return extra[1] if len(extra) > 2 else "(root)"
    return ".".join(path) or "(root)"


def _problem(error: jsonschema.ValidationError, secret_fields: set[str], package: str) -> Problem:
    where = _field_of(error)
    top = where.split(".")[0]
    if top in secret_fields:
        # jsonschema's message quotes the offending value: never let a secret through.
        message = f"secret field fails the {error.validator!r} rule"
    elif error.validator == "additionalProperties":
        message = f"{package} has no config field {where!r}"
    elif error.validator == "required":
        message = "is required"
    else:
        message = error.message
    return Problem(code="config-invalid", path=f"config.{where}", message=message)


def validate_config(manifest: Manifest, config: Mapping[str, Any]) -> list[Problem]:
    """Return the problems of ``config`` against the manifest's config schema (empty: valid)."""
    schema = manifest.config.schema_
    validator = jsonschema.Draft202012Validator(schema)
    secrets = set(manifest.secret_fields())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
    return [_problem(e, secrets, manifest.name) for e in errors]


def _with_defaults(manifest: Manifest, config: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(config)
    for name, spec in _properties(manifest).items():
        if name not in out and isinstance(spec, dict) and "default" in spec:
            out[name] = spec["default"]
    return out


def canonical_json(value: Any) -> str:
    """Return ``value`` as compact JSON with sorted keys (the form checksums are taken of)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(public: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) of the normalised non-secret config."""
    return hashlib.sha256(canonical_json(dict(public)).encode()).hexdigest()


def resolve(manifest: Manifest, config: Mapping[str, Any]) -> ResolvedConfig:
    """Validate ``config`` for ``manifest`` and split it into public values and secrets.

    Raises :class:`InvalidConfigError` naming the first bad field (all of them in
    ``problems``). Secret values must be strings.
    """
    full = _with_defaults(manifest, config)
    problems = validate_config(manifest, full)
    secret_names = set(manifest.secret_fields())
    for name in sorted(secret_names & set(full)):
        if not isinstance(full[name], str):
            problems.append(
                Problem("config-invalid", f"config.{name}", "secret field must be a string")
            )
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidConfigError(
            f"invalid config for {manifest.name} {manifest.version}: {first.path}: "
            f"{first.message}{more}",
            problems=problems,
        )
    public = {k: v for k, v in sorted(full.items()) if k not in secret_names}
    secrets = {k: str(v) for k, v in sorted(full.items()) if k in secret_names}
    return ResolvedConfig(public=public, secrets=secrets, checksum=checksum(public))


def describe_changes(
    old_public: Mapping[str, Any],
    new_public: Mapping[str, Any],
    old_secret_fields: Iterable[str],
    new_secret_fields: Iterable[str],
    *,
    secrets_changed: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """List config changes as ``{"field", "change", "old", "new"}``; secrets show no values."""
    changes: list[dict[str, Any]] = []
    for name in sorted(set(old_public) | set(new_public)):
        old, new = old_public.get(name), new_public.get(name)
        if name not in old_public:
            changes.append({"field": name, "change": "set", "old": None, "new": new})
        elif name not in new_public:
            changes.append({"field": name, "change": "unset", "old": old, "new": None})
        elif old != new:
            changes.append({"field": name, "change": "changed", "old": old, "new": new})
    old_s, new_s, changed = set(old_secret_fields), set(new_secret_fields), set(secrets_changed)
    for name in sorted(old_s | new_s):
        if name not in old_s:
            kind = "set"
        elif name not in new_s:
            kind = "unset"
        elif name in changed:
            kind = "changed"
        else:
            continue
        changes.append({"field": name, "change": kind, "secret": True})
    return changes
