"""Drawings made on the server as SVG (no charting library): rack elevations and small line charts.

Pure functions: plain data in, SVG text out (escaped), so they are tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

HEALTH_COLOURS = {
    "up": "#5aa469", "down": "#d0473c", "warning": "#e0a030", "maintenance": "#7d8fb3",
    "unknown": "#a7b0bd", "planned": "#d7dce3", "failed": "#d0473c",
}


@dataclass(frozen=True)
class RackDevice:
    """A device drawn in a rack: its lowest unit, height, name, health and link."""

    name: str
    position: int
    height: int
    health: str
    href: str
    face: str = "front"


def rack_svg(name: str, u_height: int, devices: list[RackDevice], *, unit_px: int = 13, width: int = 210) -> str:
    """Draw a rack's front elevation, units numbered from 1 at the bottom, devices coloured by health."""
    top, left, right = 18, 26, 6
    inner = width - left - right
    height = top + u_height * unit_px + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="rack-svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(name)}">',
        f'<text x="{width / 2}" y="12" text-anchor="middle" font-size="11" font-weight="600">{escape(name)}</text>',
        f'<rect x="{left}" y="{top}" width="{inner}" height="{u_height * unit_px}" fill="#eef1f5" stroke="#7b8796"/>',
    ]
    for u in range(1, u_height + 1):
        y = top + (u_height - u) * unit_px
        parts.append(f'<line x1="{left}" x2="{left + inner}" y1="{y}" y2="{y}" stroke="#d9dee5" stroke-width="0.5"/>')
        if u % 2 == 1 or unit_px >= 12:
            parts.append(f'<text x="{left - 4}" y="{y + unit_px - 3}" text-anchor="end" font-size="8" '
                         f'fill="#6b7685">{u}</text>')
    for dev in devices:
        if dev.height <= 0 or dev.position < 1:
            continue
        y = top + (u_height - (dev.position + dev.height - 1)) * unit_px
        h = dev.height * unit_px
        colour = HEALTH_COLOURS.get(dev.health, HEALTH_COLOURS["unknown"])
        label = escape(dev.name)
        parts.append(
            f'<a href="{escape(dev.href)}" class="rack-device" data-device="{label}" '
            f'data-health="{escape(dev.health)}">'
            f'<title>{label} · U{dev.position}{"-U" + str(dev.position + dev.height - 1) if dev.height > 1 else ""}'
            f' · {escape(dev.health)}</title>'
            f'<rect x="{left + 2}" y="{y + 1}" width="{inner - 4}" height="{h - 2}" rx="2" fill="{colour}" '
            f'stroke="#2d3742" stroke-width="0.6"/>'
            f'<text x="{left + 7}" y="{y + min(h, 2 * unit_px) / 2 + 4}" font-size="10" fill="#10161e">'
            f'{label}</text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: list[tuple[datetime, float]], *, width: int = 560, height: int = 150, unit: str = "",
               label_time: object = None, label_value: object = None, colour: str = "#1f5fa8") -> str:
    """Draw a line chart of (time, value) points with min/max labels; ``label_*`` format the axis texts."""
    pad_l, pad_r, pad_t, pad_b = 72, 8, 8, 20
    fmt_t = label_time if callable(label_time) else (lambda t: t.strftime("%H:%M"))
    fmt_v = label_value if callable(label_value) else (lambda v: f"{v:.1f}")
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet" role="img">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="none" stroke="#d0d6de"/>']
    if len(points) < 2:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12" fill="#7b8796">'
                     "–</text></svg>")
        return "".join(parts)
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    if hi == lo:
        hi, lo = hi + 1, lo - (1 if lo > 0 else 0)
    span_t = (t1 - t0) or 1.0
    coords = " ".join(
        f"{pad_l + (p[0].timestamp() - t0) / span_t * w:.1f},{pad_t + (1 - (p[1] - lo) / (hi - lo)) * h:.1f}"
        for p in points
    )
    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{coords}"/>')
    for value, y in ((hi, pad_t + 9), (lo, pad_t + h)):
        parts.append(f'<text x="{pad_l - 4}" y="{y}" text-anchor="end" font-size="10" fill="#5f6b7a">'
                     f'{escape(str(fmt_v(value)))}{escape(unit)}</text>')
    for stamp, x, anchor in ((points[0][0], pad_l, "start"), (points[-1][0], pad_l + w, "end")):
        parts.append(f'<text x="{x}" y="{height - 5}" text-anchor="{anchor}" font-size="10" fill="#5f6b7a">'
                     f'{escape(str(fmt_t(stamp)))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: list[tuple[str, float]], *, width: int = 560, height: int = 200,
              label_value: object = None, labels: dict[str, str] | None = None, colour: str = "#1f5fa8") -> str:
    """Draw labelled vertical bars (e.g. hosts per fiscal year), with an optional second label under each."""
    fmt_v = label_value if callable(label_value) else (lambda v: f"{v:,.0f}")
    pad_t, pad_b = 18, 38 if labels else 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet" role="img">']
    if not bars:
        return "".join(parts) + "</svg>"
    top = max(v for _, v in bars) or 1.0
    slot = width / len(bars)
    bar_w = min(70.0, slot * 0.6)
    for i, (label, value) in enumerate(bars):
        bh = (height - pad_t - pad_b) * value / top
        x = i * slot + (slot - bar_w) / 2
        y = height - pad_b - bh
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bh:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10">'
                     f'{escape(str(fmt_v(value)))}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - pad_b + 14}" text-anchor="middle" '
                     f'font-size="11" font-weight="600">{escape(label)}</text>')
        if labels and label in labels:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="10" '
                         f'fill="#5f6b7a">{escape(labels[label])}</text>')
    parts.append("</svg>")
    return "".join(parts)
