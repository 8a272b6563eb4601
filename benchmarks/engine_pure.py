"""Benchmark of the pure IKM engine. Run: ``python -m benchmarks.engine_pure``
(``--smoke``: a few thousand rows, in seconds, for the checks only).

1. Engine time for a dashboard: 50 agencies x 10 desks (550 results with intervals,
   grade probabilities and element intervals) from sufficient statistics of about
   1,000,000 synthetic responses (the product target is < 0.2 s per dashboard including
   the database reads, so the engine must stay well under 50 ms).
2. The same numbers from samplics 0.6.1 on the raw rows, side by side: time and the
   largest relative difference (index point, SE, t interval; element NRR and SE).
3. ``ikm compute`` as a whole process on a generated 1,000,000-row CSV (target < 3 s).

Exit status 1 when samplics and the engine differ by more than a relative 1e-9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.lib import ROOT, TOLERANCE, choices, parse_args, rel_diff, unpadded
from survey.ikm import PERMENPAN_2017, estimate_groups, reduce_rows
from survey.ikm.csvio import read_responses

AGENCIES, DESKS = 50, 10


def synthetic(rows: int, seed: int = 2025) -> dict[str, np.ndarray]:
    """Responses with unequal desk sizes, desk-specific answer distributions and ~2%
    blanks; 40 agencies know their desks' populations (stratified), 10 do not (pooled)."""
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0, 0.6, AGENCIES * DESKS)
    sizes = np.maximum(np.round(sizes / sizes.sum() * rows).astype(int), 2)
    sizes[-1] += rows - sizes.sum()
    stratum = np.repeat(np.arange(AGENCIES * DESKS), sizes)
    probs = rng.dirichlet([1, 2, 8, 6], size=AGENCIES * DESKS)
    cum = probs.cumsum(axis=1)[stratum]
    u = rng.random((rows, 9))
    y = 1 + (u[:, :, None] > cum[:, None, :3]).sum(axis=2)
    y[rng.random((rows, 9)) < 0.02] = 0
    order = rng.permutation(rows)
    pops = np.round(sizes * rng.uniform(1.2, 15, AGENCIES * DESKS)).astype(int)
    return {"stratum": stratum[order], "y": y[order].astype(np.int8), "pops": pops}


def nested(data: dict[str, np.ndarray], stats: dict[int, object]
           ) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, int | None]]]:
    groups: dict[str, dict[str, object]] = {}
    pops: dict[str, dict[str, int | None]] = {}
    for s, st in stats.items():
        agency, desk = f"AG{s // DESKS:02d}", f"D{s % DESKS}"
        groups.setdefault(agency, {})[desk] = st
        known = s // DESKS < 40
        pops.setdefault(agency, {})[desk] = int(data["pops"][s]) if known else None
    return groups, pops


def engine_timing(groups, pops, repeat: int) -> tuple[list[float], dict]:
    times = []
    result = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = estimate_groups(groups, pops, PERMENPAN_2017)
        times.append(time.perf_counter() - t0)
    return times, result


def samplics_compare(data, groups, pops, result, max_agencies: int) -> tuple[float, dict]:
    """samplics on raw rows for every agency and desk result of the first agencies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import samplics
    c = np.array(PERMENPAN_2017.weights("exact"))
    worst: dict[str, float] = {}

    def rel(key: str, a: float, b: float) -> None:
        worst[key] = max(worst.get(key, 0.0), rel_diff(a, b))

    stratum, y = data["stratum"], data["y"].astype(np.float64)
    t_total = 0.0
    for a in range(min(max_agencies, AGENCIES)):
        agency = f"AG{a:02d}"
        sel_a = (stratum // DESKS) == a
        ya, sa = y[sel_a], stratum[sel_a] % DESKS
        cases = [(None, np.ones(len(ya), dtype=bool))] + [
            (f"D{d}", sa == d) for d in range(DESKS)]
        for desk, sel in cases:
            est = result[agency].estimate if desk is None else result[agency].desks[desk]
            yy, ss = ya[sel], sa[sel]
            desks = sorted(set(ss.tolist()))
            big_n = {d: pops[agency][f"D{d}"] for d in desks}
            n_h = {d: int((ss == d).sum()) for d in desks}
            strat = all(v is not None for v in big_n.values())
            w = np.array([big_n[d] / n_h[d] if strat else 1.0 for d in ss.tolist()])
            if desk is not None:
                w = np.ones(len(yy))  # one stratum: weights cancel
            fpc = {d: (1 - n_h[d] / big_n[d]) if big_n[d] is not None and (strat or desk)
                   else 1.0 for d in desks}
            r = (yy > 0).astype(np.float64)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ratios, big_x = [], []
                for j in range(9):
                    ref = samplics.TaylorEstimator(samplics.PopParam.ratio)
                    ref.estimate(y=r[:, j] * yy[:, j], x=r[:, j], samp_weight=w, stratum=ss,
                                 fpc=fpc)
                    ratios.append(ref.point_est)
                    big_x.append(float(np.sum(w * r[:, j])))
                    el = est.elements[j]
                    rel("element nrr", el.nrr, ref.point_est)
                    rel("element se", el.se, ref.stderror)
                rr, bx = np.array(ratios), np.array(big_x)
                z = (w[:, None] * r * (yy - rr[None, :]) / bx[None, :]) @ c
                ref = samplics.TaylorEstimator(samplics.PopParam.total)
                ref.estimate(y=(z + 1) / w, samp_weight=w, stratum=ss, fpc=fpc)
            t_total += time.perf_counter() - t0
            rel("ikm point", est.ikm, float(c @ rr))
            rel("ikm se", est.se, ref.stderror)
            from scipy.stats import t as student
            q = student.ppf(0.975, ref.degree_of_freedom)
            rel("ikm ci_t", est.ci_t[0], 25 * (float(c @ rr) - q * ref.stderror))
    return t_total, worst


def write_csv(path: Path, data: dict[str, np.ndarray], export: bool = False) -> None:
    """A responses CSV built as bytes with numpy. ``export`` mimics the system's own
    export: more columns, CRLF, a BOM and quoted free-text comments with commas, quotes
    and line breaks."""
    s, y = data["stratum"], data["y"]
    n = len(s)
    a, d = s // DESKS, s % DESKS
    agencies = [f"AG{i:02d}".encode() for i in range(AGENCIES)]
    desks = [f"D{i}".encode() for i in range(DESKS)]
    cells = [b"", b"1", b"2", b"3", b"4"]
    comma = choices([b","], np.zeros(n, dtype=np.int64))
    eol = b"\r\n" if export else b"\n"
    parts = []
    if export:
        ids = np.arange(n)
        digits = [choices([str(k).encode() for k in range(10)], (ids // 10**p) % 10)
                  for p in range(6, -1, -1)]
        parts += [*digits, choices([b",2025-01-02T08:00:00,"], np.zeros(n, np.int64))]
    parts += [choices(agencies, a), comma]
    if export:
        parts += [choices([b"KTP,"], np.zeros(n, np.int64))]
    parts += [choices(desks, d)]
    if export:
        parts += [choices([b",qr"], np.zeros(n, np.int64))]
    for j in range(9):
        parts += [comma, choices(cells, y[:, j].astype(np.int64))]
    if export:
        notes = [b"", b"", b'"cepat, ramah"', b'"bilang ""tunggu"""', b'"baris\nkedua"', b"ok"]
        parts += [choices([b",1,0,"], np.zeros(n, np.int64)),
                  choices(notes, np.arange(n) % len(notes))]
    parts.append(choices([eol], np.zeros(n, dtype=np.int64)))
    body = unpadded(parts)
    codes = ",".join(f"U{j}" for j in range(1, 10))
    if export:
        header = (b"\xef\xbb\xbfresponse_id,submitted_at,agency,service,desk,channel,"
                  + codes.encode() + b",verified,flagged,comment" + eol)
    else:
        header = b"agency,desk," + codes.encode() + eol
    path.write_bytes(header + body)


def write_pops(path: Path, data: dict[str, np.ndarray]) -> None:
    lines = ["agency,desk,population"]
    for s, p in enumerate(data["pops"].tolist()):
        if s // DESKS < 40:
            lines.append(f"AG{s // DESKS:02d},D{s % DESKS},{p}")
    path.write_text("\n".join(lines) + "\n")


def cli_timing(csv_path: Path, pop_path: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "survey.ikm.cli", "compute", str(csv_path),
             "--populations", str(pop_path)],
            capture_output=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.decode())
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--samplics-agencies", type=int, default=AGENCIES,
                        help="agencies to recompute with samplics (each: 11 results)")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--cli-repeat", type=int, default=3,
                        help="runs of `ikm compute` per CSV (the best one is shown)")
    args = parse_args(parser, argv, {"rows": 5000, "repeat": 2, "samplics_agencies": 3,
                                     "cli_repeat": 1},
                      "5,000 rows, 3 agencies through samplics")

    print(f"# IKM engine benchmark: {AGENCIES} agencies x {DESKS} desks, "
          f"{args.rows:,} responses, {os.cpu_count()} CPUs")
    data = synthetic(args.rows)
    t0 = time.perf_counter()
    stats = reduce_rows(data["stratum"], data["y"])
    t_reduce = time.perf_counter() - t0
    groups, pops = nested(data, stats)
    times, result = engine_timing(groups, pops, args.repeat)
    n_results = sum(1 + len(g.desks) for g in result.values())
    rows = [("reduce raw rows to sufficient statistics (one-off)", f"{t_reduce * 1e3:9.1f} ms")]
    rows.append((f"engine: {n_results} results, median of {args.repeat}",
                 f"{statistics.median(times) * 1e3:9.1f} ms"))
    rows.append(("engine: best run", f"{min(times) * 1e3:9.1f} ms"))
    one = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        estimate_groups({"AG00": groups["AG00"]}, {"AG00": pops["AG00"]}, PERMENPAN_2017)
        one.append(time.perf_counter() - t0)
    rows.append(("engine: one agency drill-down (11 results), median",
                 f"{statistics.median(one) * 1e3:9.1f} ms"))

    t_samplics, worst = samplics_compare(data, groups, pops, result, args.samplics_agencies)
    checked = min(args.samplics_agencies, AGENCIES) * (DESKS + 1)
    rows.append((f"samplics 0.6.1 on raw rows: {checked} results (10 calls each)",
                 f"{t_samplics * 1e3:9.1f} ms"))
    for key, value in worst.items():
        rows.append((f"  max relative difference, {key}", f"{value:12.2e}"))

    if not args.skip_cli:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path, pop_path = Path(tmp) / "responses.csv", Path(tmp) / "pop.csv"
            write_csv(csv_path, data)
            write_pops(pop_path, data)
            size = csv_path.stat().st_size
            t0 = time.perf_counter()
            read_responses(csv_path)
            t_read = time.perf_counter() - t0
            rows.append((f"read {args.rows:,}-row CSV ({size / 1e6:.0f} MB) in-process",
                         f"{t_read * 1e3:9.1f} ms"))
            cli = cli_timing(csv_path, pop_path, args.cli_repeat)
            rows.append((f"`ikm compute` whole process (best of {args.cli_repeat})",
                         f"{min(cli) * 1e3:9.1f} ms"))
            write_csv(csv_path, data, export=True)
            size = csv_path.stat().st_size
            cli = cli_timing(csv_path, pop_path, args.cli_repeat)
            rows.append((f"  same, system export format ({size / 1e6:.0f} MB, quoted comments)",
                         f"{min(cli) * 1e3:9.1f} ms"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}")
    print(f"{'-' * width}  {'-' * 12}")
    for label, value in rows:
        print(f"{label:<{width}}  {value:>12}")
    failed = {key: value for key, value in worst.items() if not value <= TOLERANCE}
    for key, value in failed.items():
        print(f"FAIL  samplics == engine, {key}: max relative difference {value:.2e} > "
              f"{TOLERANCE:g}")
    return 1 if failed or not worst else 0


if __name__ == "__main__":
    sys.exit(main())
