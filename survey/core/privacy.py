"""Keeping respondents anonymous: personal numbers never reach the database."""

from __future__ import annotations

import re

# A run of at least eight digits, optionally separated by spaces, dots or dashes, with an
# optional leading "+": NIK (16 digits), phone numbers (08.., +62..), account numbers.
_PERSONAL_NUMBER = re.compile(r"\+?\d(?:[ .\-]?\d){7,}")


def mask_personal_numbers(text: str) -> tuple[str, int]:
    """Replace NIK-like and phone-like numbers by asterisks; returns the text and how many
    numbers were masked, so that the caller can tell the user."""
    count = 0

    def _mask(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return re.sub(r"\d", "*", match.group(0))

    return _PERSONAL_NUMBER.sub(_mask, text), count
