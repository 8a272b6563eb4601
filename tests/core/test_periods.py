"""Period keys as users type them: year, semester, quarter, month, date range."""

from datetime import date

import pytest

from survey.core.periods import PeriodError, current_period, last_closed, parse_period


@pytest.mark.parametrize("key, start, end, kind", [
    ("2024", date(2024, 1, 1), date(2024, 12, 31), "year"),
    ("2024-S1", date(2024, 1, 1), date(2024, 6, 30), "semester"),
    ("2024-s2", date(2024, 7, 1), date(2024, 12, 31), "semester"),
    ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31), "quarter"),
    ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31), "quarter"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
    ("2024-01-15..2024-03-14", date(2024, 1, 15), date(2024, 3, 14), "range"),
    ("2024-11..2025-02", date(2024, 11, 1), date(2025, 2, 28), "range"),
])
def test_parse(key, start, end, kind):
    period = parse_period(key)
    assert (period.start, period.end, period.kind) == (start, end, kind)


@pytest.mark.parametrize("key", [
    "", "2024-13", "2024-S3", "2024-Q5", "24", "2024-03-10..2024-03-01",
    "2024-02-30..2024-03-01", "2024-05..2024-02", "2024-13..2025-01", "last month",
    "0000", "0000-S1", "0000-01..0001-01",
])
def test_bad_keys_name_the_accepted_forms(key):
    with pytest.raises(PeriodError, match=r"2024-S1|ends before|invalid (date|month)"):
        parse_period(key)


def test_previous_periods_and_labels():
    assert parse_period("2024-S1").previous().key == "2023-S2"
    assert parse_period("2024-Q1").previous().key == "2023-Q4"
    assert parse_period("2024-01").previous().key == "2023-12"
    assert parse_period("2024").previous().key == "2023"
    rng = parse_period("2024-03-01..2024-03-10").previous()
    assert (rng.start, rng.end) == (date(2024, 2, 20), date(2024, 2, 29))
    assert parse_period("2024-S2").label("id") == "Semester II 2024"
    assert parse_period("2024-Q3").label("id") == "Triwulan III 2024"
    assert parse_period("2024-05").label("en") == "May 2024"


def test_current_and_last_closed():
    today = date(2026, 11, 28)
    assert current_period("semester", today).key == "2026-S2"
    assert last_closed("semester", today).key == "2026-S1"
    assert last_closed("month", today).key == "2026-10"
    assert [m.month for m in parse_period("2024-Q2").months()] == [4, 5, 6]


def test_there_is_no_period_before_year_one():
    with pytest.raises(PeriodError):
        parse_period("0001-S1").previous()
    with pytest.raises(PeriodError):
        parse_period("0001-01-01..0001-01-05").previous()


@pytest.mark.parametrize(("key", "expected"), [
    ("2024-S1", "2023-S1"), ("2024-S2", "2023-S2"), ("2024", "2023"), ("2024-Q3", "2023-Q3"),
    ("2024-05", "2023-05"), ("2024-01", "2023-01"),
    ("2024-03-05..2024-04-20", "2023-03-05..2023-04-20"),
    # a range ending on a month's last day ends on it a year before too
    ("2024-02-01..2024-02-29", "2023-02-01..2023-02-28"),
    ("2025-01-15..2025-02-28", "2024-01-15..2024-02-29"),
    ("2024-01..2024-04", "2023-01-01..2023-04-30"),
])
def test_the_same_period_a_year_earlier(key, expected):
    earlier = parse_period(key).year_earlier()
    assert earlier.key == expected
    assert earlier == parse_period(expected)


def test_there_is_no_year_before_year_one():
    for key in ("0001", "0001-S2", "0001-12", "0001-03-01..0001-03-05"):
        with pytest.raises(PeriodError):
            parse_period(key).year_earlier()
