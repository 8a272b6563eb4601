"""Receipt codes: what a citizen notes down after answering, and can check later.

A receipt is an HMAC of the response's chain hash under the installation's receipt key
(kept in the chain head row, never exported), 50 bits written as ten Crockford base32
characters, XXXXX-XXXXX. It proves that the response is on the hash chain, but it is not
a prefix of any stored or exported hash: a code seen somewhere cannot be matched to a
response without the key. Codes are stored (code -> chain position) for the public check
page, which says only whether a code is on the chain and since when a signed export
covers it; they never appear in a URL, a redirect or a log line.

Receipts of responses recorded before receipts were stored (the older codes were a prefix
of the chain hash) are not in the table: the check page does not find them, by design.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session

from survey.core import bulk
from survey.core.models import AuditEvent, Receipt

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})  # what people type for 0 and 1
_TYPED = re.compile(r"[\s\-.]")


LOOKUP = 500  # codes per query on SQLite (at most 32,766 parameters a statement)


def new_key() -> str:
    return secrets.token_hex(32)


def derive(key: str, chain_hash: str, attempt: int = 0) -> str:
    """The code of a chain link (`attempt` > 0 only after a collision)."""
    message = chain_hash.encode() + (b"#%d" % attempt if attempt else b"")
    value = int.from_bytes(hmac.digest(bytes.fromhex(key), message, "sha256")[:7],
                           "big") >> 6  # 50 bits
    chars = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(10)))
    return f"{chars[:5]}-{chars[5:]}"


def normalise(typed: str) -> str | None:
    """A code as a person may type it (lower case, spaces, O for 0), in its written form;
    None when it cannot be a code."""
    text = _TYPED.sub("", (typed or "").upper()).translate(_READ_AS)
    if len(text) != 10 or any(c not in ALPHABET for c in text):
        return None
    return f"{text[:5]}-{text[5:]}"


def issue(session: Session, key: str, links: Sequence[tuple[int, str]]) -> list[str]:
    """Store the codes of these (seq, chain hash) links in the caller's transaction and
    return them; a code already taken (one in 2^50 per pair) is derived again."""
    codes = [derive(key, chain_hash) for _seq, chain_hash in links]
    attempt = 0
    while True:
        taken = _taken(session, codes)
        seen: set[str] = set()
        taken |= {c for c in codes if c in seen or seen.add(c)}
        if not taken:
            break
        attempt += 1
        codes = [derive(key, chain_hash, attempt) if code in taken else code
                 for code, (_seq, chain_hash) in zip(codes, links, strict=True)]
    bulk.insert_rows(session, Receipt.__table__, ("code", "seq"), [
        (code, seq) for code, (seq, _hash) in zip(codes, links, strict=True)])
    return codes


def _taken(session: Session, codes: list[str]) -> set[str]:
    """Which of these codes are stored already."""
    if session.get_bind().dialect.name == "postgresql":  # one array parameter, any length
        return set(session.scalars(select(Receipt.code).where(
            Receipt.code == any_(bindparam("codes", codes, type_=ARRAY(String))))))
    return {code for start in range(0, len(codes), LOOKUP)
            for code in session.scalars(select(Receipt.code).where(
                Receipt.code.in_(codes[start:start + LOOKUP])))}


def code_at(session: Session, seq: int) -> str | None:
    return session.scalar(select(Receipt.code).where(Receipt.seq == seq))


@dataclass(frozen=True)
class ReceiptCheck:
    """What the public check page may say about a code, and nothing else."""

    on_chain: bool
    covered_since: datetime | None = None  # the first signed export covering it


def check(session: Session, code: str) -> ReceiptCheck:
    seq = session.scalar(select(Receipt.seq).where(Receipt.code == code))
    if seq is None:
        return ReceiptCheck(False)
    covered = None
    for created_at, details in session.execute(
            select(AuditEvent.created_at, AuditEvent.details)
            .where(AuditEvent.action == "export_bundle").order_by(AuditEvent.id)):
        if int((details or {}).get("chain_seq") or 0) >= seq:
            covered = created_at
            break
    return ReceiptCheck(True, covered)
