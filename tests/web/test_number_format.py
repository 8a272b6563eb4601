"""Numbers on pages: the hand-written formatter must print exactly what Babel's CLDR
patterns print for the interface languages (85,04 / 85.04; 1.234.567,9 / 1,234,567.9)."""

from __future__ import annotations

import numpy as np
import pytest
from babel.numbers import format_decimal

from survey.ikm.standards import display_decimal
from survey.web.i18n import format_number


@pytest.mark.parametrize("locale", ["id", "en"])
def test_hand_formatting_equals_babel(locale: str) -> None:
    rng = np.random.default_rng(3)
    values = [0.0, -0.0, -0.004, 0.005, 88.305, 64.995, 99.995, 1234567.891, -1234.5,
              *rng.uniform(-1e7, 1e7, 400).tolist(), *rng.uniform(0, 100, 400).tolist()]
    for value in values:
        for places in (0, 1, 2, 3):
            pattern = "#,##0" + ("." + "0" * places if places else "")
            expected = format_decimal(display_decimal(value, places), format=pattern,
                                      locale=locale)
            assert format_number(value, places, locale) == expected, (value, places)


def test_other_locales_fall_back_to_babel() -> None:
    assert format_number(1234.5, 1, "de") == "1.234,5"
    assert format_number(88.305, 2, "id") == "88,31"  # half-up, as the grade rule
