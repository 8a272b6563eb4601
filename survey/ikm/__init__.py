"""The IKM statistics engine: pure Python + numpy + scipy (no Flask, no database).

Feeding it
    ``StratumStats``: integer sufficient statistics of one desk (n; and per element pair
    cnt, sy, syy). Additive (``a + b``, ``sum_stats``), storable as a flat integer row
    (``to_flat`` / ``StratumStats.from_flat``, column names from ``flat_names``).
    ``StratumStats.from_scores(scores)``: from an (n, J) array, 0 = blank.
    ``reduce_rows(keys, scores)`` / ``reduce_flat(keys, rows, J)``: vectorised
    group-by of raw rows or rollup rows into ``{key: StratumStats}``.

Estimating (docs/methodology.md)
    ``estimate_groups({agency: {desk: stats}}, {agency: {desk: N or None}}, standard,
    weights="exact", confidence=0.95) -> {agency: GroupResult}``: the batch path for
    dashboards; every agency and desk in one vectorised pass.
    ``estimate_group(desks, populations, ...) -> GroupResult``: one agency.
    ``estimate_desk(stats, population, ..., prior=group.desk_priors[desk])``: one desk
    alone, identical to its row in the agency view when given its prior from the agency.
    ``GroupResult``: ``.estimate`` (agency, ``method`` stratified/pooled), ``.desks``,
    ``.phi_pool``, ``.element_phi_pool``, ``.desk_priors``, ``.not_estimable``.
    ``Estimate`` / ``ElementEstimate``: frozen results (point, SE, df, published ``ci``,
    ``ci_t``, grade, grade probabilities, Krejcie-Morgan target, ...).
    ``to_json_dict(results)``: the ``ikm compute --format json`` document.

Comparing
    ``compare(a, b) -> Comparison`` (Welch-Satterthwaite) and ``screen_desks(...)``
    (each desk against the rest of its agency, false discovery rate controlled);
    ``screen_members(...)`` the same for the agencies of a Mal Pelayanan Publik, each
    against the others together.

Also ``krejcie_morgan(N)``, ``grade_probabilities(ikm, se, df, standard)`` and the
readers ``read_responses`` / ``read_populations`` used by the ``ikm`` console script.
"""

from survey.ikm.compare import (
    Comparison,
    DeskScreen,
    MemberScreen,
    compare,
    screen_desks,
    screen_members,
    welch,
)
from survey.ikm.csvio import CsvError, read_populations, read_responses
from survey.ikm.engine import (
    POOLED,
    STRATIFIED,
    ElementEstimate,
    Estimate,
    GroupResult,
    estimate_desk,
    estimate_group,
    estimate_groups,
    estimate_to_dict,
    grade_probabilities,
    krejcie_morgan,
    to_json_dict,
)
from survey.ikm.standards import (
    DEFAULT_STANDARD,
    KEPMENPAN_2004,
    PERMENPAN_2017,
    STANDARDS,
    WEIGHT_MODES,
    Standard,
    get_standard,
)
from survey.ikm.stats import (
    StratumStats,
    flat_length,
    flat_names,
    reduce_flat,
    reduce_rows,
    sum_stats,
)

__all__ = [
    "DEFAULT_STANDARD",
    "KEPMENPAN_2004",
    "PERMENPAN_2017",
    "POOLED",
    "STANDARDS",
    "STRATIFIED",
    "WEIGHT_MODES",
    "Comparison",
    "CsvError",
    "DeskScreen",
    "ElementEstimate",
    "Estimate",
    "GroupResult",
    "MemberScreen",
    "Standard",
    "StratumStats",
    "compare",
    "estimate_desk",
    "estimate_group",
    "estimate_groups",
    "estimate_to_dict",
    "flat_length",
    "flat_names",
    "get_standard",
    "grade_probabilities",
    "krejcie_morgan",
    "read_populations",
    "read_responses",
    "reduce_flat",
    "reduce_rows",
    "screen_desks",
    "screen_members",
    "sum_stats",
    "to_json_dict",
    "welch",
]
