"""The league of a Mal Pelayanan Publik's agencies for one period, for the regency's
yearly coordination meeting: each agency's index exactly as its own report gives it, its
response rates, its change against the same period a year earlier, a rank that respects
the uncertainty of the index, a comparison with the MPP's other agencies under false
discovery rate control, and the three award views.

No statistics are computed here beyond calling the engine (one batch for all the agencies
and one for the year before, like the dashboard's `_children`); this module only decides
what to ask for and how to order it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.errors import NotFound
from survey.core.models import Agency
from survey.core.periods import Period, PeriodError
from survey.core.results import queries
from survey.ikm.compare import Comparison, MemberScreen, compare, screen_members
from survey.ikm.engine import Estimate, GroupResult, krejcie_morgan
from survey.ikm.standards import display_decimal
from survey.ikm.stats import StratumStats

CONFIDENCE = 0.95  # the intervals, the year-over-year test and the rank bands
FDR = 0.05         # the false discovery rate of the comparison with the other agencies
SORTS = ("ikm", "name", "n", "rate", "change")
NO_RESPONSES = "no_responses"            # why a row has no estimate
ELEMENT_UNANSWERED = "element_unanswered"


@dataclass(frozen=True)
class LeagueRow:
    """One agency of the MPP in the period.

    ``population`` is the number of citizens its desks served in the period by the
    service volumes: the sum over all its desks, including desks no respondent rated (so
    that a desk nobody rated lowers the rate rather than vanishing from it); None when a
    desk with respondents has no volume for the period, or no desk has one. ``target`` is
    the Krejcie-Morgan sample for that population. ``change`` compares the index with the
    same period a year earlier (None when either has no estimate)."""

    code: str
    name: str
    n: int
    estimate: Estimate | None
    reason: str | None  # NO_RESPONSES or ELEMENT_UNANSWERED when there is no estimate
    population: int | None
    target: int | None
    earlier: Estimate | None
    change: Comparison | None
    band: tuple[int, int] | None = None  # rank band [best, worst]
    screen: MemberScreen | None = None   # against the MPP's other agencies

    @property
    def rate_volume(self) -> float | None:
        """Respondents per citizen served in the period."""
        return self.n / self.population if self.population else None

    @property
    def rate_target(self) -> float | None:
        """Respondents per respondent the Krejcie-Morgan target asks for."""
        return self.n / self.target if self.target else None

    @property
    def confident(self) -> bool:
        """Its grade is certain at 95% (eligible for "highest satisfaction")."""
        return self.estimate is not None and self.estimate.confident_grade is not None

    @property
    def change_significant(self) -> bool:
        return change_significant(self.change)

    @property
    def band_text(self) -> str:
        """"2" or "1–3" (an en dash), empty without an estimate."""
        if self.band is None:
            return ""
        best, worst = self.band
        return str(best) if best == worst else f"{best}–{worst}"


def change_significant(change: Comparison | None) -> bool:
    """The year-over-year change is significant at the comparison's confidence: its
    two-sided p-value is below 1 - confidence (0.05), i.e. its interval excludes 0."""
    # 1 - 0.95 is 0.050000000000000044 in binary: rounded, p = 0.05 is not significant
    return (change is not None and change.p_value is not None
            and change.p_value < round(1 - change.confidence, 12))


# The change of an index in words, per language (the league page, the dashboard, the
# meeting report; an export may write in another language than the visitor's).
# Indonesian reports say "bermakna" for a statistically significant change.
CHANGE_WORDS = {
    "id": {"up": "naik {points} poin", "down": "turun {points} poin",
           "significant": "bermakna", "not_significant": "tidak bermakna",
           "untested": "tidak dapat diuji", "none": "tidak berbeda bermakna"},
    "en": {"up": "up {points} points", "down": "down {points} points",
           "significant": "significant", "not_significant": "not significant",
           "untested": "cannot be tested", "none": "no significant difference"},
}


def change_direction(comparison: Comparison) -> str:
    """"up", "down", or "" when the difference rounds to 0.00 (as change_in_words says
    it): the class that colours a change."""
    if display_decimal(abs(comparison.diff), 2) == 0:
        return ""
    return "up" if comparison.diff > 0 else "down"


def change_in_words(comparison: Comparison, lang: str,
                    points: Callable[[float], str]) -> str:
    """A change between two indexes as a reader says it: "naik 1,20 poin, bermakna",
    "down 0.85 points, not significant", and "tidak berbeda bermakna" / "no significant
    difference" when the difference rounds to 0.00. Significant means the two-sided
    p-value is below 1 - confidence (the interval of the difference excludes 0); with no
    spread on either side there is nothing to test. `points` formats the size (two
    places, in the language's format)."""
    words = CHANGE_WORDS[lang if lang in CHANGE_WORDS else "id"]
    direction = change_direction(comparison)
    if not direction:
        return words["none"]
    size = words[direction].format(points=points(abs(comparison.diff)))
    if comparison.p_value is None:
        verdict = words["untested"]
    else:
        verdict = words["significant" if change_significant(comparison)
                        else "not_significant"]
    return f"{size}, {verdict}"


@dataclass
class League:
    mpp: Agency
    period: Period
    earlier_period: Period | None  # the same period a year earlier (None before year 2)
    rows: list[LeagueRow]          # by IKM, best first (see `sorted`)
    confidence: float = CONFIDENCE
    fdr: float = FDR

    def sorted(self, key: str = "ikm") -> list[LeagueRow]:
        """The rows in one of SORTS (an unknown key sorts by IKM): IKM, n, response rate
        and change from the highest, name alphabetically; rows without the value last;
        ties by agency code, so the order is always the same."""
        order: dict[str, Callable[[LeagueRow], tuple]] = {
            "ikm": lambda r: _high_first(r.estimate.ikm_converted if r.estimate else None),
            "name": lambda r: (r.name.casefold(),),
            "n": lambda r: (-r.n,),
            "rate": lambda r: _high_first(r.rate_volume),
            "change": lambda r: _high_first(r.change.diff if r.change else None),
        }
        by = order.get(key, order["ikm"])
        return sorted(self.rows, key=lambda r: (*by(r), r.code))

    @property
    def highest_satisfaction(self) -> list[LeagueRow]:
        """Agencies whose grade is confident (probability >= 95%), by IKM."""
        return [r for r in self.sorted("ikm") if r.confident]

    @property
    def not_confident(self) -> list[LeagueRow]:
        """Agencies with an index but no confident grade (not eligible above)."""
        return [r for r in self.sorted("ikm") if r.estimate is not None and not r.confident]

    @property
    def most_active(self) -> list[LeagueRow]:
        """Agencies with a service volume, by respondents per citizen served."""
        return [r for r in self.sorted("rate") if r.rate_volume is not None]

    @property
    def without_volume(self) -> list[LeagueRow]:
        return [r for r in self.sorted("name") if r.rate_volume is None]

    @property
    def most_improved(self) -> list[LeagueRow]:
        """Agencies whose index rose significantly against a year earlier, the largest
        rise first."""
        return [r for r in self.sorted("change")
                if r.change_significant and r.change is not None and r.change.diff > 0]


def _high_first(value: float | None) -> tuple:
    return (value is None, -(value or 0.0))


def children_of(session: Session, mpp: Agency) -> list[Agency]:
    return list(session.scalars(select(Agency).where(Agency.parent_id == mpp.id)
                                .order_by(Agency.code)))


def build(session: Session, mpp: Agency, period: Period) -> League:
    """The league of the agencies directly below `mpp` in `period`. Each agency is
    compared with the others on the same questionnaire standard (an agency on another
    standard is compared only with those sharing it). NotFound (code ``no_children``)
    when no agency is below it."""
    children = children_of(session, mpp)
    if not children:
        raise NotFound(f"agency {mpp.code} has no agencies below it, so it has no league",
                       code="no_children", agency=mpp.code)
    scopes = queries.agency_scopes(session, children)
    inputs = queries.group_inputs(session, scopes, period)
    results = _estimate(inputs)
    try:
        earlier_period: Period | None = period.year_earlier()
    except PeriodError:
        earlier_period = None
    earlier = (_estimate(queries.group_inputs(session, scopes, earlier_period))
               if earlier_period is not None else {})

    screens: dict[str, MemberScreen] = {}
    for standard, groups in inputs.statistics.items():
        estimates = {code: results[code].estimate for code in groups
                     if results[code].estimate is not None}
        for screen in screen_members(groups, estimates, inputs.populations[standard],
                                     standard, confidence=CONFIDENCE, fdr=FDR,
                                     parent=mpp.code):
            screens[screen.member] = screen

    rows = []
    for scope in scopes:
        code = scope.agency.code
        standard = scope.questionnaire.standard
        stats = inputs.statistics.get(standard, {}).get(code, {})
        pops = inputs.populations.get(standard, {}).get(code, {})
        result = results.get(code)
        estimate = result.estimate if result is not None else None
        before = earlier.get(code)
        before_est = before.estimate if before is not None else None
        population = _served(stats, pops)
        rows.append(LeagueRow(
            code=code, name=scope.agency.name, n=sum(s.n for s in stats.values()),
            estimate=estimate,
            reason=None if estimate is not None else (
                ELEMENT_UNANSWERED if stats else NO_RESPONSES),
            population=population,
            target=krejcie_morgan(population) if population else None,
            earlier=before_est,
            change=(compare(estimate, before_est, CONFIDENCE)
                    if estimate is not None and before_est is not None else None),
            screen=screens.get(code)))
    bands = rank_bands({r.code: r.estimate.ci for r in rows if r.estimate is not None})
    league = League(mpp, period, earlier_period,
                    [replace(r, band=bands.get(r.code)) for r in rows])
    league.rows = league.sorted("ikm")
    return league


def _estimate(inputs: queries.GroupInputs) -> dict[str, GroupResult]:
    """The agencies' own estimates, run as `queries.compute_groups` runs them (and so
    `flask ikm report`); the league shows no desk."""
    return queries.run_engine(inputs, "exact", CONFIDENCE, desks=False)


def _served(stats: dict[str, StratumStats], pops: dict[str, int | None]) -> int | None:
    """Citizens served at the agency's desks in the period (see LeagueRow)."""
    if any(pops.get(key) is None for key in stats):
        return None
    known = [p for p in pops.values() if p is not None]
    return sum(known) if known else None


def rank_bands(intervals: dict[str, tuple[float, float]]) -> dict[str, tuple[int, int]]:
    """For each interval [low, high], the ranks it could hold: best = 1 + the number of
    others whose lower bound is above its upper bound (certainly better), worst = the
    number whose upper bound reaches its lower bound, itself included (possibly as good or
    better). Agencies whose intervals overlap share ranks."""
    out = {}
    for key, (low, high) in intervals.items():
        better = sum(1 for k, (lo, _hi) in intervals.items() if k != key and lo > high)
        reach = sum(1 for _k, (_lo, hi) in intervals.items() if hi >= low)
        out[key] = (1 + better, reach)
    return out
