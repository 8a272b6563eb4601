"""The canonical CSV of responses, streamed row by row (pure: no Flask, no database).

It is the system's exchange format: `ikm compute` reads it directly, the response import
accepts it, and the signed bundle carries it. Cells a spreadsheet would execute as a
formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

BOM = "\ufeff"
PROFILE_COLUMNS = ("sex", "age", "education", "occupation")
HEAD_COLUMNS = ("response_id", "submitted_at", "agency", "desk", "service", "channel",
                "verified", "flagged")
# Characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula (or
# as a DDE command): such cells get a leading apostrophe (OWASP CSV injection advice).
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
_DANGEROUS = frozenset(DANGEROUS_FIRST)


def columns(element_codes: Sequence[str]) -> list[str]:
    return [*HEAD_COLUMNS, *element_codes, *PROFILE_COLUMNS, "comment"]


def neutralise(value: object) -> str:
    """Text as a spreadsheet will show it but never execute it."""
    if value is None:
        return ""
    text = value if value.__class__ is str else str(value)
    if text and text[0] in _DANGEROUS:
        return "'" + text
    return text


def stream(header: Sequence[str], rows: Iterable[Sequence[object]], *,
           bom: bool = False, chunk_rows: int = 2000,
           free_text: Sequence[str] = ("comment",)) -> Iterator[str]:
    """CSV text in chunks of rows: constant memory whatever the number of rows.

    Only the free-text columns can hold what a person typed, so only they are neutralised;
    every other column comes from a controlled vocabulary (codes that start with a letter
    or digit, enumerations, numbers, ISO times), which keeps the export fast."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    positions = [i for i, name in enumerate(header) if name in free_text]
    batch: list[list[object]] = []
    for row in rows:
        cells = list(row)
        for i in positions:
            cells[i] = neutralise(cells[i])
        batch.append(cells)
        if len(batch) >= chunk_rows:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue()
