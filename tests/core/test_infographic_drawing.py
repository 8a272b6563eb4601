"""The infographic's drawing: whatever the names, the number of elements and actions, or
the language, every text stays on the canvas and no two texts overlap (measured with
DejaVu Sans, the font the SVG asks for); what people typed is escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from itertools import combinations

import pytest
from PIL import Image, ImageFont

from survey.core import infographic as ig
from survey.core.periods import parse_period
from survey.core.profile import PROFILE

SVG = "{http://www.w3.org/2000/svg}"
LONG_NAME = ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kabupaten Kepulauan "
             "Siau Tagulandang Biaro, Provinsi Sulawesi Utara (Unit Pelayanan Perizinan dan "
             "Nonperizinan Terpadu Satu Pintu)")
TEXTS = ig.Texts(
    locale="en", number=lambda value, places: f"{value:,.{places}f}",
    survey="Community Satisfaction Survey", index="Community Satisfaction Index (IKM)",
    scale="on a scale of 25 to 100", interval="95% interval", grade="Service grade",
    grades={"A": "Very good", "B": "Good", "C": "Poor", "D": "Very poor"},
    no_grade="no grade (fewer than 10 responses)", respondents="Respondents",
    elements="Element scores (NRR × 25)", profile="Respondent profile",
    fields={"sex": "Sex", "age": "Age", "education": "Education",
            "occupation": "Occupation"},
    choices={"education": {"SMA": "Senior high school (SMA/SMK)"}},
    not_stated="Not stated", follow_ups="Follow-up plan",
    no_follow_ups="No follow-up actions for this period yet.",
    statuses={"planned": "Planned", "in_progress": "In progress"},
    more_follow_ups="The whole plan is on the public results page.",
    scan="Scan for the full results",
    basis="Computed according to PermenPAN-RB No. 14 of 2017.")


def sample(**changes) -> ig.Infographic:
    profile = {dim: tuple(ig.Slice(code, f"Answer {code or 'none'} with a long label", 7 + i)
                          for i, code in enumerate((*codes, "")))
               for dim, codes in PROFILE.items()}
    info = ig.Infographic(
        agency_code="KEC-A", agency_name="Kecamatan A", period=parse_period("2024-05"),
        period_label="May 2024", ikm=78.1749, ci=(76.5, 79.75), grade="B",
        grade_words="Good", n=1234,
        elements=tuple(ig.ElementRow(f"U{i}", f"Element {i}", 3.1, 77.5)
                       for i in range(1, 10)),
        profile=profile,
        actions=(ig.Action("Completion time", "Add a second clerk at the busy hours", "planned",
                           "Planned"),),
        url="https://survey.example.go.id/publik/KEC-A", texts=TEXTS)
    return replace(info, **changes)


EXTREME = {
    "long name": {"agency_name": LONG_NAME},
    "no grade, big numbers": {"grade": None, "grade_words": TEXTS.no_grade, "n": 12345678,
                              "ikm": 100.0, "ci": (100.0, 100.0)},
    "fourteen long elements": {"elements": tuple(
        ig.ElementRow(f"U{i}", "Clarity and certainty of the staff who serve the public at "
                               "the desk", 2.2, 55.0) for i in range(1, 15))},
    "many long actions": {"actions": tuple(
        ig.Action("Complaint handling", "Publish the complaint channels and answer each "
                  "complaint within five working days, with the answer posted " * 3,
                  "in_progress", "In progress") for _ in range(12))},
    "everything at once": {"agency_name": LONG_NAME * 2, "url": "https://skm." + "x" * 90
                           + ".go.id/publik/" + "A-" * 19 + "Z"},
}


def matrix(transform: str | None, outer: tuple[float, float, float]
           ) -> tuple[float, float, float]:
    """(scale, dx, dy) of a group: the translate/scale lists the drawing writes."""
    s, tx, ty = outer
    for op, args in re.findall(r"(translate|scale)\(([^)]*)\)", transform or ""):
        values = [float(v) for v in args.replace(",", " ").split()]
        if op == "scale":
            s *= values[0]
        else:
            tx, ty = tx + s * values[0], ty + s * (values[1] if len(values) > 1 else 0)
    return s, tx, ty


@pytest.fixture(scope="module")
def faces():
    try:
        return {bold: ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf",
                                         100) for bold in (False, True)}
    except OSError:
        pytest.skip("DejaVu Sans (fonts-dejavu-core) is not installed")


def boxes(svg: str, faces) -> list[tuple[str, float, float, float, float]]:
    """(text, left, right, top, bottom) of every text on the canvas."""
    out = []

    def walk(node, m):
        m = matrix(node.get("transform"), m)
        for child in node:
            if child.tag == SVG + "g":
                walk(child, m)
            elif child.tag == SVG + "text":
                s, tx, ty = m
                size = float(child.get("font-size"))
                face = faces[child.get("font-weight") == "bold"]
                width = face.getlength(child.text) * size / 100
                _l, ink_top, _r, ink_bottom = face.getbbox(child.text, anchor="ls")
                x, y = float(child.get("x")), float(child.get("y"))
                left = {"start": x, "middle": x - width / 2, "end": x - width}[
                    child.get("text-anchor", "start")]
                out.append((child.text, tx + s * left, tx + s * (left + width),
                            ty + s * (y + ink_top * size / 100),
                            ty + s * (y + ink_bottom * size / 100)))

    walk(ET.fromstring(svg), (1.0, 0.0, 0.0))
    return out


@pytest.mark.parametrize("layout", sorted(ig.SIZES))
@pytest.mark.parametrize("case", sorted(EXTREME))
def test_every_text_stays_on_the_canvas_and_apart(case, layout, faces):
    info = sample(**EXTREME[case])
    svg = ig.render_svg(info, layout)
    width, height = ig.SIZES[layout]
    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == (str(width), str(height))
    found = boxes(svg, faces)
    for text, left, right, top, bottom in found:
        assert left >= 16 and right <= width - 16, (text, left, right)
        assert top >= 0 and bottom <= height - 8, (text, top, bottom)
    for a, b in combinations(found, 2):
        apart = a[2] <= b[1] + 0.5 or b[2] <= a[1] + 0.5 or a[4] <= b[3] + 0.5 \
            or b[4] <= a[3] + 0.5
        assert apart, f"{a[0]!r} overlaps {b[0]!r}"
    # The agency's whole name is there, wrapped (and shrunk) rather than cut.
    lines = [t.text for t in root.iter(SVG + "text") if t.get("class") == "agency"]
    name = EXTREME[case].get("agency_name", "Kecamatan A")
    if len(name) <= 200:  # the longest name an agency can have
        assert " ".join(lines) == name
    if name == LONG_NAME:
        assert len(lines) >= 3
        sizes = {float(t.get("font-size")) for t in root.iter(SVG + "text")
                 if t.get("class") == "agency"}
        assert max(sizes) < ig.PORTRAIT.name


def test_what_people_typed_is_escaped():
    info = sample(agency_name='<script>alert("x")</script> & Co',
                  actions=(ig.Action("Cost", "</text><text>injected", "planned", "Planned"),))
    svg = ig.render_svg(info)
    root = ET.fromstring(svg)  # still well-formed XML
    texts = [t.text for t in root.iter(SVG + "text")]
    assert '<script>alert("x")</script> & Co' in " ".join(texts)
    assert "</text><text>injected" in texts
    assert "<script>" not in svg


@pytest.mark.parametrize("layout", sorted(ig.SIZES))
def test_the_png_has_the_exact_size(layout, tmp_path):
    png = ig.render_png(ig.render_svg(sample(), layout), layout)
    (tmp_path / "i.png").write_bytes(png)
    with Image.open(tmp_path / "i.png") as image:
        assert image.size == ig.SIZES[layout]
        assert image.format == "PNG"
