"""The index of every agency and desk in a responses CSV (and an optional populations CSV):
what `ikm compute` prints, what a signed bundle's manifest holds, and what its
verification recomputes."""

from __future__ import annotations

from survey.ikm.csvio import read_populations, read_responses
from survey.ikm.engine import GroupResult, estimate_groups
from survey.ikm.standards import DEFAULT_STANDARD, get_standard
from survey.ikm.stats import StratumStats


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
