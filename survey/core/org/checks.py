"""Checks of what people type for the organisation: codes, names, time zones, NIPs, months
and days. Each returns the cleaned value or raises ValidationError."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from survey.core.errors import ValidationError
from survey.core.models import CODE_PATTERN

_CODE = re.compile(CODE_PATTERN)


def check_code(code: str, what: str) -> str:
    code = (code or "").strip()
    if not _CODE.fullmatch(code):
        raise ValidationError(
            f"{what} code {code!r} is invalid: use 1-40 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit", code="bad_code", what=what, value=code[:40]
        )
    return code


def check_name(name: str, what: str, limit: int = 200) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(f"{what} name must not be empty", code="name_empty", what=what)
    if len(name) > limit:
        raise ValidationError(f"{what} name is longer than {limit} characters",
                              code="name_too_long", what=what, limit=limit)
    return name


def optional_text(value: str | None, limit: int | None = None) -> str | None:
    """Trimmed text (cut to `limit` when given), or None when empty."""
    text = (value or "").strip()
    return (text[:limit] if limit is not None else text) or None


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {timezone!r} (e.g. Asia/Jakarta)",
                              code="bad_timezone", value=str(timezone)[:40]) from None
    return timezone


def check_nip(head_nip: str | None) -> str | None:
    """The head of unit's NIP (18 digits, spaces allowed when typed), or None."""
    nip = (head_nip or "").replace(" ", "")
    if nip and not re.fullmatch(r"\d{18}", nip):
        raise ValidationError("NIP must have 18 digits", code="bad_nip")
    return nip or None


def parse_month(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationError(f"month {text!r} must look like 2024-05", code="bad_month",
                              value=(text or "")[:20])
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(f"day {text!r} must look like 2024-05-31", code="bad_day",
                              value=(text or "")[:20]) from None
