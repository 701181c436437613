"""Tenant slugs: one strict grammar, reserved names refused, clear errors."""

from __future__ import annotations

import pytest

from fleetprompt_host.storage.slugs import RESERVED_SLUGS, schema_name, validate_slug
from fleetprompt_sdk.errors import InvalidInputError


@pytest.mark.parametrize("slug", ["ab", "acme", "acme_2", "a" * 41, "z9_"])
def test_valid_slugs_are_accepted(slug: str) -> None:
    assert validate_slug(slug) == slug
    assert schema_name(slug) == f"org_{slug}"


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("", "empty"),
        ("a", "must match"),
        ("a" * 42, "at most 41"),
        ("x" * 10_000, "at most 41"),
        ("Acme", "must match"),
        ("1acme", "must match"),
        ("_acme", "must match"),
        ("acme-corp", "must match"),
        ("acme corp", "must match"),
        ("acme;drop", "must match"),
        ("acme'--", "must match"),
        ('acme"', "must match"),
        ("acme\n", "must match"),
        ("acme\x00", "must match"),
        ("\u0430cme", "must match"),  # Cyrillic a
        ("acm\u0435", "must match"),  # Cyrillic e
        ("\uff41cme", "must match"),  # full-width a
        ("acme\u200b", "must match"),  # zero-width space
        ("public", "reserved"),
        ("information_schema", "reserved"),
        ("pg_catalog", "reserved"),
        ("pg_temp_1", "reserved"),
        ("fp_anything", "reserved"),
        ("template0", "reserved"),
        ("template1", "reserved"),
        ("postgres", "reserved"),
        ("fleetprompt", "reserved"),
        ("admin", "reserved"),
        ("system", "reserved"),
        ("host", "reserved"),
    ],
)
def test_invalid_slugs_get_a_clear_error(slug: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_slug(slug)
    assert info.value.code == "invalid-slug"
    assert reason in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize("value", [None, 42, b"acme", ["acme"]])
def test_non_string_slugs_are_refused(value: object) -> None:
    with pytest.raises(InvalidInputError, match="expected a string"):
        validate_slug(value)


def test_every_reserved_word_is_refused_although_it_matches_the_pattern() -> None:
    for word in RESERVED_SLUGS:
        with pytest.raises(InvalidInputError, match="reserved"):
            validate_slug(word)
