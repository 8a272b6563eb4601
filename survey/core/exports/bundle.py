"""Building signed export bundles: the export files, the manifest with their hashes, and
the Ed25519 signature made with the instance's signing key. The format and its offline
verification are survey.ikm.bundle (what `ikm verify` runs)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from survey.ikm.bundle import FORMAT, MANIFEST, SIGNATURE, sha256


def build(files: Mapping[str, bytes], manifest: dict[str, Any], key: Ed25519PrivateKey,
          row_counts: Mapping[str, int] | None = None) -> bytes:
    """The zip: files, the manifest (with their hashes) and its signature."""
    manifest = dict(manifest)
    manifest["format"] = FORMAT
    manifest["files"] = {
        name: {"sha256": sha256(data), "bytes": len(data),
               **({"rows": row_counts[name]} if row_counts and name in row_counts else {})}
        for name, data in sorted(files.items())
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True,
                      allow_nan=False).encode()
    signature = base64.b64encode(key.sign(body))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
        archive.writestr(MANIFEST, body)
        archive.writestr(SIGNATURE, signature + b"\n")
    return buffer.getvalue()
