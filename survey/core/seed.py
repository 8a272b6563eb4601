"""Seed data: the standard questionnaires (always) and a realistic demo (on request)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core import ledger
from survey.core.db import utcnow
from survey.core.models import Agency, Element, Questionnaire, ReportingPeriod
from survey.core.org import agencies, kiosks, users, volumes
from survey.core.org import desks as org_desks
from survey.core.org import periods as org_periods
from survey.core.org import services as org_services
from survey.core.periods import add_months, parse_period
from survey.core.profile import AGE_BANDS, EDUCATIONS, OCCUPATIONS
from survey.core.responses import NewResponse, record_responses
from survey.core.results import published
from survey.ikm.standards import STANDARDS, Standard


def seed_standards(session: Session) -> list[str]:
    """Create the standard questionnaires that are missing; returns the codes created."""
    created = []
    for standard in STANDARDS.values():
        if session.scalar(select(Questionnaire.id).where(Questionnaire.code == standard.code)):
            continue
        session.add(_questionnaire(standard))
        created.append(standard.code)
    ledger.ensure_head(session)
    session.flush()
    return created


def _questionnaire(standard: Standard) -> Questionnaire:
    return Questionnaire(
        code=standard.code,
        standard=standard.code,
        title_id=standard.title_id,
        title_en=standard.title_en,
        elements=[
            Element(code=e.code, position=i, name_id=e.name_id, name_en=e.name_en,
                    question_id=e.question_id, question_en=e.question_en,
                    labels_id=list(e.labels_id), labels_en=list(e.labels_en))
            for i, e in enumerate(standard.elements, start=1)
        ],
    )


# --- Demo: one Mal Pelayanan Publik ----------------------------------------------------
DEMO_ROOT = "MPP-HARAPAN"
DEMO_MONTHS = 24
DEMO_PASSWORD = "demo-password"
DEMO_USERS = (  # role, e-mail, agencies
    ("admin", "admin@demo.test", ()),
    ("agency_manager", "manager.dukcapil@demo.test", ("DUKCAPIL",)),
    ("agency_manager", "manager.mpp@demo.test", (DEMO_ROOT,)),
    ("auditor", "auditor@demo.test", ()),
    ("desk_staff", "petugas.samsat@demo.test", ("SAMSAT",)),
)


@dataclass(frozen=True)
class DemoDesk:
    code: str
    name: str
    location: str
    quality: tuple[float, ...]  # latent mean per element U1..U9 on the 1..4 scale
    share: float  # share of the agency's respondents
    served: int  # citizens served per month


@dataclass(frozen=True)
class DemoAgency:
    code: str
    name: str
    head: str
    nip: str | None
    services: tuple[tuple[str, str, str], ...]  # code, name (id), name (en)
    desks: tuple[DemoDesk, ...]
    respondents: int  # per year
    # Change of the latent answers per year (points on the 1..4 scale), so that the
    # year-over-year comparisons and the league's "most improved" have something to show.
    drift: float = 0.0


DEMO_AGENCIES = (
    DemoAgency(
        "DUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil", "Dra. Sri Wahyuni, M.Si.",
        "197003121995032004",
        (("KTP", "Perekaman dan pencetakan KTP-el", "Electronic ID card (KTP-el)"),
         ("KK", "Penerbitan Kartu Keluarga", "Family card"),
         ("AKTA", "Akta kelahiran dan kematian", "Birth and death certificates"),
         ("PINDAH", "Surat keterangan pindah", "Change of residence letter")),
        (DemoDesk("L1", "Loket 1 KTP-el", "Lantai 1, sayap timur",
                  (3.1, 3.0, 2.5, 3.9, 3.1, 3.2, 3.3, 2.9, 2.6), 0.45, 1400),
         DemoDesk("L2", "Loket 2 Kartu Keluarga", "Lantai 1, sayap timur",
                  (3.3, 3.2, 3.0, 3.9, 3.3, 3.3, 3.4, 3.0, 2.9), 0.35, 900),
         DemoDesk("L3", "Loket 3 Akta", "Lantai 1, sayap timur",
                  (3.4, 3.3, 3.2, 3.9, 3.4, 3.5, 3.6, 3.1, 3.0), 0.20, 400)),
        1300, 0.25,
    ),
    DemoAgency(
        "DPMPTSP", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
        "Ir. Bambang Hartono, M.T.", "196805171994031007",
        (("NIB", "Perizinan berusaha (NIB)", "Business licensing (NIB)"),
         ("PBG", "Persetujuan Bangunan Gedung", "Building approval (PBG)"),
         ("INFO", "Informasi dan konsultasi", "Information and advice")),
        (DemoDesk("L1", "Loket 1 Perizinan Berusaha", "Lantai 2",
                  (3.5, 3.3, 3.2, 3.8, 3.4, 3.5, 3.6, 3.4, 3.2), 0.45, 500),
         DemoDesk("L2", "Loket 2 PBG", "Lantai 2",
                  (3.0, 2.7, 2.4, 3.2, 3.0, 3.2, 3.3, 3.2, 2.8), 0.30, 200),
         DemoDesk("L3", "Loket 3 Informasi dan Pengaduan", "Lantai 2",
                  (3.6, 3.5, 3.6, 3.9, 3.5, 3.6, 3.7, 3.4, 3.5), 0.25, 300)),
        800, 0.05,
    ),
    DemoAgency(
        "SAMSAT", "UPT Sistem Administrasi Manunggal Satu Atap", "AKBP Hendra Gunawan",
        "197511201998031002",
        (("PKB", "Pembayaran pajak kendaraan tahunan", "Annual vehicle tax"),
         ("BBN", "Balik nama kendaraan", "Vehicle ownership transfer"),
         ("STNK", "Pengesahan dan penerbitan STNK", "Vehicle registration certificate")),
        (DemoDesk("L1", "Loket 1 Pendaftaran", "Lantai 1, sayap barat",
                  (3.2, 3.1, 2.9, 2.6, 3.2, 3.2, 3.2, 3.0, 2.9), 0.40, 1800),
         DemoDesk("L2", "Loket 2 Pembayaran", "Lantai 1, sayap barat",
                  (3.3, 3.2, 3.1, 2.5, 3.3, 3.3, 3.3, 3.0, 2.9), 0.35, 1700),
         DemoDesk("L3", "Loket 3 Penyerahan STNK", "Lantai 1, sayap barat",
                  (3.3, 3.3, 2.8, 2.7, 3.3, 3.4, 3.4, 3.1, 3.0), 0.25, 1500)),
        1000, -0.1,
    ),
    DemoAgency(
        "IMIGRASI", "Unit Layanan Paspor Kantor Imigrasi", "Rizal Firmansyah, S.H., M.H.",
        "198002142003121001",
        (("BARU", "Paspor baru", "New passport"),
         ("GANTI", "Penggantian paspor", "Passport replacement"),
         ("AMBIL", "Pengambilan paspor", "Passport collection")),
        (DemoDesk("L1", "Loket 1 Paspor Baru", "Lantai 3",
                  (3.6, 3.5, 3.4, 3.7, 3.6, 3.7, 3.8, 3.7, 3.4), 0.40, 600),
         DemoDesk("L2", "Loket 2 Penggantian Paspor", "Lantai 3",
                  (3.7, 3.6, 3.5, 3.7, 3.6, 3.7, 3.8, 3.7, 3.5), 0.35, 450),
         DemoDesk("L3", "Loket 3 Pengambilan Paspor", "Lantai 3",
                  (3.8, 3.8, 3.7, 3.8, 3.8, 3.8, 3.9, 3.8, 3.6), 0.25, 500)),
        700, 0.0,
    ),
    *(DemoAgency(code, name, head, nip, services,
                 tuple(DemoDesk(f"L{i}", desk_name, location, quality, share, served)
                       for i, (desk_name, location, quality, share, served)
                       in enumerate(desks, start=1)),
                 respondents, drift)
      for code, name, head, nip, services, desks, respondents, drift in (
        ("BPJSKES", "BPJS Kesehatan Kantor Cabang", "dr. Lestari Handayani, M.Kes.",
         None, (("DAFTAR", "Pendaftaran peserta", "Membership registration"),
               ("UBAH", "Perubahan data peserta", "Change of member data")),
         (("Loket BPJS Kesehatan", "Lantai 2", (3.2, 3.1, 2.8, 3.9, 3.2, 3.3, 3.3, 3.1, 2.9),
           1.0, 700),), 500, 0.2),
        ("BPJSTK", "BPJS Ketenagakerjaan Kantor Cabang", "Andi Pratama, S.E.", None,
         (("KLAIM", "Klaim Jaminan Hari Tua", "Old-age savings claim"),
          ("DAFTAR", "Pendaftaran peserta", "Membership registration")),
         (("Loket BPJS Ketenagakerjaan", "Lantai 2",
           (3.3, 3.2, 3.0, 3.9, 3.3, 3.4, 3.4, 3.2, 3.1), 1.0, 500),), 400, 0.1),
        ("ATRBPN", "Kantor Pertanahan Kota Harapan", "Ir. Yusuf Maulana, M.Si.",
         "197207041998031003",
         (("CEK", "Pengecekan sertifikat", "Certificate check"),
          ("ROYA", "Roya (penghapusan hak tanggungan)", "Mortgage release")),
         (("Loket Pertanahan 1", "Lantai 3", (2.9, 2.7, 2.4, 3.3, 2.9, 3.0, 3.1, 3.0, 2.6),
           0.6, 400),
          ("Loket Pertanahan 2", "Lantai 3", (3.0, 2.8, 2.5, 3.3, 3.0, 3.1, 3.2, 3.0, 2.7),
           0.4, 300)), 450, 0.3),
        ("KPP", "Kantor Pelayanan Pajak Pratama", "Hendra Saputra, S.E., M.Ak.",
         "197904112001121002",
         (("NPWP", "Pendaftaran NPWP", "Tax number registration"),
          ("SPT", "Penerimaan SPT", "Tax return filing")),
         (("Loket Pajak", "Lantai 3", (3.5, 3.4, 3.3, 3.9, 3.5, 3.5, 3.6, 3.4, 3.3), 1.0,
           600),), 500, 0.0),
        ("PDAM", "Perumda Air Minum Tirta Harapan", "Ir. Wahyu Nugroho", None,
         (("SAMBUNG", "Sambungan baru", "New connection"),
          ("TAGIHAN", "Pembayaran dan keluhan tagihan", "Bills and complaints")),
         (("Loket PDAM", "Lantai 1", (3.0, 3.0, 2.7, 3.2, 3.0, 3.1, 3.2, 2.9, 2.6), 1.0,
           800),), 450, -0.15),
        ("POLRES", "Satuan Pelayanan SKCK Polres Harapan", "AKP Dedi Kurniawan", None,
         (("SKCK", "Surat Keterangan Catatan Kepolisian", "Police clearance (SKCK)"),),
         (("Loket SKCK", "Lantai 1", (3.4, 3.4, 3.1, 3.6, 3.3, 3.4, 3.5, 3.2, 3.1), 1.0,
           900),), 600, 0.1),
        ("DISNAKER", "Dinas Tenaga Kerja", "Drs. Slamet Riyadi, M.M.",
         "196909151994031005",
         (("AK1", "Kartu pencari kerja (AK/1)", "Job seeker card (AK/1)"),),
         (("Loket Kartu Kuning", "Lantai 2", (3.3, 3.3, 3.2, 3.9, 3.2, 3.3, 3.4, 3.1, 3.0),
           1.0, 300),), 350, 0.05),
        ("KEJARI", "Kejaksaan Negeri (tilang)", "Ratna Sari, S.H., M.H.",
         "198103222005012001",
         (("TILANG", "Pengambilan barang bukti tilang", "Traffic ticket evidence"),),
         (("Loket Tilang", "Lantai 1", (3.1, 3.2, 2.9, 3.0, 3.1, 3.2, 3.3, 3.0, 2.8), 1.0,
           500),), 350, 0.15),
      )),
)

DEMO_COMMENTS = (
    "Antrean terlalu lama, mohon ditambah petugas pada jam sibuk.",
    "Petugas ramah dan membantu, terima kasih.",
    "Ruang tunggu panas, AC tidak berfungsi.",
    "Prosesnya cepat, tidak sampai 30 menit.",
    "Persyaratan di website berbeda dengan yang diminta di loket.",
    "Tolong sediakan informasi jadwal yang jelas di papan pengumuman.",
    "Pelayanan sangat baik, pertahankan.",
    "Kotak saran ada tetapi tidak pernah ada tanggapan.",
    "Parkir sempit dan toilet kurang bersih.",
    "Sistem antrean online sangat membantu.",
    "Mohon hubungi saya di 0812 3456 7890 soal berkas yang hilang.",
    "Blangko KTP sering habis, harus datang dua kali.",
    "Good service, the staff explained everything clearly.",
)


def demo_exists(session: Session) -> bool:
    return session.scalar(select(Agency.id).where(Agency.code == DEMO_ROOT)) is not None


def seed_demo(session: Session, end_month: date, seed: int = 20171,
              today: date | None = None) -> dict[str, int]:
    """One Mal Pelayanan Publik with twelve agencies, twenty-two desks, their services,
    monthly service volumes, two years of responses ending with `end_month`, and demo
    users.
    Every change goes through the core like an operator's (audited, actor "cli"). With
    `today` (the site's date), the demo's periods that have ended by then are closed, so
    that the public pages show published results as an agency's would.

    Idempotent: when the demo agency exists, nothing is changed. The caller commits."""
    if demo_exists(session):
        return {}
    seed_standards(session)
    rng = np.random.default_rng(seed)
    months = [add_months(end_month.replace(day=1), k) for k in range(-DEMO_MONTHS + 1, 1)]
    agencies.create_agency(session, DEMO_ROOT, "Mal Pelayanan Publik Kota Harapan",
                           head_name="Drs. Ahmad Sulaiman, M.AP.",
                           head_nip="197109091996031003", actor=None)
    counts = {"agencies": 1, "desks": 0, "services": 0, "responses": 0}
    items: list[NewResponse] = []
    tablets = []
    for spec in DEMO_AGENCIES:
        agency = agencies.create_agency(session, spec.code, spec.name, parent_code=DEMO_ROOT,
                                        head_name=spec.head, head_nip=spec.nip, actor=None)
        counts["agencies"] += 1
        desks = {d.code: org_desks.create_desk(session, spec.code, d.code, d.name, d.location,
                                               actor=None)
                 for d in spec.desks}
        counts["desks"] += len(desks)
        served = {(desks[d.code].id, month): int(d.served * rng.uniform(0.85, 1.15))
                  for d in spec.desks for month in months}
        for year in sorted({m.year for m in months}):
            volumes.save_grid(session, agency, desks.values(), year,
                              {(desk_id, m.month): n for (desk_id, m), n in served.items()
                               if m.year == year}, actor=None)
        services = [org_services.create_service(session, spec.code, code, name_id, name_en,
                                                desk_codes=list(desks), actor=None)
                    for code, name_id, name_en in spec.services]
        counts["services"] += len(services)
        for d in spec.desks:
            n = round(spec.respondents * d.share * DEMO_MONTHS / 12)
            # Each desk has a kiosk tablet (its secret is thrown away: staff enrol their
            # own), so the staff's device list shows one in contact.
            tablet, _secret = kiosks.enrol(session, desks[d.code], "Tablet ruang tunggu",
                                           actor=None)
            tablets.append(tablet)
            items.extend(_demo_responses(rng, desks[d.code], d, services, months, n,
                                         tablet.id, spec.drift))
    for start in range(0, len(items), 1000):
        record_responses(session, items[start:start + 1000])
    counts["responses"] = len(items)
    for tablet in tablets:  # in use since before its first response, until its last
        moments = [i.submitted_at for i in items if i.device_id == tablet.id] or [utcnow()]
        tablet.created_at = min(moments) - timedelta(days=1)
        tablet.last_seen_at = tablet.last_sync_at = max(moments)
        tablet.waiting_reported = tablet.refused_reported = 0
    for role, email, codes in DEMO_USERS:
        users.create_user(session, email, DEMO_PASSWORD, role, codes, name=email.split("@")[0],
                          actor=None)
    counts["users"] = len(DEMO_USERS)
    if today is not None:
        counts["closed"] = len(close_ended_periods(session, months, today))
    return counts


def close_ended_periods(session: Session, months: list[date], today: date) -> list[str]:
    """Close (publish and seal) the demo's months that have ended, and the quarters,
    semesters and years that have ended and lie wholly within the demo months; returns
    their keys."""
    covered = set(months)
    spans = [parse_period(f"{m:%Y-%m}") for m in months]
    for m in months:
        spans.append(parse_period(f"{m.year}-Q{(m.month - 1) // 3 + 1}"))
        spans.append(parse_period(f"{m.year}-S{1 if m.month <= 6 else 2}"))
        spans.append(parse_period(f"{m.year}"))
    keys = []
    for span in sorted(set(spans)):
        if span.end >= today or not set(span.months()) <= covered:
            continue
        row = session.scalar(select(ReportingPeriod).where(ReportingPeriod.key == span.key))
        if row is None:
            row = org_periods.create_period(session, span.key, actor=None)
        if row.closed_at is None:
            published.close_period(session, row, utcnow(), today, actor=None)
            keys.append(span.key)
    return keys


def _demo_responses(rng, desk, spec: DemoDesk, services, months, n, tablet_id: int,
                    drift: float) -> list[NewResponse]:
    zone = ZoneInfo("Asia/Jakarta")
    quality = np.array(spec.quality)
    month_index = rng.integers(len(months), size=n)
    # The desk's level moves by `drift` a year and ends at `quality` in the last month.
    years_before_end = (len(months) - 1 - month_index)[:, None] / 12
    # A respondent's general mood shifts all nine answers together (elements correlate).
    mood = rng.normal(0.0, 0.35, size=(n, 1))
    latent = (quality - drift * years_before_end + mood
              + rng.normal(0.0, 0.45, size=(n, quality.size)))
    scores = np.clip(np.rint(latent), 1, 4).astype(int)
    channel = rng.choice(["qr", "ticket", "kiosk", "paper"], size=n, p=[0.66, 0.14, 0.1, 0.1])
    out = []
    for i in range(n):
        month = months[int(month_index[i])]
        moment = _working_moment(rng, month, zone)
        answers = {f"U{j + 1}": int(scores[i, j]) for j in range(quality.size)}
        if channel[i] == "paper" and rng.random() < 0.3:
            for code in rng.choice(["U4", "U9", "U5", "U8"], size=int(rng.integers(1, 3)),
                                   replace=False):
                answers.pop(str(code))  # left blank on the paper form
        flags: tuple[str, ...] = ()
        if channel[i] == "qr" and rng.random() < 0.02:
            flags = ("too_fast",) if rng.random() < 0.6 else ("cooldown",)
        comment = None
        if rng.random() < 0.12:
            comment = DEMO_COMMENTS[int(rng.integers(len(DEMO_COMMENTS)))]
        out.append(NewResponse(
            desk_id=desk.id,
            answers=answers,
            submitted_at=moment,
            channel=str(channel[i]),
            device_id=tablet_id if channel[i] == "kiosk" else None,
            verified=channel[i] == "ticket",
            service_id=services[int(rng.integers(len(services)))].id,
            flags=flags,
            sex=_maybe(rng, ("L", "P")),
            age=_maybe(rng, AGE_BANDS, p=(0.08, 0.3, 0.27, 0.18, 0.11, 0.06)),
            education=_maybe(rng, EDUCATIONS, p=(0.05, 0.1, 0.4, 0.12, 0.27, 0.05, 0.01)),
            occupation=_maybe(rng, OCCUPATIONS, p=(0.12, 0.02, 0.02, 0.38, 0.26, 0.2)),
            comment=comment,
        ))
    return out


def _maybe(rng, values, p=None) -> str | None:
    if rng.random() < 0.05:
        return None  # prefer not to say
    return str(rng.choice(values, p=p))


def _working_moment(rng, month: date, zone: ZoneInfo) -> datetime:
    """A weekday (or Saturday morning, when the MPP opens) between 08:00 and 15:59."""
    while True:
        day = month + timedelta(days=int(rng.integers(31)))
        if day.month != month.month:
            continue
        weekday = day.weekday()
        if weekday == 6 or (weekday == 5 and rng.random() < 0.7):
            continue
        hour = int(rng.choice(range(8, 16), p=(0.1, 0.16, 0.17, 0.15, 0.08, 0.12, 0.13, 0.09)))
        if weekday == 5:
            hour = min(hour, 11)
        local = datetime(day.year, day.month, day.day, hour, int(rng.integers(60)), tzinfo=zone)
        return local.astimezone(UTC)
