"""The seller's round red seal (电子印章 image) drawn as SVG from its name: the name along
the upper arc, a star in the middle and the seal's use below it.

This is the picture printed on the contract; what makes the contract binding is the
PAdES signature (invoicing.signing) and the filing number printed beside it.
"""

import math
from base64 import b64encode
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

SIZE = 200
RED = "#d2161e"


def seal_svg(name: str, *, label: str | None = None) -> str:
    label = _("Contract seal") if label is None else label
    centre, radius = SIZE / 2, SIZE / 2 - 6
    characters = list(name.strip()) or ["?"]
    # The name runs clockwise over the top, from lower left to lower right.
    span = min(240.0, 22.0 * len(characters))
    start = 270 - span / 2
    step = span / (len(characters) - 1) if len(characters) > 1 else 0
    text_radius = radius - 24
    font_size = max(12.0, min(26.0, 2 * math.pi * text_radius * (span / 360) / len(characters) * 0.9))
    glyphs = []
    for index, character in enumerate(characters):
        angle = start + index * step if len(characters) > 1 else 270
        radians = math.radians(angle)
        x = centre + text_radius * math.cos(radians)
        y = centre + text_radius * math.sin(radians)
        glyphs.append(
            f'<text x="{x:.2f}" y="{y:.2f}" transform="rotate({angle + 90:.2f} {x:.2f} {y:.2f})" '
            f'text-anchor="middle" dy="{font_size * 0.35:.2f}" font-size="{font_size:.2f}">{escape(character)}</text>'
        )
    star = " ".join(
        f"{centre + (28 if point % 2 == 0 else 11) * math.cos(math.radians(-90 + 36 * point)):.2f},"
        f"{centre + (28 if point % 2 == 0 else 11) * math.sin(math.radians(-90 + 36 * point)):.2f}"
        for point in range(10)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">'
        f'<g fill="{RED}" font-family="Noto Sans CJK SC, sans-serif" font-weight="bold">'
        f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="{RED}" stroke-width="5"/>'
        f'<polygon points="{star}"/>'
        + "".join(glyphs)
        + f'<text x="{centre}" y="{centre + 58}" text-anchor="middle" font-size="17">{escape(label)}</text>'
        "</g></svg>"
    )


def seal_data_uri(name: str, *, label: str | None = None) -> str:
    return "data:image/svg+xml;base64," + b64encode(seal_svg(name, label=label).encode()).decode()
