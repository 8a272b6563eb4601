"""Stored times (always UTC) as people read them: in the agency's (or the site's) zone,
with the zone's name as Indonesians know it (WIB, WITA, WIT), else its offset from UTC.

Shared by the web pages (survey.web.i18n.local_time) and the printed documents (the PDF
report), so that a ticket, a page and a report say the same time the same way."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

# Indonesia's three zones; every Indonesian tz name (and the old alias of Makassar).
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
              "Asia/Ujung_Pandang": "WITA", "Asia/Jayapura": "WIT"}

# Day, month, year and time: 5 Des 2026 20.00 (Indonesian writes hours with a dot).
PATTERNS = {"id": ("d MMM y HH.mm", "d MMMM y 'pukul' HH.mm"),
            "en": ("d MMM y HH:mm", "d MMMM y 'at' HH:mm")}


def zone_name(zone: str, when: datetime) -> str:
    """WIB, WITA or WIT for an Indonesian zone; else the offset at that moment (UTC+9,
    UTC-3:30, UTC)."""
    if zone in ZONE_NAMES:
        return ZONE_NAMES[zone]
    offset = when.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def local_time(value: datetime | None, zone: str, locale: str = "id", *,
               long: bool = False) -> str:
    """A stored (UTC) time in `zone`, in the reader's language, with the zone's name:
    "5 Des 2026 20.00 WIB" (long: "5 Desember 2026 pukul 20.00 WIB"); an em dash for
    none."""
    if value is None:
        return "—"
    short_pattern, long_pattern = PATTERNS.get(locale, PATTERNS["en"])
    text = format_datetime(value, long_pattern if long else short_pattern,
                           tzinfo=ZoneInfo(zone), locale=locale)
    return f"{text} {zone_name(zone, value)}"


def local_date(value: datetime, zone: str) -> date:
    """The calendar day a stored (UTC) time falls on in `zone`."""
    return value.astimezone(ZoneInfo(zone)).date()


def long_date(day: date | None, locale: str = "id") -> str:
    """A day with its month written out: 5 Desember 2026."""
    return "—" if day is None else format_date(day, "d MMMM y", locale=locale)
