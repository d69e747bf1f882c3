"""Ed25519 keys for the registry: making a signing key, signing an index's exact bytes, and the
trust store that pins the public keys whose indexes this home accepts.

A key is named by its id, the first 16 hex digits of the sha256 of its raw public bytes; its
fingerprint is the whole sha256, shown when a key is trusted. A private key lives only in a file
of mode 0600 written here (never logged, never copied); the trust store
(``$RARA_HOME/trust/<key_id>.pub``) holds public keys only, and the key of rara's own shipped
index (`SHIPPED_PUBLIC_KEY`) is trusted on every home.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rara.errors import BadInput
from rara.home import Home
from rara.registry.remote.index import RegistryError

# the public half of the key that signs rara's shipped index (strategies/registry/)
SHIPPED_PUBLIC_KEY = "rcQVjHYRg/L/iWzsTAbQ3ZHxTe/E21zQ/g6LBrzZmi8="
MAX_KEY_FILE_BYTES = 16 * 1024


@dataclass(frozen=True)
class PublicKey:
    """A trusted (or to-be-trusted) Ed25519 public key."""

    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def key_id(self) -> str:
        return self.fingerprint[:16]

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_raw_b64(cls, text: str) -> PublicKey:
        return cls(Ed25519PublicKey.from_public_bytes(base64.b64decode(text)))


def _read_key_file(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_KEY_FILE_BYTES:
            raise BadInput("bad_key", f"{path}: {size} bytes is no key file")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BadInput("bad_key", f"{path}: no such file") from exc
    except OSError as exc:
        raise BadInput("bad_key", f"{path}: unreadable ({exc.strerror})") from exc


def load_public_key(path: Path) -> PublicKey:
    """A public key file (PEM, as `keygen` writes ``KEY.pub``). A private key is refused: the
    trust store never holds one."""
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        raise BadInput(
            "bad_key",
            f"{path} holds a private key",
            "trust the public half: the .pub file `rara strategy keygen` wrote beside it",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BadInput("bad_key", f"{path}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput("bad_key", f"{path}: not an Ed25519 key")
    return PublicKey(key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in `path`; refused when the file is readable by others (its content is
    never part of the error)."""
    data = _read_key_file(path)
    if path.stat().st_mode & 0o077:
        raise BadInput(
            "key_too_open",
            f"{path} is readable by others (mode {path.stat().st_mode & 0o777:o})",
            f"chmod 600 {path}",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise BadInput("bad_key", f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput("bad_key", f"{path}: not an Ed25519 key")
    return key


def public_of(private: Ed25519PrivateKey) -> PublicKey:
    return PublicKey(private.public_key())


def keygen(path: Path) -> PublicKey:
    """A new signing key at `path` (mode 0600, created exclusively: an existing file is never
    overwritten) and its public half at ``path.pub``."""
    pub_path = path.with_name(path.name + ".pub")
    for p in (path, pub_path):
        if p.exists():
            raise BadInput(
                "key_exists", f"{p} exists", "choose another path; keys are not replaced"
            )
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = public_of(private)
    pub_path.write_bytes(public.pem())
    return public


def sign(private: Ed25519PrivateKey, data: bytes) -> bytes:
    """The signature file's content: the base64 of the Ed25519 signature over `data`."""
    return base64.b64encode(private.sign(data)) + b"\n"


class TrustStore:
    """The public keys this home accepts indexes from: rara's shipped one and those pinned in
    ``$RARA_HOME/trust/``."""

    def __init__(self, home: Home, shipped: bool = True) -> None:
        self.dir = home.trust_dir
        self.shipped = shipped

    def trusted(self) -> dict[str, PublicKey]:
        out: dict[str, PublicKey] = {}
        if self.shipped:
            k = shipped_key()
            out[k.key_id] = k
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.pub")):
                try:
                    k = load_public_key(path)
                except BadInput:
                    continue  # a broken file trusts nothing
                if path.stem == k.key_id:  # a file renamed to another id trusts nothing
                    out[k.key_id] = k
        return out

    def trust(self, key: PublicKey) -> Path:
        """Pin `key`; returns its file. Trusting a key twice is a no-op."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{key.key_id}.pub"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(key.pem())
        os.replace(tmp, path)
        return path

    def verify(self, key_id: str, signature_file: bytes, data: bytes, where: str) -> PublicKey:
        """The trusted key that signed `data`; `RegistryError` when the key is not trusted or the
        signature does not match the exact bytes."""
        key = self.trusted().get(key_id)
        if key is None:
            raise RegistryError(
                "registry_untrusted_key",
                f"{where} is signed by key {key_id}, which this home does not trust",
                "check its fingerprint with the publisher, then `rara strategy trust KEYFILE`",
            )
        try:
            signature = base64.b64decode(signature_file.strip(), validate=True)
        except ValueError:
            signature = b""
        if len(signature) != 64 or not key.verifies(signature, data):
            raise RegistryError(
                "registry_bad_signature",
                f"{where}: the signature does not match the index (tampered, or not signed by "
                f"key {key_id})",
                "nothing was installed; tell the registry's publisher",
            )
        return key


def shipped_key() -> PublicKey:
    return PublicKey.from_raw_b64(SHIPPED_PUBLIC_KEY)
