"""gzip for text answers when the app serves them itself (`make run`, a gunicorn without
a proxy in front): the citizen's form, its stylesheet and script travel in about a third
of their size over a slow connection. A proxy that compresses sees Content-Encoding and
leaves the answer alone."""

from __future__ import annotations

import gzip

from flask import Response, request

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/javascript", "application/javascript", "text/csv",
    "application/json", "image/svg+xml", "text/plain",
})
MIN_SIZE = 512  # below this the gzip header costs more than it saves
LEVEL = 6


def accepts_gzip() -> bool:
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        coding, _sep, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0",
                                                                             "q=0.0"):
            return True
    return False


def compress(response: Response) -> Response:
    """after_request: gzip a complete 200 text answer the client accepts gzip for (a
    static file too; never a streamed export)."""
    if (response.status_code != 200 or request.method == "HEAD"
            or (response.is_streamed and not response.direct_passthrough)
            or response.mimetype not in COMPRESSIBLE
            or "Content-Encoding" in response.headers):
        return response
    response.vary.add("Accept-Encoding")  # caches keep both forms apart
    if not accepts_gzip():
        return response
    source = response.response
    response.direct_passthrough = False
    body = b"".join(response.iter_encoded())
    if hasattr(source, "close"):  # a static file's handle
        source.close()
    if len(body) < MIN_SIZE:
        response.set_data(body)
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag:  # the compressed bytes are a different representation
        response.set_etag(f"{etag}-gzip", weak=weak)
    return response
