"""Charts without matplotlib: horizontal bars as text or as a small inline SVG."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from html import escape

__all__ = ["svg_bars", "text_bars"]


def _scale(values: Mapping[str, Decimal]) -> Decimal:
    top = max((abs(v) for v in values.values()), default=Decimal(0))
    return top if top > 0 else Decimal(1)


def text_bars(values: Mapping[str, Decimal], *, width: int = 40, unit: str = "") -> str:
    """One line per label: the label, a bar of ``#`` proportional to the value, the value."""
    if not values:
        return "(no data)"
    top = _scale(values)
    pad = max(len(k) for k in values)
    lines = []
    for label, value in values.items():
        n = int((abs(value) / top * width).to_integral_value())
        bar = "#" * n if value >= 0 else "-" * n
        lines.append(f"{label.ljust(pad)} | {bar.ljust(width)} {value}{unit}")
    return "\n".join(lines)


def svg_bars(values: Mapping[str, Decimal], *, title: str = "", width: int = 480,
             bar_height: int = 22, unit: str = "") -> str:
    """A horizontal bar chart as a standalone SVG document (text, no dependencies)."""
    label_w, gap, top_pad = 120, 6, 28 if title else 8
    plot_w = width - label_w - 90
    top = _scale(values)
    height = top_pad + len(values) * (bar_height + gap) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">']
    if title:
        parts.append(f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>')
    for i, (label, value) in enumerate(values.items()):
        y = top_pad + i * (bar_height + gap)
        w = int((abs(value) / top * plot_w).to_integral_value())
        colour = "#2b7bb9" if value >= 0 else "#c0392b"
        parts.append(f'<text x="8" y="{y + bar_height - 7}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_height}" '
                     f'fill="{colour}"><title>{escape(label)}: {value}{unit}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + bar_height - 7}">'
                     f'{escape(str(value))}{escape(unit)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
