"""The respondent profile of the standard questionnaire: the optional questions about who
answered, and their fixed choices. The database checks every stored value against these
(survey.core.models), and every channel (web form, paper sheet, CSV import) reads them
from here. A missing value (NULL) means not stated: declined or left blank."""

from __future__ import annotations

SEXES = ("L", "P")
AGE_BANDS = ("<20", "20-29", "30-39", "40-49", "50-59", "60+")
EDUCATIONS = ("SD", "SMP", "SMA", "D1-D3-D4", "S1", "S2", "S3")
OCCUPATIONS = ("PNS", "TNI", "POLRI", "Swasta", "Wirausaha", "Lainnya")

# question -> its choices, in the order the form shows them
PROFILE: dict[str, tuple[str, ...]] = {
    "sex": SEXES, "age": AGE_BANDS, "education": EDUCATIONS, "occupation": OCCUPATIONS,
}
