"""Keeping respondents anonymous: personal numbers and e-mail addresses in a suggestion
are masked before it is stored (the citizen is told), and a stored comment can still be
redacted later (survey.core.review) without breaking the hash chain.

What counts as personal (a corpus of examples in the tests pins it down):

- a run of at least 8 digits written with any of the separators people use (spaces, dots,
  hyphens, en and em dashes, slashes, underscores, parentheses, line breaks; up to three
  between two groups), with an optional leading "+": NIK (16 digits), mobile numbers
  (08.., +62..), landlines with or without their area code (Jakarta's have 8 digits),
  account numbers;
- an e-mail address.

Not personal, though they can have 8 digits: dates (15-05-2024, 2024/05/15), times of
day and opening hours (08.00-12.00), year ranges (2023/2024), amounts of money
(Rp 1.500.000.000).
"""

from __future__ import annotations

import re

_SEPARATOR = r"[ \t\r\n.\-\u2010-\u2015/_()]"
# Digits in groups, up to three separator characters between two groups.
_NUMBER = re.compile(rf"\+?\(?\d(?:{_SEPARATOR}{{0,3}}\d)+\)?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_MONEY_BEFORE = re.compile(r"(?:rp\.?|idr|usd|\$)\s*$", re.IGNORECASE)
_DATE = re.compile(r"(?:\d{1,2}[./\-]\d{1,2}[./\-](?:\d{4}|\d{2})"
                   r"|\d{4}[./\-]\d{1,2}[./\-]\d{1,2})")
_TIMES = re.compile(r"\d{1,2}[.:]\d{2}\s*[\-\u2010-\u2015]\s*\d{1,2}[.:]\d{2}")
_YEARS = re.compile(r"(?:19|20)\d{2}\s*[/\-\u2010-\u2015 ]\s*(?:19|20)\d{2}")


def _personal(match: re.Match[str]) -> bool:
    text = match.group(0)
    if sum(c.isdigit() for c in text) < 8:
        return False
    if _MONEY_BEFORE.search(match.string[max(0, match.start() - 5):match.start()]):
        return False  # an amount of money, however long
    return not any(shape.fullmatch(text) for shape in (_DATE, _TIMES, _YEARS))


def mask_personal_data(text: str) -> tuple[str, int]:
    """Mask personal numbers (every digit becomes *) and e-mail addresses (every
    character); returns the text and how many were masked, so that the caller can tell the
    citizen."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if not _personal(match):
            return match.group(0)
        count += 1
        return re.sub(r"\d", "*", match.group(0))

    def email(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return "*" * len(match.group(0))

    masked = _EMAIL.sub(email, text)
    return _NUMBER.sub(number, masked), count
