"""The results as a plain-text table for people (`ikm compute --format table`, `flask ikm
report`): rounded half-up to two decimals, with the notes an auditor needs."""

from __future__ import annotations

from survey.ikm.engine import Estimate, GroupResult
from survey.ikm.standards import display_decimal


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
    just that desk's row (still computed within its agency, with the prior from its
    agency's other desks)."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for g in sorted(results, key=lambda r: r.agency):
        if only_desk is None and g.estimate is not None:
            rows.append(_row(g.estimate, "(all)"))
        elif only_desk is None:
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
