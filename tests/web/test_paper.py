"""Paper questionnaires: the keyboard typing sheet per desk, and the import of responses in
the canonical CSV format (web page and `flask responses import`). Both are all-or-nothing,
store channel paper/import, and extend the hash chain like any other response."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select
from support.factories import desk, make_user
from support.web import csrf_from, forget_request_state, get, login, refused_in_indonesian, text

from survey.core import imports, ledger
from survey.core.db import db
from survey.core.errors import ValidationError
from survey.core.models import AuditEvent, ChainEntry, Response, Service

ELEMENTS = [f"U{i}" for i in range(1, 10)]

RECEIPT = r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"  # Crockford base32


@pytest.fixture
def world(org):
    """KEC-A (desks L1, L2 and L3 on the 2004 questionnaire) and KEC-B, with staff."""
    org.create_desk(db.session, "KEC-A", "L3", "Loket 3", questionnaire_code="kepmenpan-25-2004")
    org.create_agency(db.session, "KEC-B", "Kecamatan B", timezone="Asia/Jayapura")
    org.create_desk(db.session, "KEC-B", "L1", "Loket B1")
    org.create_service(db.session, "KEC-B", "SIM", "SIM", desk_codes=["L1"])
    db.session.commit()
    make_user(org, "admin@skm.go.id", "admin")
    make_user(org, "manager@a.go.id", "agency_manager", ["KEC-A"])
    make_user(org, "staff@a.go.id", "desk_staff", ["KEC-A"])
    make_user(org, "staff@b.go.id", "desk_staff", ["KEC-B"])
    make_user(org, "auditor@skm.go.id", "auditor")
    return org




def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def chain_responses() -> int:
    return count(ChainEntry, ChainEntry.kind == "response")


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("email, index, own, other, imports", [
    ("admin@skm.go.id", 200, 200, 200, 200),
    ("manager@a.go.id", 200, 200, 404, 200),
    ("staff@a.go.id", 200, 200, 404, 403),
    ("staff@b.go.id", 200, 404, 200, 403),
    ("auditor@skm.go.id", 403, 403, 403, 403),
])
def test_who_may_type_and_import(app, client, world, email, index, own, other, imports):
    a, b = desk("L1", "KEC-A").id, desk("L1", "KEC-B").id
    login(client, email)
    assert get(client, "/kertas/").status_code == index
    assert get(client, f"/kertas/loket/{a}").status_code == own
    assert get(client, f"/kertas/loket/{b}").status_code == other
    assert get(client, "/kertas/impor").status_code == imports
    assert get(client, "/kertas/loket/99999").status_code in (403, 404)


def test_anonymous_visitors_must_sign_in(app, client, world):
    response = get(client, f"/kertas/loket/{desk('L1', 'KEC-A').id}")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- the typing sheet ------------------------------------------------------------------------


def open_sheet(client, desk_id: int, rows: int = 10) -> tuple[str, dict[str, str]]:
    """The sheet as a browser would send it untouched: CSRF, sheet key, pre-filled dates
    and services, every other cell empty."""
    page = get(client, f"/kertas/loket/{desk_id}?baris={rows}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    data = {"csrf_token": csrf_from(body),
            "sheet": re.search(r'name="sheet" value="([^"]+)"', body).group(1)}
    for name in re.findall(r'<input[^>]* name="(r\d+-[^"]+)"', body):
        value = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', body)
        data[name] = value.group(1) if value else ""
    for name, options in re.findall(r'<select id="[^"]+" name="(r\d+-[^"]+)"[^>]*>(.*?)</select>',
                                    body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = chosen.group(1) if chosen else ""
    return body, data


def row(number: int, scores: str, **fields: str) -> dict[str, str]:
    """Cells of one row: `scores` as typed, one character per element, '.' for blank."""
    cells = {f"r{number}-U{i}": ("" if c == "." else c) for i, c in enumerate(scores, 1)}
    cells.update({f"r{number}-{k}": v for k, v in fields.items()})
    return cells


def post_sheet(client, desk_id: int, *rows: dict[str, str], count_rows: int = 10, data=None):
    _body, form = data or open_sheet(client, desk_id, count_rows)
    for cells in rows:
        form.update(cells)
    forget_request_state()
    return client.post(f"/kertas/loket/{desk_id}?baris={count_rows}", data=form)


def test_every_cell_of_the_sheet_has_a_label_and_a_keyboard_friendly_input(app, client,
                                                                            world):
    login(client, "staff@a.go.id")
    body, _data = open_sheet(client, desk("L1", "KEC-A").id, rows=3)
    ids = re.findall(r'<(?:input|select)[^>]* id="(r\d+-[^"]+)"', body)
    assert len(ids) == 3 * (2 + 9 + 4 + 1)
    for field_id in ids:
        assert f'<label class="sr-only" for="{field_id}">' in body, field_id
    scores = re.findall(r'<input class="score"[^>]*>', body)
    assert len(scores) == 27
    assert all('inputmode="numeric"' in s and 'maxlength="1"' in s and 'pattern="[1-4]"' in s
               for s in scores)
    assert 'src="/static/paper.js"' in body
    with client.get("/static/paper.js") as script:
        assert script.status_code == 200 and b"[1-4]" in script.data
    # the 2004 questionnaire has fourteen elements
    body, _data = open_sheet(client, desk("L3").id, rows=1)
    assert 'id="r1-U14"' in body and 'id="r1-U15"' not in body


def test_a_valid_sheet_stores_paper_responses_with_blanks_kept(app, client, world):
    login(client, "staff@a.go.id")
    l1 = desk("L1", "KEC-A")
    ktp = db.session.scalar(select(Service.id).where(Service.code == "KTP"))
    body, form = open_sheet(client, l1.id)
    assert f'<option value="{ktp}" selected>' in body  # the desk's only service, pre-chosen
    response = post_sheet(
        client, l1.id,
        row(1, "444434443", date="2024-05-03"),
        row(2, "333.3333.", date="2024-05-03", service=""),
        row(4, "123412341", date="04/05/2024", sex="P", age="30-39", education="S1",
            occupation="Swasta", comment="Pelayanan cepat, terima kasih"),
        data=(body, form))
    page = text(response)
    assert response.status_code == 200, page
    receipts = re.findall(RECEIPT, page)
    assert len(receipts) == 3 and "3" in page

    rows = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert [r.channel for r in rows] == ["paper"] * 3
    assert not any(r.verified or r.flags for r in rows)
    assert [len(r.answers) for r in rows] == [9, 7, 9]  # blanks are no answer rows
    assert {a.element.code for a in rows[1].answers} == set(ELEMENTS) - {"U4", "U9"}
    # 12:00 on the form's date in the agency's zone (WIB = UTC+7)
    assert rows[0].submitted_at == datetime(2024, 5, 3, 5, tzinfo=UTC)
    assert (rows[0].day, rows[0].hour) == (date(2024, 5, 3), 12)
    assert rows[2].day == date(2024, 5, 4)
    assert [r.service_id for r in rows] == [ktp, None, ktp]
    assert (rows[2].sex, rows[2].age, rows[2].education, rows[2].occupation) == (
        "P", "30-39", "S1", "Swasta")
    assert rows[2].comment == "Pelayanan cepat, terima kasih"
    assert chain_responses() == 3 == count(Response)
    [event] = events("paper_entered")
    assert event.target == "KEC-A/L1" and event.details == {"responses": 3}
    assert event.actor == "staff@a.go.id"
    assert ledger.verify(db.session).broken is None

    # The same sheet sent again (a double Enter, a reload) is stored once.
    again = post_sheet(client, l1.id, data=(body, form))
    assert again.status_code == 200 and count(Response) == 3
    assert sorted(re.findall(RECEIPT, text(again))) == sorted(receipts)


def test_an_invalid_row_stores_nothing_and_says_which_row(app, client, world):
    client.set_cookie("lang", "en")
    login(client, "staff@a.go.id")
    l1 = desk("L1", "KEC-A")
    response = post_sheet(client, l1.id, row(1, "444444444", date="2024-05-03"),
                          row(2, "33533x333", date="2024-05-03"))
    page = text(response)
    assert response.status_code == 422
    assert "Nothing was saved." in page
    assert "Row 2, U3, U6: type 1, 2, 3 or 4, or leave the cell empty." in page
    assert 'id="r2-U3" name="r2-U3" value="5" inputmode="numeric"' in page  # kept as typed
    assert re.search(r'id="r2-U3"[^>]*aria-invalid="true"', page)
    assert 'name="r1-U1" value="4"' in page  # the valid row is kept too
    assert count(Response) == 0 and chain_responses() == 0 and not events("paper_entered")


@pytest.mark.parametrize("cells, message", [
    (row(1, ".........", sex="L"), "Row 1: type at least one score, or clear the row."),
    (row(1, "4", date=(date.today() + timedelta(days=2)).isoformat()),
     "Row 1: the date lies in the future."),
    (row(1, "4", date="2024-02-30"), "Row 1: the date must be a day such as"),
    (row(1, "4", date=""), "Row 1: the date must be a day such as"),
    (row(1, "4", service="99999"), "Row 1: choose a service of this desk."),
    (row(1, "4", sex="X"), "Row 1: choose sex from the list."),
    (row(1, "4", comment="x" * 1001), "Row 1: the comment is longer than 1000 characters."),
    ({}, "The sheet is empty: type at least one row."),
])
def test_each_row_error_is_reported(app, client, world, cells, message):
    client.set_cookie("lang", "en")
    login(client, "staff@a.go.id")
    response = post_sheet(client, desk("L1", "KEC-A").id, cells)
    assert response.status_code == 422
    assert message in text(response)
    assert count(Response) == 0


def test_the_sheet_speaks_indonesian_by_default(app, client, world):
    login(client, "staff@a.go.id")
    response = post_sheet(client, desk("L1", "KEC-A").id, row(2, "5"))
    page = text(response)
    assert response.status_code == 422
    assert "Baris 2, U1: ketik 1, 2, 3 atau 4, atau biarkan kosong." in page
    assert "Ketik kuesioner kertas" in page


def test_the_sheet_needs_its_key_and_a_csrf_token(app, client, world):
    login(client, "staff@a.go.id")
    l1 = desk("L1", "KEC-A")
    _body, form = open_sheet(client, l1.id)
    form.update(row(1, "444444444"))
    forget_request_state()
    without_key = client.post(f"/kertas/loket/{l1.id}?baris=10",
                              data={k: v for k, v in form.items() if k != "sheet"})
    assert without_key.status_code == 400
    forget_request_state()
    without_csrf = client.post(f"/kertas/loket/{l1.id}?baris=10",
                               data={k: v for k, v in form.items() if k != "csrf_token"})
    assert without_csrf.status_code == 400
    assert count(Response) == 0


def test_a_2004_desk_takes_fourteen_scores(app, client, world):
    login(client, "manager@a.go.id")
    l3 = desk("L3")
    response = post_sheet(client, l3.id, row(1, "44443333222211", date="2024-06-01"),
                          count_rows=2)
    assert response.status_code == 200
    [stored] = db.session.scalars(select(Response)).all()
    assert len(stored.answers) == 14 and stored.service_id is None


# --- CSV import --------------------------------------------------------------------------------

HEADER = ("response_id,submitted_at,agency,desk,service,channel,verified,flagged,"
          + ",".join(ELEMENTS) + ",sex,age,education,occupation,comment\n")


def upload(client, data: bytes, name: str = "responses.csv"):
    page = get(client, "/kertas/impor")
    forget_request_state()
    return client.post("/kertas/impor", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "file": (BytesIO(data), name)},
        content_type="multipart/form-data")


GOOD_FILE = (
    HEADER
    + "17,2024-05-03T10:15:00+07:00,KEC-A,L1,KTP,qr,true,false,4,4,3,3,4,4,3,3,4,L,30-39,S1,"
      'PNS,"Bagus, cepat"\r\n'
    + ",2024-05-04,KEC-A,L2,,paper,,,3,,3,3,,3,3,3,3,,,,,\r\n"
    + ",,KEC-A,L1,,,,,1,2,3,4,1,2,3,4,1,P,,,,\r\n"
    + "x,2024-05-05 09:00,KEC-B,L1,SIM,Paper,1,1,2,2,2,2,2,2,2,2,2,,60+,SD,Lainnya,\r\n"
)


def test_a_good_response_file_is_imported_and_extends_the_chain(app, client, world):
    login(client, "admin@skm.go.id")
    response = upload(client, ("\ufeff" + GOOD_FILE).encode())
    assert response.status_code == 303, text(response)
    rows = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert [r.channel for r in rows] == ["import", "paper", "import", "paper"]
    assert not any(r.verified or r.flags for r in rows)  # the file's verified/flagged ignored
    assert [len(r.answers) for r in rows] == [9, 7, 9, 9]
    assert rows[0].submitted_at == datetime(2024, 5, 3, 3, tzinfo=UTC)
    assert rows[0].service.code == "KTP" and rows[0].comment == "Bagus, cepat"
    assert (rows[0].sex, rows[0].age, rows[0].education, rows[0].occupation) == (
        "L", "30-39", "S1", "PNS")
    assert rows[1].submitted_at == datetime(2024, 5, 4, 5, tzinfo=UTC)  # noon WIB
    assert rows[1].sex is None and rows[1].service_id is None
    assert rows[2].submitted_at > datetime.now(UTC) - timedelta(hours=2)  # empty: now
    assert rows[3].submitted_at == datetime(2024, 5, 5, 0, tzinfo=UTC)  # 09:00 WIT (UTC+9)
    assert rows[3].desk.agency.code == "KEC-B" and rows[3].service.code == "SIM"
    assert chain_responses() == count(Response) == 4
    assert ledger.verify(db.session).broken is None
    [event] = events("responses_imported")
    assert event.details["responses"] == 4
    assert event.details["channels"] == {"import": 2, "paper": 2}
    assert event.details["file"] == "responses.csv" and len(event.details["sha256"]) == 64
    assert event.target == "KEC-A,KEC-B"
    assert "4 jawaban diimpor (kertas: 2, lainnya: 2)." in text(get(client, "/kertas/impor"))

    again = upload(client, ("\ufeff" + GOOD_FILE).encode())
    assert again.status_code == 422 and "Berkas ini sudah pernah diimpor" in text(again)
    assert count(Response) == 4


def test_only_the_required_columns_are_needed(app, client, world):
    login(client, "manager@a.go.id")
    data = "Desk,agency," + ",".join(ELEMENTS) + "\nL2,KEC-A,4,4,4,4,4,4,4,4,4\n"
    assert upload(client, data.encode()).status_code == 303
    [stored] = db.session.scalars(select(Response)).all()
    assert stored.channel == "import" and stored.desk.code == "L2"
    assert chain_responses() == 1


def test_a_2004_desk_needs_its_fourteen_columns(app, client, world):
    login(client, "admin@skm.go.id")
    codes = [f"U{i}" for i in range(1, 15)]
    data = ("agency,desk," + ",".join(codes) + "\n"
            + "KEC-A,L3," + ",".join("3" * 14) + "\n"
            + "KEC-A,L1," + ",".join("4" * 9) + ",,,,,\n")
    assert upload(client, data.encode()).status_code == 303
    assert [len(r.answers) for r in db.session.scalars(select(Response).order_by(
        Response.id))] == [14, 9]


GOOD_LINE = ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n"
BAD_RESPONSE_FILES = [
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,5,4,4,4,4,4,4,,,,,\n",
     "line 3, column U3: score '5' is not 1, 2, 3, 4 or empty"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,3.0,,,,,\n",
     "line 3, column U9: score '3.0' is not 1, 2, 3, 4 or empty"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,0,,,,,\n",
     "line 3, column U9: score '0' is not 1, 2, 3, 4 or empty"),
    (",,NOPE,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 2, column agency: unknown agency 'NOPE'"),
    (GOOD_LINE + ",,KEC-A,L9,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 3, column desk: agency KEC-A has no desk 'L9'"),
    (GOOD_LINE + ",,KEC-A,L1,SIM,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 3, column service: agency KEC-A has no service 'SIM'"),
    (GOOD_LINE + ",2024-13-01,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 3, column submitted_at: '2024-13-01' is not an ISO 8601 date or time"),
    (GOOD_LINE + ",yesterday,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 3, column submitted_at: 'yesterday' is not an ISO 8601 date or time"),
    (GOOD_LINE + ",2099-01-01,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 3, column submitted_at: 2099-01-01 lies in the future"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,M,,,,\n",
     "line 3, column sex: 'M' is not one of L, P (or empty)"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,25,,,\n",
     "line 3, column age: '25' is not one of <20, 20-29, 30-39, 40-49, 50-59, 60+ (or empty)"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,S4,,\n",
     "line 3, column education: 'S4' is not one of"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,Petani,\n",
     "line 3, column occupation: 'Petani' is not one of"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,," + "x" * 1001 + "\n",
     "line 3, column comment: longer than 1000 characters"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,\n",
     "line 3: expected 22 fields like the header, found 21"),
    (GOOD_LINE + "\n" + ",,,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\n",
     "line 4, column agency: agency is empty"),
    (GOOD_LINE + ",,KEC-A,L1,,,,,4,4,4,4,4,4,4,4,4,,,,,\"open\n",
     "line 3: unexpected end of data"),
]


@pytest.mark.parametrize("lines, message", BAD_RESPONSE_FILES)
def test_a_bad_response_file_names_line_and_column_and_stores_nothing(app, client, world,
                                                                      lines, message):
    """The core names the line and column in English (the command line prints it); the page
    names them in Indonesian."""
    with pytest.raises(ValidationError) as refusal:
        imports.check_file(db.session, (HEADER + lines).encode(), allowed=None)
    assert message in str(refusal.value)
    login(client, "admin@skm.go.id")
    response = upload(client, (HEADER + lines).encode())
    assert response.status_code == 422
    refused_in_indonesian(text(response), message)
    assert count(Response) == 0 and chain_responses() == 0
    assert not events("responses_imported")


@pytest.mark.parametrize("content, message", [
    ("agency,desk," + ",".join(ELEMENTS[:8]) + "\nKEC-A,L1,4,4,4,4,4,4,4,4\n",
     "line 1: the header lacks the column(s) U9"),
    ("agency,desk," + ",".join(f"U{i}" for i in range(1, 15)) + "\n"
     "KEC-A,L1," + ",".join("4" * 9) + ",,,4,,\n",
     "line 2, column U12: desk KEC-A/L1 has no element U12 on its questionnaire; leave the "
     "cell empty"),
    ("agency,desk," + ",".join(ELEMENTS) + "\nKEC-A,L3," + ",".join("4" * 9) + "\n",
     "line 2: desk KEC-A/L3 uses a questionnaire with U1..U14, but the header has no column "
     "U10"),
    (HEADER, "the file has no responses after the header"),
    ("agency,desk,desk," + ",".join(ELEMENTS) + "\n", "line 1: column 'desk' appears twice"),
])
def test_header_and_questionnaire_errors(app, client, world, content, message):
    with pytest.raises(ValidationError) as refusal:
        imports.check_file(db.session, content.encode(), allowed=None)
    assert message in str(refusal.value)
    login(client, "admin@skm.go.id")
    response = upload(client, content.encode())
    assert response.status_code == 422
    refused_in_indonesian(text(response), message)
    assert count(Response) == 0


def test_a_manager_imports_only_for_their_agencies(app, client, world):
    login(client, "manager@a.go.id")
    response = upload(client, (HEADER + GOOD_LINE + GOOD_LINE.replace("KEC-A", "KEC-B")
                               ).encode())
    assert response.status_code == 422
    assert ("Baris 3, kolom instansi: Tidak ada instansi “KEC-B” di antara instansi Anda."
            in text(response))
    assert count(Response) == 0


def test_the_responses_import_command(app, runner, world, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD_LINE + GOOD_LINE.replace(",,KEC-A", ",,KEC-B").replace(
        ",,,,4", ",paper,,,4", 1), encoding="utf-8")
    result = runner.invoke(args=["responses", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 responses (import: 1, paper: 1)" in result.output
    assert chain_responses() == count(Response) == 2
    [event] = events("responses_imported")
    assert event.actor == "cli" and event.details["file"] == "good.csv"

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD_LINE + GOOD_LINE.replace("4,4,4,4,4,", "4,4,x,4,4,", 1),
                   encoding="utf-8")
    result = runner.invoke(args=["responses", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 3, column U3: score 'x' is not 1, 2, 3, 4 or empty" in result.output
    assert count(Response) == 2
    again = runner.invoke(args=["responses", "import", str(good)])
    assert again.exit_code == 1 and "already imported" in again.output
    assert count(Response) == 2 and ledger.verify(db.session).broken is None


# --- large files -------------------------------------------------------------------------------


def test_a_file_over_the_row_limit_is_refused_with_the_limit_named(app, client, world,
                                                                  runner, tmp_path):
    app.config["SURVEY_IMPORT_MAX_ROWS"] = 3
    login(client, "manager@a.go.id")
    over = (HEADER + GOOD_LINE * 4).encode()
    response = upload(client, over)
    assert response.status_code == 422
    assert ("Berkas berisi lebih dari 3 respons. Pecah menjadi beberapa berkas berisi paling "
            "banyak 3 baris" in text(response))
    assert count(Response) == 0
    path = tmp_path / "over.csv"
    path.write_bytes(over)
    result = runner.invoke(args=["responses", "import", str(path)])
    assert result.exit_code == 1 and "more than 3 responses" in result.output
    assert upload(client, (HEADER + GOOD_LINE * 3).encode()).status_code == 303
    assert count(Response) == 3


def test_citizens_can_submit_while_a_file_is_being_checked(app, client, world, monkeypatch):
    """The check (parse, validate, anonymise) reads only: a citizen's submission made
    meanwhile goes through at once instead of waiting for the whole import."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from survey.core import imports
    from survey.core.db import write_transaction
    from survey.core.responses import NewResponse, record_responses

    citizen_desk = desk("L1", "KEC-B").id
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"],
                          connect_args={"timeout": 0.2} if "sqlite" in
                          app.config["SQLALCHEMY_DATABASE_URI"] else {})

    @event.listens_for(other, "connect")
    def impatient(dbapi_connection, _record):  # waits 0.2 s for a lock, then fails
        if other.dialect.name == "postgresql":
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")

    submitted = []
    check = imports.check_file

    def check_and_meanwhile_a_citizen_submits(*args, **kwargs):
        checked = check(*args, **kwargs)
        with Session(other) as session, write_transaction(session):
            submitted.extend(record_responses(session, [NewResponse(
                desk_id=citizen_desk, answers={f"U{i}": 4 for i in range(1, 10)},
                submitted_at=datetime.now(UTC), channel="qr")]))
        return checked

    monkeypatch.setattr(imports, "check_file", check_and_meanwhile_a_citizen_submits)
    try:
        login(client, "manager@a.go.id")
        assert upload(client, (HEADER + GOOD_LINE * 60).encode()).status_code == 303
    finally:
        other.dispose()
    assert len(submitted) == 1
    assert count(Response) == 61 and ledger.verify(db.session).broken is None
