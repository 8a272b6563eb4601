"""Signed export bundles, verified offline (no Flask, no database).

A bundle is a zip of export files plus `manifest.json` (filters, file hashes and row
counts, the chain head at export time, the settings and the engine's results computed
from the bundled CSV) and `manifest.sig`, an Ed25519 signature over the manifest's exact
bytes. `verify` checks the signature, every file's SHA-256, and recomputes the results from
the CSV with the engine, so an auditor needs nothing from the server but its public key.
The server builds bundles with survey.core.exports.bundle, from the names defined here.

`cryptography` is imported by the functions that need it: the engine and `ikm compute`
run without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from survey.ikm.compute import compute
from survey.ikm.csvio import CsvError
from survey.ikm.engine import to_json_dict

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "skm-export-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RESPONSES = "responses.csv"
POPULATIONS = "populations.csv"
TOLERANCE = 1e-9


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (from /audit/public-key)."""
    # cryptography only here and in verify: the engine and `ikm compute` run without it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))

    def text(self) -> str:
        lines = [f"{'OK  ' if c.ok else 'FAIL'} {c.name}" + (f": {c.detail}" if c.detail else "")
                 for c in self.checks]
        lines.append("bundle verified" if self.ok else "bundle NOT verified")
        return "\n".join(lines) + "\n"


def verify(bundle_path: str | Path, public_key_pem: bytes) -> Report:
    """Everything an auditor can check offline; each check says what matched or not."""
    report = Report()
    try:
        archive = zipfile.ZipFile(bundle_path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.add("bundle readable", False, str(exc))
        return report
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names or SIGNATURE not in names:
            report.add("manifest and signature present", False,
                       f"missing {', '.join(sorted({MANIFEST, SIGNATURE} - names))}")
            return report
        body = archive.read(MANIFEST)
        from cryptography.exceptions import InvalidSignature  # see load_public_key

        try:
            key = load_public_key(public_key_pem)
            key.verify(base64.b64decode(archive.read(SIGNATURE).strip(), validate=True), body)
            report.add("signature over manifest.json", True, "made by the given key")
        except (InvalidSignature, ValueError) as exc:
            report.add("signature over manifest.json", False,
                       str(exc) or "the manifest was changed or signed by another key")
        try:
            manifest = json.loads(body)
        except json.JSONDecodeError as exc:
            report.add("manifest readable", False, str(exc))
            return report
        listed = manifest.get("files", {})
        for name in sorted(listed):
            if name not in names:
                report.add(f"file {name}", False, "listed in the manifest but missing")
                continue
            digest = sha256(archive.read(name))
            report.add(f"file {name}", digest == listed[name].get("sha256"),
                       "SHA-256 matches" if digest == listed[name].get("sha256") else
                       f"SHA-256 {digest[:16]}… differs from the manifest")
        extra = names - set(listed) - {MANIFEST, SIGNATURE}
        if extra:
            report.add("no unlisted files", False, ", ".join(sorted(extra)))
        if RESPONSES in names:
            _recompute(archive, manifest, report)
    return report


def _recompute(archive: zipfile.ZipFile, manifest: dict[str, Any], report: Report) -> None:
    """Run the engine on the bundled CSV and compare with the manifest's results."""
    settings = manifest.get("settings", {})
    with tempfile.TemporaryDirectory() as tmp:
        responses = Path(tmp) / RESPONSES
        responses.write_bytes(archive.read(RESPONSES))
        populations = None
        if POPULATIONS in archive.namelist():
            populations = Path(tmp) / POPULATIONS
            populations.write_bytes(archive.read(POPULATIONS))
        try:
            results = compute(str(responses), str(populations) if populations else None,
                              settings.get("standard", "permenpan-14-2017"),
                              settings.get("weights", "exact"),
                              float(settings.get("confidence", 0.95)))
        except CsvError as exc:
            report.add("results recomputed from responses.csv", False, str(exc))
            return
    recomputed = to_json_dict(results.values())
    differences = list(_differences(manifest.get("results"), recomputed, "results"))
    report.add("results recomputed from responses.csv", not differences,
               f"{len(recomputed['results'])} results match the manifest" if not differences
               else "; ".join(differences[:5]))


def _differences(expected: Any, actual: Any, path: str):
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in expected or key not in actual:
                yield f"{path}.{key} present on one side only"
            else:
                yield from _differences(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{path}: {len(expected)} entries in the manifest, {len(actual)} recomputed"
            return
        for i, (a, b) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(a, b, f"{path}[{i}]")
    elif isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, int | float) and isinstance(actual, int | float)
                and math.isclose(expected, actual, rel_tol=TOLERANCE, abs_tol=1e-12)):
            yield f"{path}: manifest {expected!r}, recomputed {actual!r}"
    elif expected != actual:
        yield f"{path}: manifest {expected!r}, recomputed {actual!r}"
