"""``ikm``: compute the index from CSV files, without the web application. This module only
reads the command line; the work is survey.ikm.compute, .table and .bundle.

    ikm compute RESPONSES.csv [--populations POP.csv] [--standard CODE]
                [--weights exact|0.111|0.11] [--confidence 0.95] [--format json|table]
    ikm verify BUNDLE.zip --public-key KEY.pem

Exit status 0 on success; 2 on a usage or input error, with one message on stderr and
nothing on stdout (so ``ikm compute ... > out.json`` never leaves half a file behind).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from survey.ikm import bundle
from survey.ikm.compute import compute
from survey.ikm.csvio import CsvError
from survey.ikm.engine import to_json_dict
from survey.ikm.standards import DEFAULT_STANDARD, STANDARDS, WEIGHT_MODES
from survey.ikm.table import render_table

EXIT_INPUT = 2


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("must lie strictly between 0 and 1, e.g. 0.95")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ikm", description="Indeks Kepuasan Masyarakat (IKM) from survey responses.")
    sub = parser.add_subparsers(dest="command", required=True)
    compute = sub.add_parser(
        "compute", help="compute the index per agency and desk from a responses CSV",
        description="Columns agency, desk and the element codes (U1..U9) are required; "
        "other columns are ignored. An empty score cell is an unanswered element. An "
        "agency whose desks all have a population is stratified, otherwise pooled.")
    compute.add_argument("responses", help="responses CSV (UTF-8, header row)")
    compute.add_argument("--populations", metavar="POP.csv",
                         help="agency,desk,population: service users in the period")
    compute.add_argument("--standard", choices=sorted(STANDARDS), default=DEFAULT_STANDARD)
    compute.add_argument("--weights", choices=WEIGHT_MODES, default="exact",
                         help="element weights: exact 1/J, or the printed 0.111 / 0.11")
    compute.add_argument("--confidence", type=_confidence, default=0.95)
    compute.add_argument("--format", choices=("json", "table"), default="json")
    verify = sub.add_parser(
        "verify", help="verify a signed export bundle offline",
        description="Checks the Ed25519 signature over manifest.json, the SHA-256 of every "
        "file, and recomputes the results from responses.csv. Exit status 0 when "
        "everything matches, 1 when something does not, 2 on unusable input.")
    verify.add_argument("bundle", help="the bundle (.zip) downloaded from the system")
    verify.add_argument("--public-key", required=True, metavar="KEY.pem",
                        help="the system's public key (from /audit/public-key)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has already printed the usage message
        return int(exc.code or 0)
    if args.command == "verify":
        return _verify(args.bundle, args.public_key)
    try:
        results = compute(args.responses, args.populations, args.standard, args.weights,
                          args.confidence)
    except CsvError as exc:
        _fail(str(exc))
        return EXIT_INPUT
    if args.format == "json":
        text = json.dumps(to_json_dict(results.values()), indent=1, ensure_ascii=False,
                          allow_nan=False) + "\n"
    else:
        text = render_table(list(results.values()), args.standard, args.weights,
                            args.confidence)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _verify(path: str, public_key: str) -> int:
    try:
        with open(public_key, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        _fail(f"cannot read the public key: {exc}")
        return EXIT_INPUT
    report = bundle.verify(path, pem)
    sys.stdout.write(report.text())
    return 0 if report.ok else 1


def _fail(message: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write("ikm: error: " + message.encode("utf-8", "backslashreplace").decode("utf-8")
              + "\n")


if __name__ == "__main__":
    sys.exit(main())
