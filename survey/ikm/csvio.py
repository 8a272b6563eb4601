"""Reading response and population CSV files for ``ikm compute``.

Responses: a header row naming at least ``agency``, ``desk`` and the standard's element
codes (U1..U9, or U1..U14 for 2004); other columns are ignored, so the system's own export
is valid input. A UTF-8 byte-order mark is accepted. A score cell must be exactly ``1``,
``2``, ``3`` or ``4``, or empty (an unanswered element). Nothing is stripped: ``" 3"``,
``"3.0"``, ``"5"`` or ``"x"`` are errors, as are a row with the wrong number of fields, an
empty agency or desk, or a file without data. Entirely blank lines are skipped; a row
whose score cells are all empty is a respondent who answered nothing (counted in n, in no
element). Agency and desk are exact strings (case and spaces matter). Every error names
the physical line (the header is line 1; a record that spans lines because of a quoted
newline is named by its first line) and the column. LF, CRLF and old-Mac CR line endings
are read.

The reader streams the file in blocks of a few megabytes and reduces each block to
:class:`~survey.ikm.stats.StratumStats` at once, so memory stays flat. Blocks are split
into records and fields with numpy (quote-aware, RFC 4180); a block whose quoting is not
well formed, or that contains bare carriage returns or NUL bytes, goes through the
standard ``csv`` module instead, which then decides. Both paths give identical results.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from survey.ikm.standards import DEFAULT_STANDARD, Standard, get_standard
from survey.ikm.stats import GramAccumulator, StratumStats

BOM = b"\xef\xbb\xbf"
_BLOCK_BYTES = 2 << 20
_MAX_KEY_BYTES = 256          # wider agency/desk keys go through the csv module
_QUOTE, _COMMA, _NL, _CR = 34, 44, 10, 13
_SCORES = {"": 0, "1": 1, "2": 2, "3": 3, "4": 4}
_INTEGER = re.compile(r"[0-9]+\Z")
KEY_COLUMNS = ("agency", "desk")


class CsvError(ValueError):
    """A problem in an input file, located by line and column."""

    def __init__(self, path: str, line: int | None, column: str | None, message: str) -> None:
        self.path, self.line, self.column, self.message = path, line, column, message
        where = [path]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")


@dataclass(frozen=True)
class _Layout:
    path: str
    names: tuple[str, ...]       # the header
    agency: int
    desk: int
    scores: tuple[int, ...]      # column index of each element, in standard order

    @property
    def width(self) -> int:
        return len(self.names)


def _score_message(cell: str) -> str:
    cell = cell.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    shown = cell if len(cell) <= 20 else cell[:20] + "..."
    return f"invalid score {shown!r}; expected 1, 2, 3, 4 or an empty cell"


# ---------------------------------------------------------------------------------------
# Public API


def read_responses(
    path: str | Path, standard: Standard | str = DEFAULT_STANDARD
) -> dict[tuple[str, str], StratumStats]:
    """Statistics per (agency, desk), in order of first appearance. Raises CsvError."""
    std = get_standard(standard) if isinstance(standard, str) else standard
    return _ResponseReader(str(path), std).read()


def read_populations(path: str | Path) -> dict[tuple[str, str], int]:
    """``agency,desk,population`` rows (population a non-negative integer, digits only;
    each (agency, desk) at most once). Other columns are ignored. Raises CsvError."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CsvError(name, None, None, exc.strerror or str(exc)) from None
    raw = raw.removeprefix(BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise CsvError(name, line, None, "not valid UTF-8") from None
    if not text.strip():
        raise CsvError(name, 1, None, "the file is empty; expected a header row "
                       "agency,desk,population")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: dict[tuple[str, str], int] = {}
    first_line: dict[tuple[str, str], int] = {}
    previous = 0
    try:
        header = next(reader)
        index = _require(name, header, ("agency", "desk", "population"))
        previous = reader.line_num
        for row in reader:
            line = previous + 1
            previous = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise CsvError(name, line, None,
                               f"expected {len(header)} fields, found {len(row)}")
            agency, desk, value = (row[index[c]] for c in ("agency", "desk", "population"))
            for col, cell in (("agency", agency), ("desk", desk)):
                if cell == "":
                    raise CsvError(name, line, col, f"empty {col}")
            if not _INTEGER.match(value):
                raise CsvError(name, line, "population",
                               f"invalid population {value!r}; expected a non-negative "
                               "whole number")
            key = (agency, desk)
            if key in out:
                raise CsvError(name, line, None,
                               f"duplicate population for agency {agency!r} desk {desk!r} "
                               f"(first given on line {first_line[key]})")
            out[key] = int(value)
            first_line[key] = line
    except csv.Error as exc:
        raise CsvError(name, previous + 1, None, str(exc)) from None
    return out


def _require(path: str, header: list[str], wanted: tuple[str, ...]) -> dict[str, int]:
    index: dict[str, int] = {}
    for col in wanted:
        positions = [i for i, h in enumerate(header) if h == col]
        if not positions:
            raise CsvError(path, 1, col, f"missing column {col!r} (header: "
                           f"{','.join(header)[:120]})")
        if len(positions) > 1:
            raise CsvError(path, 1, col, f"column {col!r} appears {len(positions)} times")
        index[col] = positions[0]
    return index


# ---------------------------------------------------------------------------------------
# Responses


class _ResponseReader:
    def __init__(self, path: str, std: Standard, block_bytes: int = _BLOCK_BYTES,
                 force_csv_module: bool = False) -> None:
        self.path = path
        self.std = std
        self.block_bytes = block_bytes
        self.force_csv_module = force_csv_module
        self.keys: dict[tuple[str, str], int] = {}
        self.acc = GramAccumulator(len(std.elements))
        self.rows = 0

    def read(self) -> dict[tuple[str, str], StratumStats]:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below, errors mapped
        except OSError as exc:
            raise CsvError(self.path, None, None, exc.strerror or str(exc)) from None
        with fh:
            blocks = _record_blocks(fh, self.block_bytes)
            first = next(blocks, None)
            if first is None or not first[0].strip(b"\r\n\t "):
                raise CsvError(self.path, 1, None,
                               "the file is empty; expected a header row with agency, desk, "
                               + ", ".join(self.std.element_codes))
            data, line0 = self._header(first[0])
            self._block(data, line0)
            for block, line in blocks:
                self._block(block, line)
        if self.rows == 0:
            raise CsvError(self.path, 2, None, "no responses after the header")
        stats = self.acc.result(len(self.keys))
        return dict(zip(self.keys, stats, strict=True))

    def _header(self, block: bytes) -> tuple[bytes, int]:
        end = _first_record_end(block)
        raw = block[:end]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CsvError(self.path, 1, None, "the header is not valid UTF-8") from None
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise CsvError(self.path, 1, None, f"unreadable header: {exc}") from None
        header = rows[0] if rows else []
        if not header or header == [""]:
            raise CsvError(self.path, 1, None, "the header row is empty")
        codes = self.std.element_codes
        index = _require(self.path, header, (*KEY_COLUMNS, *codes))
        self.layout = _Layout(self.path, tuple(header), index["agency"], index["desk"],
                              tuple(index[c] for c in codes))
        return block[end:], 1 + raw.count(b"\n")

    # -- one block ----------------------------------------------------------------------

    def _block(self, block: bytes, line0: int) -> None:
        if not block:
            return
        parsed = None if self.force_csv_module else _parse_fast(block, line0, self.layout)
        if parsed is None:
            keys, ids, scores = _parse_with_csv(block, line0, self.layout)
        else:
            keys, ids, scores = parsed
        if scores.shape[0] == 0:
            return
        gids = np.array([self.keys.setdefault(k, len(self.keys)) for k in keys],
                        dtype=np.int64)
        self.acc.add(gids[ids], scores)
        self.rows += scores.shape[0]


def _record_blocks(fh: BinaryIO, size: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole records (cut after a newline outside quotes), each with the
    physical line number it starts on. The BOM is dropped; the last block gets a final
    newline if the file lacks one."""
    carry = b""
    line = 1
    first = True
    cr_only = False
    while True:
        chunk = fh.read(size)
        if first:
            chunk = chunk.removeprefix(BOM)
            first = False
            # Old Mac "CSV (Macintosh)" files end lines with a bare CR: read them as LF.
            cr_only = b"\r" in chunk and b"\n" not in chunk
        if cr_only:
            chunk = chunk.replace(b"\r", b"\n")
        if not chunk:
            if carry:
                if not carry.endswith(b"\n"):
                    carry += b"\n"
                yield carry, line
            return
        data = carry + chunk if carry else chunk
        cut = _last_record_end(data)
        if cut <= 0:
            carry = data
            continue
        out, carry = data[:cut], data[cut:]
        yield out, line
        line += out.count(b"\n")


def _quote_parity(arr: np.ndarray) -> np.ndarray:
    """1 where an odd number of quotes precede-or-are the byte (inside a quoted field):
    alternating runs between quote positions (faster than a prefix XOR)."""
    q = np.flatnonzero(arr == _QUOTE)
    bounds = np.concatenate(([0], q, [arr.shape[0]]))
    runs = np.arange(bounds.shape[0] - 1, dtype=np.int64) & 1
    return np.repeat(runs.astype(np.uint8), np.diff(bounds))


def _last_record_end(data: bytes) -> int:
    """Just after the last newline that lies outside quotes (an even number of quotes
    before it), or -1."""
    last = data.rfind(b"\n")
    if last < 0:
        return -1
    quotes = data.count(b'"', 0, last)
    while quotes % 2:
        prev = data.rfind(b"\n", 0, last)
        if prev < 0:
            return -1
        quotes -= data.count(b'"', prev, last)
        last = prev
    return last + 1


def _first_record_end(data: bytes) -> int:
    first = data.find(b"\n")
    if first < 0:
        return len(data)
    if data.find(b'"', 0, first) < 0:
        return first + 1
    arr = np.frombuffer(data, dtype=np.uint8)
    outside = np.flatnonzero((arr == _NL) & (_quote_parity(arr) == 0))
    return int(outside[0]) + 1 if outside.size else len(data)


def _unquote(raw: bytes) -> bytes:
    if raw[:1] == b'"':
        return raw[1:-1].replace(b'""', b'"')
    return raw


def _parse_fast(block: bytes, line0: int, layout: _Layout
                ) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray] | None:
    """Split a block with numpy. Returns None when the csv module must decide."""
    if block.find(b"\x00") >= 0:
        return None
    arr = np.frombuffer(block, dtype=np.uint8)
    quoted = block.find(b'"') >= 0
    if quoted:
        parity = _quote_parity(arr)
        if not _well_quoted(arr):
            return None
        outside = parity == 0
        nl = np.flatnonzero((arr == _NL) & outside)
        delim = np.flatnonzero((arr == _COMMA) & outside)
    else:
        nl = np.flatnonzero(arr == _NL)
        delim = np.flatnonzero(arr == _COMMA)
    if block.find(b"\r") >= 0:
        cr = np.flatnonzero(arr == _CR)
        if quoted:
            cr = cr[outside[cr]]
        if cr.size and (cr[-1] + 1 >= arr.shape[0] or (arr[cr + 1] != _NL).any()):
            return None  # a bare carriage return: let the csv module split lines
    if nl.size == 0 or nl[-1] != arr.shape[0] - 1:
        return None
    start = np.concatenate(([0], nl[:-1] + 1))
    end = nl.copy()
    has_cr = (end > start) & (arr[np.maximum(end - 1, 0)] == _CR)
    end -= has_cr
    all_nl = np.flatnonzero(arr == _NL) if quoted else nl
    line = line0 + np.searchsorted(all_nl, start)
    blank = end == start
    counts = np.diff(np.concatenate(([0], np.searchsorted(delim, nl))))
    width = layout.width
    bad = ~blank & (counts != width - 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise CsvError(layout.path, int(line[i]), None,
                       f"expected {width} fields, found {int(counts[i]) + 1}")
    keep = ~blank
    if not keep.all():
        start, end, line = start[keep], end[keep], line[keep]
        # Blank lines hold no delimiters, so the delimiters still line up by record.
    k = start.shape[0]
    if k == 0:
        return [], np.zeros(0, dtype=np.int64), np.zeros((0, len(layout.scores)), np.int8)
    cells = delim.reshape(k, width - 1) if width > 1 else np.zeros((k, 0), np.int64)

    def span(col: int) -> tuple[np.ndarray, np.ndarray]:
        s = start if col == 0 else cells[:, col - 1] + 1
        e = end if col == width - 1 else cells[:, col]
        return s, e

    # Scores: one byte 1..4, or nothing; a quoted cell is judged by its content.
    cols = np.array(layout.scores)
    s_all = np.empty((k, cols.shape[0]), dtype=np.int64)
    e_all = np.empty_like(s_all)
    for j, col in enumerate(cols.tolist()):
        s_all[:, j], e_all[:, j] = span(col)
    if quoted:
        q = (e_all > s_all) & (arr[np.minimum(s_all, arr.shape[0] - 1)] == _QUOTE)
        s_all = s_all + q
        e_all = e_all - q
    length = e_all - s_all
    first = arr[np.minimum(s_all, arr.shape[0] - 1)]
    valid = (length == 0) | ((length == 1) & (first >= 49) & (first <= 52))
    if not valid.all():
        r, j = np.unravel_index(int(np.argmin(valid.ravel())), valid.shape)
        raw = block[int(s_all[r, j]):int(e_all[r, j])]
        cell = raw.replace(b'""', b'"').decode("utf-8", errors="replace")
        raise CsvError(layout.path, int(line[r]), layout.names[cols[j]], _score_message(cell))
    scores = np.where(length == 1, first.astype(np.int16) - 48, 0).astype(np.int8)

    # Keys: group identical raw (agency, desk) byte strings with a hash, checked exactly.
    a_s, a_e = span(layout.agency)
    d_s, d_e = span(layout.desk)
    a_len, d_len = a_e - a_s, d_e - d_s
    wa, wd = int(a_len.max()), int(d_len.max())
    if wa + wd > _MAX_KEY_BYTES:
        return None
    mat = np.zeros((k, wa + wd + (-(wa + wd)) % 8), dtype=np.uint8)
    for s, ln, off, w in ((a_s, a_len, 0, wa), (d_s, d_len, wa, wd)):
        if w:
            pos = np.arange(w)
            take = pos[None, :] < ln[:, None]
            idx = np.minimum(s[:, None] + pos, arr.shape[0] - 1)
            mat[:, off:off + w] = np.where(take, arr[idx], 0)
    words = mat.view(np.uint64)
    h = np.zeros(k, dtype=np.uint64)
    for c in range(words.shape[1]):
        h = (h * np.uint64(0x100000001B3)) ^ words[:, c]
        h ^= h >> np.uint64(29)
    _, first_row, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not np.array_equal(mat, mat[first_row][inverse]):  # a hash collision: sort bytes
        _, first_row, inverse = np.unique(mat, axis=0, return_index=True,
                                          return_inverse=True)
        inverse = inverse.ravel()
    # Number the keys in order of first appearance.
    order = np.argsort(first_row)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    inverse = rank[inverse]
    keys: list[tuple[str, str]] = []
    for r in first_row[order].tolist():
        pair = []
        for col, s, e in ((layout.agency, a_s, a_e), (layout.desk, d_s, d_e)):
            raw = _unquote(block[int(s[r]):int(e[r])])
            name = layout.names[col]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CsvError(layout.path, int(line[r]), name, "not valid UTF-8") from None
            if text == "":
                raise CsvError(layout.path, int(line[r]), name, f"empty {name}")
            pair.append(text)
        keys.append((pair[0], pair[1]))
    return keys, inverse.astype(np.int64), scores


def _well_quoted(arr: np.ndarray) -> bool:
    """True when every quote opens a field, closes it, or is half of an escaped pair, so
    that quote parity alone tells inside from outside (exactly as the csv module reads
    it). Anything else (a stray quote inside an unquoted field) goes to the csv module."""
    q = np.flatnonzero(arr == _QUOTE)
    if q.size % 2:
        return False
    n = arr.shape[0]
    even, odd = q[0::2], q[1::2]
    prev = arr[np.maximum(even - 1, 0)]
    opens = (even == 0) | (prev == _COMMA) | (prev == _NL)
    # An even quote right after an odd one is the second half of an escaped pair.
    escaped = np.zeros(even.shape[0], dtype=bool)
    escaped[1:] = odd[:-1] == even[1:] - 1
    if not (opens | escaped).all():
        return False
    nxt = arr[np.minimum(odd + 1, n - 1)]
    closes = (odd + 1 < n) & ((nxt == _COMMA) | (nxt == _NL) | (nxt == _CR) | (nxt == _QUOTE))
    if not closes.all():
        return False
    # A closing quote followed by CR must be the end of a line.
    cr = odd[nxt == _CR]
    return not (cr.size and ((cr + 2 >= n).any() or (arr[np.minimum(cr + 2, n - 1)] != _NL).any()))


def _parse_with_csv(block: bytes, line0: int, layout: _Layout
                    ) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The reference path: the csv module, one row at a time."""
    text = block.decode("utf-8", errors="surrogateescape")
    # strict: an unterminated quote or text after a closing quote is an error, not a
    # record that silently swallows the following lines.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    keymap: dict[tuple[str, str], int] = {}
    ids: list[int] = []
    codes: list[int] = []
    width = layout.width
    cols = layout.scores
    previous = 0
    try:
        for row in reader:
            line = line0 + previous
            previous = reader.line_num
            if not row:
                continue
            if len(row) != width:
                raise CsvError(layout.path, line, None,
                               f"expected {width} fields, found {len(row)}")
            for col in (layout.agency, layout.desk):
                name = layout.names[col]
                if row[col] == "":
                    raise CsvError(layout.path, line, name, f"empty {name}")
                try:
                    row[col].encode("utf-8")
                except UnicodeEncodeError:
                    raise CsvError(layout.path, line, name, "not valid UTF-8") from None
            key = (row[layout.agency], row[layout.desk])
            ids.append(keymap.setdefault(key, len(keymap)))
            for col in cols:
                value = _SCORES.get(row[col])
                if value is None:
                    raise CsvError(layout.path, line, layout.names[col],
                                   _score_message(row[col]))
                codes.append(value)
    except csv.Error as exc:
        # Name the line where the broken record starts (where the quote was opened).
        message = str(exc)
        if "unexpected end of data" in message:
            message = "a quoted field is never closed"
        raise CsvError(layout.path, line0 + previous, None, message) from None
    scores = np.array(codes, dtype=np.int8).reshape(len(ids), len(cols))
    return list(keymap), np.array(ids, dtype=np.int64), scores
