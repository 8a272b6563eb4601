"""Reading an uploaded CSV file for the imports (service volumes, paper responses).

One reader so that both imports agree on the rules users meet: UTF-8 (a byte-order mark,
as Excel writes it, is accepted), a header row on line 1 (names compared without case and
surrounding spaces), LF, CRLF or CR line endings, blank lines skipped. Every error names
the physical line (the header is line 1; a record spanning lines because of a quoted
newline is named by its first line).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from survey.core.errors import ValidationError

BOM = "\ufeff"


@dataclass(frozen=True)
class CsvTable:
    columns: dict[str, int]  # lower-cased header name -> column index
    width: int
    records: Iterator[tuple[int, list[str]]]  # (line, cells), header excluded

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns.get(name.lower())
        return cells[index] if index is not None else ""


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text; save it as \"CSV UTF-8\"",
                              code="csv_not_utf8") from None
    return text[1:] if text.startswith(BOM) else text


def _records(reader, start_after: int) -> Iterator[tuple[int, list[str]]]:
    previous = start_after
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationError(f"line {previous + 1}: {exc}", code="csv_malformed",
                                  line=previous + 1) from None
        line, previous = previous + 1, reader.line_num
        if any(c.strip() for c in cells):
            yield line, cells


def read_table(data: bytes, required: tuple[str, ...]) -> CsvTable:
    """Open a CSV file whose header must name the `required` columns (compared without
    case); other columns are kept for the caller to use or ignore."""
    if b"\x00" in data:
        raise ValidationError("the file contains NUL bytes; it is not a CSV text file",
                              code="csv_binary")
    reader = csv.reader(io.StringIO(decode(data), newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("the file is empty; line 1 must be the header "
                              f"({','.join(required)})", code="csv_empty",
                              columns=",".join(required)) from None
    except csv.Error as exc:
        raise ValidationError(f"line 1: {exc}", code="csv_malformed", line=1) from None
    if reader.line_num != 1 or not any(h.strip() for h in header):
        raise ValidationError(f"line 1 must be the header ({','.join(required)})",
                              code="csv_no_header", columns=",".join(required))
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lower()
        if name in columns and name:
            raise ValidationError(f"line 1: column {raw.strip()!r} appears twice",
                                  code="csv_column_twice", line=1, name=raw.strip())
        columns[name] = index
    missing = [name for name in required if name.lower() not in columns]
    if missing:
        raise ValidationError(f"line 1: the header lacks the column(s) {', '.join(missing)} "
                              f"(expected {','.join(required)})", code="csv_missing_columns",
                              line=1, missing=", ".join(missing), columns=",".join(required))
    return CsvTable(columns, len(header), _records(reader, 1))


def check_width(table: CsvTable, line: int, cells: list[str]) -> None:
    if len(cells) != table.width:
        raise ValidationError(f"line {line}: expected {table.width} fields like the header, "
                              f"found {len(cells)}", code="csv_width", line=line,
                              expected=table.width, found=len(cells))
