"""``ikm``: compute the index from CSV files, without the web application.

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

from survey.ikm.csvio import CsvError, read_populations, read_responses
from survey.ikm.engine import Estimate, GroupResult, estimate_groups, to_json_dict
from survey.ikm.standards import (
    DEFAULT_STANDARD,
    STANDARDS,
    WEIGHT_MODES,
    display_decimal,
    get_standard,
)
from survey.ikm.stats import StratumStats

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


def _verify(bundle: str, public_key: str) -> int:
    """Imported lazily: verification needs `cryptography`, the engine does not."""
    from survey.bundle import verify

    try:
        with open(public_key, "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        _fail(f"cannot read the public key: {exc}")
        return EXIT_INPUT
    report = verify(bundle, pem)
    sys.stdout.write(report.text())
    return 0 if report.ok else 1


def _fail(message: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    out.write("ikm: error: " + message.encode("utf-8", "backslashreplace").decode("utf-8")
              + "\n")


def compute(responses: str, populations: str | None, standard: str = DEFAULT_STANDARD,
            weights: str = "exact", confidence: float = 0.95) -> dict[str, GroupResult]:
    """Read the files and estimate every agency. Desks that appear only in the population
    file (under an agency that has responses) are kept as desks without respondents, so
    the agency's row says that its estimate does not cover them."""
    stats = read_responses(responses, standard)
    pops = read_populations(populations) if populations else {}
    groups: dict[str, dict[str, StratumStats]] = {}
    for (agency, desk), s in stats.items():
        groups.setdefault(agency, {})[desk] = s
    nested: dict[str, dict[str, int | None]] = {}
    n_elements = len(get_standard(standard).elements)
    for (agency, desk), pop in pops.items():
        if agency not in groups:
            continue
        groups[agency].setdefault(desk, StratumStats.zeros(n_elements))
        nested.setdefault(agency, {})[desk] = pop
    return estimate_groups(groups, nested, standard, weights, confidence)


# ---------------------------------------------------------------------------------------
# Table output


def _r2(value: float) -> str:
    return str(display_decimal(value, 2))


def _row(est: Estimate, desk: str) -> list[str]:
    probs = est.grade_probabilities
    p_grade = (_r2(probs[est.grade]) if probs is not None and est.grade is not None
               else "-")
    if est.required_sample is None:
        target = "-"
    else:
        target = f"{est.required_sample}{'' if est.sample_adequate else ' (short)'}"
    lowest = ", ".join(f"{e.code} {_r2(e.nrr_converted)}" for e in est.lowest_elements(3))
    return [
        est.agency or "",
        desk,
        est.method or "",
        str(est.n),
        str(est.population) if est.population is not None else "-",
        f"{_r2(100 * est.response_fraction)}%" if est.response_fraction is not None else "-",
        _r2(est.ikm_converted),
        f"{est.grade} {est.grade_label}" if est.grade else "- (n < 10)",
        p_grade,
        _r2(est.se_converted),
        f"{_r2(est.ci[0])} - {_r2(est.ci[1])}",
        target,
        lowest,
    ]


HEADER = ["agency", "desk", "method", "n", "N", "n/N", "IKM", "grade", "P(grade)", "SE",
          "CI", "KM target", "lowest elements"]


def render_table(results: list[GroupResult], standard: str, weights: str,
                 confidence: float, only_desk: str | None = None) -> str:
    """A plain-text table rounded for humans (half-up, two decimals). With ``only_desk``
    just that desk's row (still computed within its agency, with its agency's phi_pool)."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for g in sorted(results, key=lambda r: r.agency):
        if only_desk is not None:
            pass
        elif g.estimate is not None:
            rows.append(_row(g.estimate, "(all)"))
        else:
            rows.append([g.agency, "(all)", g.method, "0", *["-"] * 9])
            notes.append(f"{g.agency}: no estimate ({g.not_estimable.get(None, '')})")
        for desk in sorted(set(g.desks) | {d for d in g.not_estimable if d is not None}):
            if only_desk is not None and desk != only_desk:
                continue
            if desk in g.desks:
                rows.append(_row(g.desks[desk], desk))
            else:
                rows.append([g.agency, desk, "", "0", *["-"] * 9])
                notes.append(f"{g.agency}/{desk}: no estimate ({g.not_estimable[desk]})")
        if only_desk is not None:
            if only_desk in g.desks:
                notes.extend(f"{g.agency}/{only_desk}: {e}"
                             for e in g.desks[only_desk].data_errors)
        elif g.estimate is not None:
            notes.extend(f"{g.agency}: {e}" for e in g.estimate.data_errors)
            if g.estimate.single_respondent_strata:
                notes.append(f"{g.agency}: single-respondent desks add no variance: "
                             + ", ".join(g.estimate.single_respondent_strata))
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    numeric = {3, 4, 5, 6, 8, 9}

    def fmt(r: list[str]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    pct = _r2(100 * confidence).rstrip("0").rstrip(".")
    lines = [
        f"IKM ({standard}, weights {weights}); CI = published {pct}% interval; "
        "converted scale 25-100",
        "",
        fmt(HEADER),
        fmt(["-" * w for w in widths]),
        *(fmt(r) for r in rows),
        "",
        "Intervals cover sampling error only; QR responses are self-selected, so read n/N "
        "beside every index.",
    ]
    lines.extend(f"! {n}" for n in notes)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
