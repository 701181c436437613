"""The host key that encrypts secret config values at rest, and the cipher that uses it.

Keys are 256-bit AES keys used with AES-GCM. Where the key comes from, in order:

1. ``FLEETPROMPT_SECRET_KEY``: one or more base64url keys separated by commas; the first
   encrypts, every one of them decrypts (so a rotation can be carried out through the
   environment, see docs/secrets.md);
2. the key file ``FLEETPROMPT_SECRET_KEY_FILE``, else ``<FLEETPROMPT_HOME>/secret.key``:
   one key per line, the first encrypts. It is created on first use with mode 0600, and a
   file that others may read is refused.

Every ciphertext names the id of the key that made it (a digest of the key, never the key),
so after a rotation old and new ciphertexts are told apart and re-encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as pysecrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fleetprompt_sdk.errors import ConfigError, StorageError

KEY_ENV = "FLEETPROMPT_SECRET_KEY"
KEY_FILE_ENV = "FLEETPROMPT_SECRET_KEY_FILE"
KEY_FILENAME = "secret.key"
TOKEN_PREFIX = "fp1"
_NONCE_BYTES = 12
_REF_CONTEXT = b"fleetprompt secret references v1"


def generate_key() -> str:
    """Return a new random key in its text form (base64url, 43 characters)."""
    return base64.urlsafe_b64encode(pysecrets.token_bytes(32)).decode().rstrip("=")


def _decode_key(text: str, where: str) -> bytes:
    raw = text.strip()
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise ConfigError(
            f"{where}: not a FleetPrompt secret key (expected 32 bytes in base64url; "
            "make one with `fleetprompt secrets generate-key`)",
            code="secret-key-invalid",
        )
    return key


def key_id(key: bytes) -> str:
    """Return the public id of ``key`` (16 hex characters of a digest; reveals nothing)."""
    return hashlib.sha256(b"fleetprompt key id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The primary key (encrypts) and every key still accepted for decryption."""

    keys: tuple[bytes, ...] = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("a keyring needs at least one key", code="secret-key-missing")

    @property
    def primary_id(self) -> str:
        """The id of the key new ciphertexts are made with."""
        return key_id(self.keys[0])

    @property
    def ids(self) -> list[str]:
        """The ids of every key, primary first."""
        return [key_id(k) for k in self.keys]

    def _key(self, kid: str) -> bytes:
        for key in self.keys:
            if key_id(key) == kid:
                return key
        raise StorageError(
            f"secret was encrypted with key {kid}, which {self.source} does not hold "
            "(restore the old key, see docs/secrets.md)",
            code="secret-key-unknown",
        )

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext``; ``context`` is bound to it (decryption needs the same)."""
        nonce = pysecrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{TOKEN_PREFIX}.{self.primary_id}.{body}"

    def decrypt(self, token: str, context: str) -> str:
        """Return the plaintext of ``token``; raise :class:`StorageError` when it cannot."""
        _, kid, body = _split_token(token)
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            plain = AESGCM(self._key(kid)).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag:
            raise StorageError(
                "a stored secret failed its integrity check (wrong key or tampered data)",
                code="secret-corrupt",
            ) from None
        return plain.decode()

    def reference(self, context: str, plaintext: str) -> str:
        """Return a stable reference to a secret value: the same value gives the same ref.

        A keyed MAC, so a reference proves nothing about the value to anyone without the
        key. Directive params carry references, never values. References are stable while
        the primary key is; after a rotation a new value gets a reference under the new key.
        """
        ref_key = hmac.new(self.keys[0], _REF_CONTEXT, hashlib.sha256).digest()
        mac = hmac.new(ref_key, f"{context}\x00{plaintext}".encode(), hashlib.sha256)
        return "sec_" + mac.hexdigest()[:40]


def token_key_id(token: str) -> str:
    """Return the id of the key that made ``token``."""
    return _split_token(token)[1]


def _split_token(token: str) -> tuple[str, str, str]:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise StorageError("a stored secret is not in a known format", code="secret-corrupt")
    return parts[0], parts[1], parts[2]


def key_file_path() -> Path:
    """Return where the key file is (whether or not it exists)."""
    from fleetprompt_host.settings import home_dir

    explicit = os.environ.get(KEY_FILE_ENV)
    return Path(explicit).expanduser() if explicit else home_dir() / KEY_FILENAME


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"secret key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`",
            code="secret-key-permissions",
        )


def read_key_file(path: Path) -> list[bytes]:
    """Return the keys in ``path`` (first = primary); refuse a file others may read."""
    _check_private(path)
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    texts = [ln for ln in lines if ln and not ln.startswith("#")]
    if not texts:
        raise ConfigError(f"secret key file {path} holds no key", code="secret-key-missing")
    return [_decode_key(t, f"{path} line {n}") for n, t in enumerate(texts, 1)]


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Write ``keys`` (primary first) to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "# FleetPrompt secret keys: the first encrypts, all decrypt. Keep private.\n"
    body += "".join(base64.urlsafe_b64encode(k).decode().rstrip("=") + "\n" for k in keys)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_keyring(*, create: bool = False) -> Keyring:
    """Return the host keyring from the environment or the key file.

    With ``create`` a missing key file is created with a new key (mode 0600); otherwise
    a missing key raises :class:`ConfigError` (``secret-key-missing``).
    """
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        texts = [t for t in env.split(",") if t.strip()]
        keys = tuple(_decode_key(t, f"{KEY_ENV} key {n}") for n, t in enumerate(texts, 1))
        return Keyring(keys, source=KEY_ENV)
    path = key_file_path()
    if not path.exists():
        if not create:
            raise ConfigError(
                f"no secret key: set {KEY_ENV} or create {path} "
                "(it is created automatically the first time a secret is stored)",
                code="secret-key-missing",
            )
        _create_key_file(path)
    return Keyring(tuple(read_key_file(path)), source=str(path))


def _create_key_file(path: Path) -> None:
    """Create ``path`` with one new key; a concurrent creator's key wins if it was first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    write_key_file(tmp, [base64.urlsafe_b64decode(generate_key() + "=")])
    try:
        # link() fails when the name exists: the file appears complete or not at all, and
        # two processes creating the key at once end up sharing one key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
