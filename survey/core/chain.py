"""The tamper-evident hash chain, as pure functions (no Flask, no database).

Each link hashes its sequence number, the previous link's hash, its kind and the canonical
serialisation of the row it covers. Changing, deleting, inserting or reordering any covered
row changes a hash from that position on, so a verifier names the first broken position.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical(payload: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(seq: int, prev_hash: str, kind: str, payload: dict[str, Any]) -> str:
    return body_hash(seq, prev_hash, kind, canonical(payload))


def body_hash(seq: int, prev_hash: str, kind: str, body: bytes) -> str:
    """`link_hash` of a payload already serialised with `canonical` (writers serialise
    before they take the chain lock, so that the lock is held for the hashing only)."""
    digest = hashlib.sha256(f"{seq}\n{prev_hash}\n{kind}\n".encode())
    digest.update(body)
    return digest.hexdigest()
