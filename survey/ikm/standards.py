"""Questionnaire standards: elements, texts, weights and grade bands.

This module is the single source of the regulation's facts. The database seed, the
citizen form, the engine and the reports all read from here, so that an element code,
a question or a grade cut exists exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

WEIGHT_MODES = ("exact", "0.111", "0.11")


@dataclass(frozen=True)
class ElementDef:
    """One element (unsur) of a standard questionnaire, with its texts in both languages."""

    code: str
    name_id: str
    name_en: str
    question_id: str
    question_en: str
    labels_id: tuple[str, str, str, str]
    labels_en: tuple[str, str, str, str]


@dataclass(frozen=True)
class Band:
    """A grade and the lowest converted value (25..100, two decimals) that earns it."""

    grade: str
    lower: Decimal
    label_id: str
    label_en: str


@dataclass(frozen=True)
class Standard:
    code: str
    title_id: str
    title_en: str
    elements: tuple[ElementDef, ...]
    bands: tuple[Band, ...]  # from the best grade down; the last has lower 25.00

    @property
    def element_codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.elements)

    def weights(self, mode: str = "exact") -> tuple[float, ...]:
        """Element weights. `0.111` and `0.11` reproduce hand-printed reports, which round 1/J
        to three or two decimals (0.111/0.11 for nine elements, 0.071/0.07 for fourteen)."""
        j = len(self.elements)
        if mode == "exact":
            return (1.0 / j,) * j
        if mode == "0.111":
            return (round_half_up(1.0 / j, 3),) * j
        if mode == "0.11":
            return (round_half_up(1.0 / j, 2),) * j
        raise ValueError(f"unknown weight mode {mode!r}; use one of {', '.join(WEIGHT_MODES)}")

    def grade(self, converted: float) -> Band:
        """The band of a converted index: round half-up to two decimals, then compare with
        the lower bounds (the published bands leave 0.01 gaps; this is the project's rule)."""
        value = display_decimal(converted)
        for band in self.bands:
            if value >= band.lower:
                return band
        return self.bands[-1]

    def cuts(self) -> tuple[float, ...]:
        """Cut points between grades on the converted scale, ascending (e.g. 64.995, 76.605,
        88.305): a value at or above a cut rounds into the higher band."""
        return tuple(float(b.lower) - 0.005 for b in reversed(self.bands[:-1]))


def round_half_up(value: float, places: int = 2) -> float:
    return float(display_decimal(value, places))


def display_decimal(value: float, places: int = 2) -> Decimal:
    """Half-up rounding for display and grading. The value is first rounded to nine decimals
    so that float noise (88.37499999999999 for an exact 88.375) cannot flip the result."""
    exact = Decimal(repr(round(float(value), 9)))
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


_LABEL_EN = {"A": "Very good", "B": "Good", "C": "Poor", "D": "Very poor"}
_LABEL_ID = {"A": "Sangat baik", "B": "Baik", "C": "Kurang baik", "D": "Tidak baik"}


def _bands(*lowers: str) -> tuple[Band, ...]:
    return tuple(
        Band(g, Decimal(lo), _LABEL_ID[g], _LABEL_EN[g])
        for g, lo in zip("ABCD", lowers, strict=True)
    )


def _e(code, name_id, name_en, q_id, q_en, labels_id, labels_en) -> ElementDef:
    return ElementDef(code, name_id, name_en, q_id, q_en, tuple(labels_id), tuple(labels_en))


PERMENPAN_2017 = Standard(
    code="permenpan-14-2017",
    title_id="Survei Kepuasan Masyarakat (PermenPAN-RB No. 14 Tahun 2017)",
    title_en="Community Satisfaction Survey (PermenPAN-RB Regulation 14/2017)",
    elements=(
        _e("U1", "Persyaratan", "Requirements",
           "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis "
           "pelayanannya?",
           "How well do the service requirements match the type of service you received?",
           ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
           ("Not appropriate", "Less appropriate", "Appropriate", "Very appropriate")),
        _e("U2", "Sistem, Mekanisme, dan Prosedur", "Systems, mechanisms and procedures",
           "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
           "How easy did you find the service procedure at this unit?",
           ("Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah"),
           ("Not easy", "Less easy", "Easy", "Very easy")),
        _e("U3", "Waktu Penyelesaian", "Completion time",
           "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan pelayanan?",
           "How fast was the service delivered?",
           ("Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat"),
           ("Not fast", "Less fast", "Fast", "Very fast")),
        _e("U4", "Biaya/Tarif", "Cost/tariff",
           "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?",
           "How fair was the cost or tariff of the service?",
           ("Sangat mahal", "Cukup mahal", "Murah", "Gratis"),
           ("Very expensive", "Fairly expensive", "Cheap", "Free of charge")),
        _e("U5", "Produk Spesifikasi Jenis Pelayanan", "Service product specification",
           "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara yang tercantum "
           "dalam standar pelayanan dengan hasil yang diberikan?",
           "How well did the service product you received match what the service standard "
           "promises?",
           ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
           ("Not appropriate", "Less appropriate", "Appropriate", "Very appropriate")),
        _e("U6", "Kompetensi Pelaksana", "Staff competence",
           "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam pelayanan?",
           "How competent and capable were the staff who served you?",
           ("Tidak kompeten", "Kurang kompeten", "Kompeten", "Sangat kompeten"),
           ("Not competent", "Less competent", "Competent", "Very competent")),
        _e("U7", "Perilaku Pelaksana", "Staff behaviour",
           "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan terkait kesopanan "
           "dan keramahan?",
           "How polite and friendly were the staff who served you?",
           ("Tidak sopan dan ramah", "Kurang sopan dan ramah", "Sopan dan ramah",
            "Sangat sopan dan ramah"),
           ("Not polite and friendly", "Less polite and friendly", "Polite and friendly",
            "Very polite and friendly")),
        _e("U8", "Sarana dan Prasarana", "Facilities and infrastructure",
           "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?",
           "How good is the quality of the facilities and infrastructure?",
           ("Buruk", "Cukup", "Baik", "Sangat baik"),
           ("Poor", "Adequate", "Good", "Very good")),
        _e("U9", "Penanganan Pengaduan, Saran dan Masukan",
           "Handling of complaints, suggestions and feedback",
           "Bagaimana pendapat Saudara tentang penanganan pengaduan pengguna layanan?",
           "How are complaints from service users handled?",
           ("Tidak ada", "Ada tetapi tidak berfungsi", "Berfungsi kurang maksimal",
            "Dikelola dengan baik"),
           ("There is none", "Exists but does not work", "Works, but not fully",
            "Well managed")),
    ),
    bands=_bands("88.31", "76.61", "65.00", "25.00"),
)

KEPMENPAN_2004 = Standard(
    code="kepmenpan-25-2004",
    title_id="Indeks Kepuasan Masyarakat (KEP/25/M.PAN/2/2004)",
    title_en="Community Satisfaction Index (KEP/25/M.PAN/2/2004)",
    elements=(
        _e("U1", "Prosedur pelayanan", "Service procedure",
           "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
           "How easy did you find the service procedure at this unit?",
           ("Tidak mudah", "Kurang mudah", "Mudah", "Sangat mudah"),
           ("Not easy", "Less easy", "Easy", "Very easy")),
        _e("U2", "Persyaratan pelayanan", "Service requirements",
           "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis "
           "pelayanannya?",
           "How well do the service requirements match the type of service?",
           ("Tidak sesuai", "Kurang sesuai", "Sesuai", "Sangat sesuai"),
           ("Not appropriate", "Less appropriate", "Appropriate", "Very appropriate")),
        _e("U3", "Kejelasan petugas pelayanan", "Clarity of service staff",
           "Bagaimana pendapat Saudara tentang kejelasan dan kepastian petugas yang melayani?",
           "How clear and certain was it who the serving staff were?",
           ("Tidak jelas", "Kurang jelas", "Jelas", "Sangat jelas"),
           ("Not clear", "Less clear", "Clear", "Very clear")),
        _e("U4", "Kedisiplinan petugas pelayanan", "Discipline of service staff",
           "Bagaimana pendapat Saudara tentang kedisiplinan petugas dalam memberikan pelayanan?",
           "How disciplined were the staff in providing the service?",
           ("Tidak disiplin", "Kurang disiplin", "Disiplin", "Sangat disiplin"),
           ("Not disciplined", "Less disciplined", "Disciplined", "Very disciplined")),
        _e("U5", "Tanggung jawab petugas pelayanan", "Responsibility of service staff",
           "Bagaimana pendapat Saudara tentang tanggung jawab petugas dalam memberikan "
           "pelayanan?",
           "How responsible were the staff in providing the service?",
           ("Tidak bertanggung jawab", "Kurang bertanggung jawab", "Bertanggung jawab",
            "Sangat bertanggung jawab"),
           ("Not responsible", "Less responsible", "Responsible", "Very responsible")),
        _e("U6", "Kemampuan petugas pelayanan", "Ability of service staff",
           "Bagaimana pendapat Saudara tentang kemampuan petugas dalam memberikan pelayanan?",
           "How capable were the staff in providing the service?",
           ("Tidak mampu", "Kurang mampu", "Mampu", "Sangat mampu"),
           ("Not capable", "Less capable", "Capable", "Very capable")),
        _e("U7", "Kecepatan pelayanan", "Speed of service",
           "Bagaimana pendapat Saudara tentang kecepatan pelayanan di unit ini?",
           "How fast was the service at this unit?",
           ("Tidak cepat", "Kurang cepat", "Cepat", "Sangat cepat"),
           ("Not fast", "Less fast", "Fast", "Very fast")),
        _e("U8", "Keadilan mendapatkan pelayanan", "Fairness in obtaining service",
           "Bagaimana pendapat Saudara tentang keadilan untuk mendapatkan pelayanan di unit ini?",
           "How fair was access to the service at this unit?",
           ("Tidak adil", "Kurang adil", "Adil", "Sangat adil"),
           ("Not fair", "Less fair", "Fair", "Very fair")),
        _e("U9", "Kesopanan dan keramahan petugas", "Courtesy and friendliness of staff",
           "Bagaimana pendapat Saudara tentang kesopanan dan keramahan petugas dalam memberikan "
           "pelayanan?",
           "How polite and friendly were the staff in providing the service?",
           ("Tidak sopan dan ramah", "Kurang sopan dan ramah", "Sopan dan ramah",
            "Sangat sopan dan ramah"),
           ("Not polite and friendly", "Less polite and friendly", "Polite and friendly",
            "Very polite and friendly")),
        _e("U10", "Kewajaran biaya pelayanan", "Reasonableness of service cost",
           "Bagaimana pendapat Saudara tentang kewajaran biaya untuk mendapatkan pelayanan?",
           "How reasonable was the cost of obtaining the service?",
           ("Tidak wajar", "Kurang wajar", "Wajar", "Sangat wajar"),
           ("Not reasonable", "Less reasonable", "Reasonable", "Very reasonable")),
        _e("U11", "Kepastian biaya pelayanan", "Certainty of service cost",
           "Bagaimana pendapat Saudara tentang kesesuaian antara biaya yang dibayarkan dengan "
           "biaya yang telah ditetapkan?",
           "How well did the cost you paid match the cost that had been set?",
           ("Selalu tidak sesuai", "Kadang-kadang sesuai", "Banyak sesuainya", "Selalu sesuai"),
           ("Never matched", "Sometimes matched", "Mostly matched", "Always matched")),
        _e("U12", "Kepastian jadwal pelayanan", "Certainty of service schedule",
           "Bagaimana pendapat Saudara tentang ketepatan pelaksanaan terhadap jadwal waktu "
           "pelayanan?",
           "How punctually was the service schedule kept?",
           ("Selalu tidak tepat", "Kadang-kadang tepat", "Banyak tepatnya", "Selalu tepat"),
           ("Never on time", "Sometimes on time", "Mostly on time", "Always on time")),
        _e("U13", "Kenyamanan lingkungan", "Comfort of the environment",
           "Bagaimana pendapat Saudara tentang kenyamanan di lingkungan unit pelayanan?",
           "How comfortable is the environment of the service unit?",
           ("Tidak nyaman", "Kurang nyaman", "Nyaman", "Sangat nyaman"),
           ("Not comfortable", "Less comfortable", "Comfortable", "Very comfortable")),
        _e("U14", "Keamanan pelayanan", "Security of service",
           "Bagaimana pendapat Saudara tentang keamanan pelayanan di unit ini?",
           "How safe and secure was the service at this unit?",
           ("Tidak aman", "Kurang aman", "Aman", "Sangat aman"),
           ("Not safe", "Less safe", "Safe", "Very safe")),
    ),
    bands=_bands("81.26", "62.51", "43.76", "25.00"),
)

STANDARDS: dict[str, Standard] = {s.code: s for s in (PERMENPAN_2017, KEPMENPAN_2004)}
DEFAULT_STANDARD = PERMENPAN_2017.code


def get_standard(code: str) -> Standard:
    try:
        return STANDARDS[code]
    except KeyError:
        raise ValueError(
            f"unknown standard {code!r}; use one of {', '.join(STANDARDS)}"
        ) from None
