"""QR codes for desk and ticket links (error correction Q: a poster stays readable with a
scratch or a sticker over a quarter of it)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_Q


def _code(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=10, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def png(url: str, box_size: int = 10) -> bytes:
    code = _code(url)
    code.box_size = box_size
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def svg(url: str) -> str:
    image = _code(url).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def modules(url: str) -> list[list[bool]]:
    """The code's dark modules row by row, quiet zone included: for drawing it into a
    larger SVG (the public infographic)."""
    return _code(url).get_matrix()


def image(url: str, fmt: str) -> tuple[bytes, str]:
    """The QR code of a link as PNG or SVG, with its MIME type."""
    if fmt == "png":
        return png(url), "image/png"
    if fmt == "svg":
        return svg(url).encode(), "image/svg+xml"
    raise ValueError(f"unknown QR format {fmt!r}; use png or svg")
