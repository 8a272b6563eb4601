"""Times as Indonesians read them: the agency's zone named WIB, WITA or WIT (else its
offset from UTC), Indonesian month names, and the local calendar day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from survey.core.localtime import local_date, local_time, long_date, zone_name

EVENING = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "expected"), [
    ("Asia/Jakarta", "5 Des 2026 20.00 WIB"),
    ("Asia/Pontianak", "5 Des 2026 20.00 WIB"),
    ("Asia/Makassar", "5 Des 2026 21.00 WITA"),
    ("Asia/Jayapura", "5 Des 2026 22.00 WIT"),
    ("Asia/Kolkata", "5 Des 2026 18.30 UTC+5:30"),
    ("America/Sao_Paulo", "5 Des 2026 10.00 UTC-3"),
    ("UTC", "5 Des 2026 13.00 UTC"),
])
def test_a_stored_time_in_the_agency_zone_with_its_name(zone, expected):
    assert local_time(EVENING, zone) == expected


def test_languages_and_the_long_form():
    assert local_time(EVENING, "Asia/Jakarta", "en") == "5 Dec 2026 20:00 WIB"
    assert local_time(EVENING, "Asia/Jakarta", long=True) == \
        "5 Desember 2026 pukul 20.00 WIB"
    assert local_time(None, "Asia/Jakarta") == "—"
    assert [long_date(date(2026, m, 1)).split()[1] for m in (5, 8, 12)] == [
        "Mei", "Agustus", "Desember"]


def test_the_local_day_is_not_the_utc_day():
    late = datetime(2024, 5, 31, 20, 0, tzinfo=UTC)  # 03.00 on 1 June in Jakarta
    assert local_date(late, "Asia/Jakarta") == date(2024, 6, 1)
    assert zone_name("Europe/London", datetime(2026, 7, 1, tzinfo=UTC)) == "UTC+1"
