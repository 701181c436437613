"""The host key: where it comes from, what it protects, and rotating it across tenants."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.installations import secret_store
from fleetprompt_host.installations.rotation import rotate_key
from fleetprompt_host.installations.secrets import (
    KEY_ENV,
    generate_key,
    key_file_path,
    load_keyring,
    read_key_file,
)
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import InstallationSecretRow
from fleetprompt_sdk.errors import ConfigError, NotFoundError, StorageError

VALUE = "tok-0123456789abcdef"


def test_the_key_file_is_created_once_owner_readable_only(fp_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_keyring()
    assert caught.value.code == "secret-key-missing"

    first = load_keyring(create=True)
    again = load_keyring(create=True)

    path = key_file_path()
    assert path == fp_home / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.primary_id == again.primary_id
    assert len(read_key_file(path)) == 1


def test_a_key_file_others_can_read_is_refused(fp_home: Path) -> None:
    load_keyring(create=True)
    os.chmod(key_file_path(), 0o644)

    with pytest.raises(ConfigError) as caught:
        load_keyring()

    assert caught.value.code == "secret-key-permissions"
    assert "chmod 600" in caught.value.message


def test_the_environment_key_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    file_keyring = load_keyring(create=True)
    monkeypatch.setenv(KEY_ENV, generate_key())

    env_keyring = load_keyring()

    assert env_keyring.source == KEY_ENV
    assert env_keyring.primary_id != file_keyring.primary_id


@pytest.mark.parametrize("bad", ["not-base64!", "c2hvcnQ", generate_key() + "AAAA"])
def test_a_malformed_environment_key_is_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(KEY_ENV, bad)
    with pytest.raises(ConfigError) as caught:
        load_keyring()
    assert caught.value.code == "secret-key-invalid"


def test_ciphertexts_name_their_key_and_are_bound_to_their_context() -> None:
    keyring = load_keyring(create=True)

    token = keyring.encrypt(VALUE, "acme/shop/api_token/sec_1")

    assert VALUE not in token and keyring.primary_id in token
    assert keyring.encrypt(VALUE, "acme/shop/api_token/sec_1") != token
    assert keyring.decrypt(token, "acme/shop/api_token/sec_1") == VALUE
    with pytest.raises(StorageError) as caught:
        keyring.decrypt(token, "beta/shop/api_token/sec_1")
    assert caught.value.code == "secret-corrupt"


def test_references_are_stable_per_value_and_reveal_nothing() -> None:
    keyring = load_keyring(create=True)

    ref = keyring.reference("acme/shop/api_token", VALUE)

    assert ref == keyring.reference("acme/shop/api_token", VALUE)
    assert ref != keyring.reference("beta/shop/api_token", VALUE)
    assert ref != keyring.reference("acme/shop/api_token", VALUE + "x")
    assert VALUE not in ref and ref.startswith("sec_")


def test_a_secret_made_with_a_key_the_host_lost_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    token = load_keyring(create=True).encrypt(VALUE, "ctx")
    monkeypatch.setenv(KEY_ENV, generate_key())

    with pytest.raises(StorageError) as caught:
        load_keyring().decrypt(token, "ctx")

    assert caught.value.code == "secret-key-unknown"


def _store(db: Database, slug: str, value: str) -> str:
    if slug not in {t.slug for t in db.list_tenants()}:
        db.create_tenant(slug)
    keyring = load_keyring(create=True)
    with db.tenant_session(slug) as session:
        refs = secret_store.store_secrets(session, keyring, slug, "shop", {"api_token": value})
    return refs["api_token"]


def _read(db: Database, slug: str, ref: str) -> str:
    with db.tenant_session(slug, readonly=True) as session:
        return secret_store.read_secret(session, load_keyring(), slug, ref)


def _key_ids(db: Database, slug: str) -> set[str]:
    with db.tenant_session(slug, readonly=True) as session:
        return set(session.execute(select(InstallationSecretRow.key_id)).scalars())


def test_storing_the_same_value_twice_keeps_one_row(db: Database) -> None:
    first = _store(db, "acme", VALUE)
    second = _store(db, "acme", VALUE)

    assert first == second
    with db.tenant_session("acme", readonly=True) as session:
        assert len(session.execute(select(InstallationSecretRow)).all()) == 1
    with db.tenant_session("acme", readonly=True) as session, pytest.raises(NotFoundError):
        secret_store.read_secret(session, load_keyring(), "acme", "sec_" + "0" * 40)


def test_rotate_key_reencrypts_every_tenant_and_retires_the_old_key(db: Database) -> None:
    refs = {slug: _store(db, slug, f"{VALUE}-{slug}") for slug in ("acme", "beta")}
    db.create_tenant("gamma")
    old = load_keyring().primary_id

    report = rotate_key(db)

    assert report.complete and report.generated and report.retired == [old]
    assert len(read_key_file(key_file_path())) == 1
    new = load_keyring().primary_id
    assert new != old
    for slug, ref in refs.items():
        assert _key_ids(db, slug) == {new}
        assert _read(db, slug, ref) == f"{VALUE}-{slug}"
    assert sum(t.reencrypted for t in report.tenants) == 2


def test_an_interrupted_rotation_resumes_with_the_same_new_key(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = {slug: _store(db, slug, VALUE) for slug in ("acme", "beta")}
    old = load_keyring().primary_id
    real = secret_store.reencrypt

    def broken(session: Any, keyring: Any, tenant: str, batch: int = 500) -> int:
        if tenant == "beta":
            raise RuntimeError("database went away")
        return real(session, keyring, tenant, batch)

    monkeypatch.setattr(secret_store, "reencrypt", broken)
    partial = rotate_key(db)
    monkeypatch.setattr(secret_store, "reencrypt", real)

    assert [t.slug for t in partial.failed] == ["beta"] and not partial.complete
    new = partial.primary_id
    assert load_keyring().ids == [new, old]
    assert _read(db, "beta", refs["beta"]) == VALUE

    resumed = rotate_key(db)

    assert resumed.complete and not resumed.generated and resumed.primary_id == new
    assert load_keyring().ids == [new]
    assert _key_ids(db, "acme") == _key_ids(db, "beta") == {new}


def test_rotation_through_the_environment_tells_which_key_to_drop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key, new_key = generate_key(), generate_key()
    monkeypatch.setenv(KEY_ENV, old_key)
    ref = _store(db, "acme", VALUE)
    old = load_keyring().primary_id
    monkeypatch.setenv(KEY_ENV, f"{new_key},{old_key}")

    report = rotate_key(db)

    assert report.complete and not report.generated and report.retired == [old]
    monkeypatch.setenv(KEY_ENV, new_key)
    assert _read(db, "acme", ref) == VALUE
