"""Questionnaire elements as immutable values, cached per process.

A questionnaire never changes once it exists (a changed questionnaire is a new version),
so the hot paths (the citizen form and storing a response) read its elements from this
cache instead of loading the same rows on every request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.core.models import Element


@dataclass(frozen=True)
class ElementView:
    id: int
    code: str
    position: int
    name_id: str
    name_en: str
    question_id: str
    question_en: str
    labels_id: tuple[str, ...]
    labels_en: tuple[str, ...]

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id

    def question(self, locale: str) -> str:
        return self.question_en if locale == "en" else self.question_id

    def labels(self, locale: str) -> tuple[str, ...]:
        return self.labels_en if locale == "en" else self.labels_id


_CACHE: dict[tuple[str, int], tuple[ElementView, ...]] = {}


def elements(session: Session, questionnaire_id: int) -> tuple[ElementView, ...]:
    """The questionnaire's elements in order (one query per questionnaire and process;
    keyed by database too, so tests on several databases never share entries)."""
    key = (str(session.get_bind().url), questionnaire_id)
    cached = _CACHE.get(key)
    if cached is None:
        rows = session.scalars(select(Element).where(Element.questionnaire_id ==
                                                     questionnaire_id)
                               .order_by(Element.position))
        cached = tuple(ElementView(e.id, e.code, e.position, e.name_id, e.name_en,
                                   e.question_id, e.question_en, tuple(e.labels_id),
                                   tuple(e.labels_en)) for e in rows)
        if cached:
            _CACHE[key] = cached
    return cached


def element_counts(session: Session) -> dict[int, int]:
    """Number of elements per questionnaire id (the width of its statistics)."""
    return dict(session.execute(
        select(Element.questionnaire_id, func.count()).group_by(Element.questionnaire_id)
    ).all())
