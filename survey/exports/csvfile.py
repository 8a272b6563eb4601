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


def columns(element_codes: Sequence[str]) -> list[str]:
    return [*HEAD_COLUMNS, *element_codes, *PROFILE_COLUMNS, "comment"]


def neutralise(value: object) -> str:
    """Text as a spreadsheet will show it but never execute it."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(DANGEROUS_FIRST):
        return "'" + text
    return text


def stream(header: Sequence[str], rows: Iterable[Sequence[object]], *,
           bom: bool = False, chunk_rows: int = 2000) -> Iterator[str]:
    """CSV text in chunks of rows: constant memory whatever the number of rows. Numbers
    (scores, ids) are written as they are; every text cell is neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell if isinstance(cell, int) and not isinstance(cell, bool)
                         else neutralise(cell) for cell in row])
        if count % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
