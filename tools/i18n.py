"""Translation workflow. The Indonesian translations live in JSON files under tools/tr/
(one per feature, {English msgid: Indonesian msgstr}); the .po/.mo catalogue is built from
them, so features can add strings without editing one shared file.

  python tools/i18n.py build     extract the source strings, rebuild the catalogue from
                                 tools/tr/*.json, compile the .mo; lists what is missing
  python tools/i18n.py missing   only list strings without a translation (exit 1 if any)
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "survey" / "web" / "translations" / "id" / "LC_MESSAGES" / "messages.po"
METHODS = [("survey/**.py", "python"), ("survey/web/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "lazy_ngettext": (1, 2)}


def source_messages() -> set[str | tuple[str, ...]]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT, METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def load():
    with CATALOGUE.open("rb") as fh:
        return read_po(fh, locale="id")


def save(catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, sort_output=True, omit_header=False)
    CATALOGUE.write_bytes(buffer.getvalue())


def missing(catalog=None) -> list[str]:
    catalog = catalog or load()
    wanted = source_messages()
    out = []
    for message in wanted:
        key = message if isinstance(message, str) else message[0]
        entry = catalog.get(key)
        text = entry.string if entry else None
        if isinstance(text, tuple | list):
            text = text[0]
        if not entry or not text or entry.fuzzy:
            out.append(key)
    return sorted(out)


TRANSLATIONS = ROOT / "tools" / "tr"


def translations() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(TRANSLATIONS.glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "missing"
    if command == "build":
        main(["update"])
        catalog = load()
        for msgid, msgstr in translations().items():
            entry = catalog.get(msgid)
            if entry is not None:
                entry.string = msgstr
                entry.flags.discard("fuzzy")
        save(catalog)
        main(["compile"])
        return main(["missing"])
    if command == "update":
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                        "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o",
                        "survey/web/translations/messages.pot", "--no-location", "--sort-output",
                        "."], cwd=ROOT, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "update", "-i",
                        "survey/web/translations/messages.pot", "-d", "survey/web/translations",
                        "--no-fuzzy-matching", "--ignore-obsolete", "-w", "100"],
                       cwd=ROOT, check=True, capture_output=True)
        (ROOT / "survey/web/translations/messages.pot").unlink()
        return 0
    if command == "compile":
        catalog = load()
        with CATALOGUE.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)
        return 0
    todo = missing()
    for key in todo:
        print("missing:", key)
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
