"""The review and moderation queues at the size of a real agency: what a reviewer sees of a
flagged response, paging and filters, and decisions for many responses at once (all or
nothing, each audited, never across agencies)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from support.factories import desk, make_user
from support.web import csrf_from, get, login

from survey.core.db import db, utcnow
from survey.core.models import AuditEvent, ReportingPeriod, ReviewDecision
from survey.core.responses import NewResponse, record_responses

MAY_14 = datetime(2024, 5, 14, 3, tzinfo=UTC)
QUEUE = "/dashboard/KEC-A/antrean"


def add(n: int = 1, *, desk_code: str = "L1", channel: str = "qr", when: datetime = MAY_14,
        flags: tuple[str, ...] = (), comment: str | None = "Pelayanan cepat", score: int = 3,
        **profile: str) -> list[int]:
    """n responses at a desk of KEC-A; returns their ids."""
    d = desk(desk_code)
    recorded = record_responses(db.session, [NewResponse(
        desk_id=d.id, answers={f"U{j}": score for j in range(1, 10)}, submitted_at=when,
        channel=channel, service_id=d.services[0].id, verified=channel == "ticket",
        flags=flags, comment=f"{comment} {i}" if comment else None, **profile)
        for i in range(n)])
    db.session.commit()
    return [r.response_id for r in recorded]


def page_text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.get_data(True))))


def shown_ids(response) -> set[int]:
    """The responses listed on a queue page (each row's checkbox or number cell)."""
    html = response.get_data(as_text=True)
    row = r"<tr>\s*(?:<td>(?:(?!</td>).)*</td>)?\s*<td>(\d+)</td>"
    return {int(i) for i in re.findall(row, html, re.S)}


def decisions() -> int:
    return db.session.scalar(select(func.count()).select_from(ReviewDecision))


def events(action: str) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.target).where(
        AuditEvent.action == action)))


def bulk(client, kind: str, ids, decision: str, reason: str = "sopan", page_url=None,
         **extra):
    page = get(client, page_url or f"{QUEUE}/{kind}?period=2024-05").get_data(as_text=True)
    return client.post(f"{QUEUE}/{kind}/putuskan", data={
        "csrf_token": csrf_from(page), "ids": [str(i) for i in ids], "decision": decision,
        "reason": reason, **extra})


def test_a_flagged_response_shows_its_answers_service_profile_and_signals(org, manager):
    [rid] = add(flags=("too_fast", "replay"), comment="Petugas ramah", score=2, sex="P",
                age="30-39")
    page = get(manager, f"{QUEUE}/flag?period=2024-05")
    assert page.status_code == 200
    shown = page_text(page)
    assert f"Putuskan #{rid}" in shown
    # the nine elements by name in Indonesian, with their scores
    assert "U1 · Persyaratan 2" in shown
    assert "U9 · Penanganan Pengaduan, Saran dan Masukan 2" in shown
    assert "KTP-el" in shown and "Perempuan" in shown and "30–39 tahun" in shown
    assert "Petugas ramah 0" in shown
    assert "dikirim lebih cepat" in shown and "salinan formulir yang sama" in shown
    assert "too_fast" not in shown  # signals, channel and status in words, not codes
    assert "Kode QR di loket" in shown and "Menunggu keputusan" in shown
    get(manager, "/bahasa/en")
    english = page_text(get(manager, f"{QUEUE}/flag?period=2024-05"))
    assert "U1 · Requirements 2" in english and "ID card" in english
    assert "Female" in english and "QR code at the desk" in english


def test_paging_120_comments_in_3_pages_with_the_filters_in_the_links(org, manager):
    ids = add(120, channel="paper")
    add(5, channel="qr")  # filtered out below
    url = f"{QUEUE}/comment?period=2024-05&channel=paper"
    first = get(manager, url)
    assert "120 ditemukan" in page_text(first) and "halaman 1 dari 3" in page_text(first)
    assert shown_ids(first) == set(ids[-50:])  # newest first
    links = re.findall(r'<nav class="pager".*?</nav>', first.get_data(True), re.S)[0]
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', links)]
    assert hrefs and all(parse_qs(urlsplit(h).query)["channel"] == ["paper"] for h in hrefs)
    assert all(parse_qs(urlsplit(h).query)["from"] == ["2024-05-01"] for h in hrefs)
    third = get(manager, f"{url}&page=3")
    assert shown_ids(third) == set(ids[:20])
    assert 'aria-current="page">3<' in third.get_data(True)
    # a bad page number clamps instead of failing
    for past_the_end in ("99", "9" * 40):
        assert shown_ids(get(manager, f"{url}&page={past_the_end}")) == set(ids[:20])
    for bad in ("abc", "-4", "0", "2.5"):
        assert shown_ids(get(manager, f"{url}&page={bad}")) == set(ids[-50:]), bad


def test_each_filter_narrows_the_queue(org, manager):
    l1 = add(2, flags=("too_fast",))
    l2 = add(2, desk_code="L2", flags=("burst",))
    kiosk = add(1, channel="kiosk", flags=("cooldown",))
    early = add(1, when=datetime(2024, 5, 2, 3, tzinfo=UTC), flags=("too_fast",))
    everything = set(l1 + l2 + kiosk + early)

    def ids(query: str) -> set[int]:
        page = get(manager, f"{QUEUE}/flag?period=2024-05{query}")
        assert page.status_code == 200
        return shown_ids(page)

    assert ids("") == everything
    assert ids(f"&desk={desk('L2').id}") == set(l2)
    assert ids("&signal=burst") == set(l2)
    assert ids("&channel=kiosk") == set(kiosk)
    assert ids("&from=2024-05-01&to=2024-05-05") == set(early)
    assert ids("&from=2024-05-10") == everything - set(early)
    page = get(manager, f"{QUEUE}/flag?period=2024-05").get_data(as_text=True)
    manager.post(f"/dashboard/KEC-A/tinjau/{l1[0]}", data={
        "csrf_token": csrf_from(page), "decision": "release", "reason": "keluarga"})
    assert ids("") == everything - {l1[0]}  # pending is the default
    assert ids("&status=decided") == {l1[0]}
    assert ids("&status=all") == everything
    # nonsense is ignored with a message, never an error page
    odd = get(manager, f"{QUEUE}/flag?period=2024-05&desk=999999&signal=x&channel=fax"
                       "&from=14-05-2024&status=maybe")
    assert odd.status_code == 200 and shown_ids(odd) == everything - {l1[0]}
    shown = page_text(odd)
    for message in ("Loket tersebut tidak ada", "Tanda tidak dikenal",
                    "Saluran tidak dikenal", "TTTT-BB-HH", "Status tidak dikenal"):
        assert message in shown


def test_bulk_publish_of_30_comments_writes_30_decisions_and_30_audit_events(org, manager):
    ids = add(30)
    before = decisions()
    done = bulk(manager, "comment", ids, "publish", reason="Sopan dan relevan",
                status="pending", channel="qr", page="1")
    assert done.status_code == 303
    back = parse_qs(urlsplit(done.headers["Location"]).query)  # the same filtered page
    assert back["channel"] == ["qr"] and back["status"] == ["pending"]
    assert decisions() == before + 30
    rows = db.session.scalars(select(ReviewDecision)).all()
    assert {(r.response_id, r.decision, r.reason) for r in rows} == {
        (i, "publish", "Sopan dan relevan") for i in ids}
    assert sorted(events("comment_publish")) == sorted(f"response:{i}" for i in ids)
    shown = page_text(get(manager, done.headers["Location"]))
    assert "Keputusan disimpan untuk 30 jawaban." in shown


def test_select_all_on_the_page_works_without_javascript(org, manager):
    ids = add(60)
    page = get(manager, f"{QUEUE}/comment?period=2024-05").get_data(as_text=True)
    on_page = [int(i) for i in re.findall(r'name="page_ids" value="(\d+)"', page)]
    assert len(on_page) == 50
    manager.post(f"{QUEUE}/comment/putuskan", data={
        "csrf_token": csrf_from(page), "all_on_page": "1",
        "page_ids": [str(i) for i in on_page], "decision": "hide", "reason": "di luar topik"})
    assert sorted(db.session.scalars(select(ReviewDecision.response_id))) == sorted(ids[-50:])


def test_a_batch_with_one_decided_item_saves_nothing_and_names_it(org, manager):
    ids = add(5)
    page = get(manager, f"{QUEUE}/comment?period=2024-05").get_data(as_text=True)
    manager.post(f"/dashboard/KEC-A/komentar/{ids[2]}", data={  # someone else, meanwhile
        "csrf_token": csrf_from(page), "decision": "hide", "reason": "kasar"})
    before, audited = decisions(), len(events("comment_publish"))
    refused = manager.post(f"{QUEUE}/comment/putuskan", data={
        "csrf_token": csrf_from(page), "ids": [str(i) for i in ids], "decision": "publish",
        "reason": "sopan"}, follow_redirects=True)
    shown = page_text(refused)
    assert f"Tidak ada yang disimpan. Jawaban #{ids[2]}" in shown
    assert "sudah diputuskan sementara itu (Disembunyikan)" in shown
    assert decisions() == before and len(events("comment_publish")) == audited


def test_a_batch_with_a_flag_in_a_closed_period_saves_nothing_and_names_it(org, manager):
    may = add(3, flags=("too_fast",))
    june = add(2, when=datetime(2024, 6, 4, 3, tzinfo=UTC), flags=("too_fast",))
    db.session.add(ReportingPeriod(key="2024-05", closed_at=utcnow()))
    db.session.commit()
    refused = bulk(manager, "flag", june + may[:1], "release",
                   page_url=f"{QUEUE}/flag?from=2024-05-01&to=2024-06-30")
    shown = page_text(get(manager, refused.headers["Location"]))
    assert f"Jawaban #{may[0]}" in shown and "Periode 2024-05 sudah ditutup" in shown
    assert decisions() == 0 and not events("review_release")
    done = bulk(manager, "flag", june, "release",
                page_url=f"{QUEUE}/flag?from=2024-06-01&to=2024-06-30")
    assert done.status_code == 303 and decisions() == 2
    assert sorted(events("review_release")) == sorted(f"response:{i}" for i in june)


def test_a_bad_batch_is_a_message_and_stores_nothing(org, manager):
    ids = add(3)
    for extra in ({"reason": " "}, {"decision": "release"}, {"ids": []}, {"ids": ["x1"]}):
        page = get(manager, f"{QUEUE}/comment?period=2024-05").get_data(as_text=True)
        data = {"csrf_token": csrf_from(page), "ids": [str(i) for i in ids],
                "decision": "publish", "reason": "sopan", **extra}
        refused = manager.post(f"{QUEUE}/comment/putuskan", data=data, follow_redirects=True)
        assert refused.status_code == 200, extra
        assert "Tidak disimpan" in page_text(refused), extra
    assert decisions() == 0


def test_another_agencys_response_in_a_batch_is_404_and_nothing_is_written(org, manager):
    org.create_agency(db.session, "KEC-B", "Kecamatan B")
    other = org.create_desk(db.session, "KEC-B", "LB", "Loket B")
    org.create_service(db.session, "KEC-B", "KK", "Kartu Keluarga", None, ["LB"])
    db.session.commit()
    theirs = record_responses(db.session, [NewResponse(
        desk_id=other.id, answers={f"U{j}": 3 for j in range(1, 10)}, submitted_at=MAY_14,
        channel="qr", comment="milik instansi lain")])[0].response_id
    db.session.commit()
    ours = add(2)
    assert bulk(manager, "comment", [*ours, theirs], "publish").status_code == 404
    assert bulk(manager, "comment", [theirs], "publish").status_code == 404
    assert decisions() == 0 and not events("comment_publish")


@pytest.mark.parametrize(("role", "status"), [("auditor", 403), ("desk_staff", 403)])
def test_readers_and_desk_staff_cannot_decide_in_bulk(org, client, role, status):
    ids = add(2)
    make_user(org, "x@kec-a.go.id", role, ["KEC-A"] if role == "desk_staff" else [])
    login(client, "x@kec-a.go.id")
    page = get(client, "/auth/password").get_data(as_text=True)
    assert client.post(f"{QUEUE}/comment/putuskan", data={
        "csrf_token": csrf_from(page), "ids": [str(i) for i in ids], "decision": "publish",
        "reason": "x"}).status_code == status
    if role == "auditor":  # reads the queue, without a control to decide
        shown = get(client, f"{QUEUE}/comment?period=2024-05").get_data(as_text=True)
        assert "/putuskan" not in shown and "/komentar/" not in shown and 'name="ids"' not in shown
    assert decisions() == 0


def test_redaction_stays_per_comment_for_administrators(org, client):
    [rid] = add(1, comment="Hubungi 081234567890 ya")
    make_user(org, "admin@skm.go.id", "admin")
    login(client, "admin@skm.go.id")
    page = get(client, f"{QUEUE}/comment?period=2024-05&channel=qr").get_data(as_text=True)
    assert f"/dashboard/KEC-A/komentar/{rid}/hapus" in page
    done = client.post(f"/dashboard/KEC-A/komentar/{rid}/hapus", data={
        "csrf_token": csrf_from(page), "reason": "nomor pribadi", "channel": "qr",
        "status": "all"})
    assert parse_qs(urlsplit(done.headers["Location"]).query)["channel"] == ["qr"]
    assert events("comment_redact") == [f"response:{rid}"]
    again = client.post(f"/dashboard/KEC-A/komentar/{rid}/hapus", data={
        "csrf_token": csrf_from(page), "reason": "lagi"}, follow_redirects=True)
    assert "Tidak disimpan" in page_text(again)
    assert len(events("comment_redact")) == 1
