"""Package config: files, --set, validation naming the field, secrets split off and hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetprompt_host.installations.config import (
    InvalidConfigError,
    checksum,
    describe_changes,
    load_config_file,
    parse_assignments,
    resolve,
)
from fleetprompt_sdk.errors import ConfigError
from fleetprompt_sdk.manifest import Manifest

SECRET = "hunter2-a-very-long-secret-value-0123"


@pytest.fixture
def manifest() -> Manifest:
    """A package whose config has a string, an integer, a boolean, a list and a secret."""
    return Manifest.model_validate(
        {
            "name": "shop",
            "version": "1.0.0",
            "display_name": "Shop",
            "permissions": ["secrets:read"],
            "config": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "pattern": "^https://"},
                        "retries": {"type": "integer", "minimum": 0, "default": 3},
                        "live": {"type": "boolean"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "api_token": {"type": "string", "minLength": 30, "secret": True},
                    },
                    "required": ["url"],
                    "additionalProperties": False,
                }
            },
        }
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("url=https://a.example", {"url": "https://a.example"}),
        ("retries=5", {"retries": 5}),
        ("live=true", {"live": True}),
        ('tags=["a","b"]', {"tags": ["a", "b"]}),
        ("url=", {"url": ""}),
        ("url=a=b", {"url": "a=b"}),
        ("unknown=7", {"unknown": "7"}),
    ],
)
def test_set_values_are_typed_by_the_field_they_set(
    manifest: Manifest, item: str, expected: dict[str, Any]
) -> None:
    assert parse_assignments([item], manifest) == expected


@pytest.mark.parametrize("item", ["noequals", "=value", "retries=five"])
def test_malformed_set_is_a_config_error_naming_it(manifest: Manifest, item: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_assignments([item], manifest)
    assert caught.value.code == "config-set"
    assert item.split("=")[0] in caught.value.message


def test_json_and_toml_files_give_the_same_config(manifest: Manifest, tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"url": "https://x.example", "retries": 2, "live": true}')
    (tmp_path / "c.toml").write_text('url = "https://x.example"\nretries = 2\nlive = true\n')

    from_json = load_config_file(tmp_path / "c.json")
    from_toml = load_config_file(tmp_path / "c.toml")

    assert from_json == from_toml
    assert resolve(manifest, from_json).checksum == resolve(manifest, from_toml).checksum


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("bad.json", '{"url": ', "invalid JSON"),
        ("bad.toml", "url = ", "invalid TOML"),
        ("list.json", "[1, 2]", "holds one object"),
        ("missing.json", None, "cannot read"),
    ],
)
def test_unreadable_config_files_are_refused_naming_the_file(
    tmp_path: Path, name: str, content: str | None, fragment: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.code == "config-file"
    assert name in caught.value.message and fragment in caught.value.message


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({}, "config.url", "is required"),
        ({"url": "http://plain"}, "config.url", "does not match"),
        ({"url": "https://a", "retries": -1}, "config.retries", "minimum"),
        ({"url": "https://a", "colour": "red"}, "config.colour", "no config field 'colour'"),
        ({"url": "https://a", "tags": [1]}, "config.tags.0", "is not of type 'string'"),
    ],
)
def test_invalid_config_is_refused_naming_the_field(
    manifest: Manifest, config: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        resolve(manifest, config)
    assert caught.value.code == "config-invalid"
    assert f"{field}:" in caught.value.message
    assert fragment in caught.value.message
    assert any(p.path == field for p in caught.value.problems)


@pytest.mark.parametrize("bad", ["short-" + "x", 12345])
def test_an_invalid_secret_is_refused_without_repeating_its_value(
    manifest: Manifest, bad: Any
) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        resolve(manifest, {"url": "https://a", "api_token": bad})
    text = caught.value.message + " ".join(str(p) for p in caught.value.problems)
    assert "config.api_token" in text
    assert str(bad) not in text


def test_secrets_are_split_off_and_do_not_change_the_checksum(manifest: Manifest) -> None:
    plain = resolve(manifest, {"url": "https://a"})
    with_secret = resolve(manifest, {"url": "https://a", "api_token": SECRET})

    assert with_secret.public == {"retries": 3, "url": "https://a"}
    assert with_secret.secrets == {"api_token": SECRET}
    assert SECRET not in repr(with_secret)
    assert with_secret.checksum == plain.checksum


def test_checksum_covers_the_normalised_config(manifest: Manifest) -> None:
    defaulted = resolve(manifest, {"url": "https://a"})
    explicit = resolve(manifest, {"retries": 3, "url": "https://a"})
    other = resolve(manifest, {"url": "https://a", "retries": 4})

    assert defaulted.checksum == explicit.checksum == checksum(explicit.public)
    assert other.checksum != defaulted.checksum


def test_config_changes_name_secret_fields_but_never_show_values() -> None:
    changes = describe_changes(
        {"url": "https://a", "live": True},
        {"url": "https://b", "retries": 1},
        ["api_token"],
        ["api_token"],
        secrets_changed=["api_token"],
    )

    assert changes == [
        {"field": "live", "change": "unset", "old": True, "new": None},
        {"field": "retries", "change": "set", "old": None, "new": 1},
        {"field": "url", "change": "changed", "old": "https://a", "new": "https://b"},
        {"field": "api_token", "change": "changed", "secret": True},
    ]
