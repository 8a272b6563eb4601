"""A small SVG badge an agency can put on its own website."""

from __future__ import annotations

from html import escape


def badge_svg(label: str, value: str, note: str = "") -> str:
    """`label | value` in two boxes, with an optional note as the title (tooltip)."""
    left = 8 + 7 * len(label)
    right = 10 + 7 * len(value)
    width = left + right
    title = f"{label}: {value}" + (f" ({note})" if note else "")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect width="{left}" height="20" fill="#4a525c"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#0b5cad"/>'
        f'<g fill="#fff" font-family="DejaVu Sans,Verdana,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14" text-anchor="middle">{escape(label)}</text>'
        f'<text x="{left + right / 2}" y="14" text-anchor="middle">{escape(value)}</text>'
        "</g></svg>"
    )
