"""The Ed25519 key pair that signs export bundles. Created by `flask init` in instance/
(private key readable only by its owner); the public key is published at
/audit/public-key so that anyone can verify a bundle offline (survey.ikm.bundle)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub.pem"


def ensure_keypair(instance_path: str | Path) -> bool:
    """Create the key pair if it does not exist yet; True when one was created."""
    folder = Path(instance_path)
    private = folder / PRIVATE_NAME
    if private.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    (folder / PUBLIC_NAME).write_bytes(public_pem(key.public_key()))
    return True


def load_private(instance_path: str | Path) -> Ed25519PrivateKey:
    path = Path(instance_path) / PRIVATE_NAME
    if not path.exists():
        raise FileNotFoundError(f"no signing key at {path}; run `flask init` to create one")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
