"""Pure parts of the console: number, Rupiah and time formats, SVG drawings, translations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dcops.web import fmt, svg
from dcops.web.i18n import ID, translator


def test_indonesian_numbers_and_rupiah() -> None:
    assert fmt.idr(1_250_000_000) == "Rp 1.250.000.000"
    assert fmt.idr(1_250_000_000, "en") == "Rp 1,250,000,000"
    assert fmt.number(12.5, "id", 1) == "12,5"
    assert fmt.number(1234567.891, "id", 2) == "1.234.567,89"
    assert fmt.number(1234567.891, "en", 2) == "1,234,567.89"
    assert fmt.percent(72.46) == "72,5 %"
    assert fmt.idr(-5000) == "-Rp 5.000"
    assert fmt.number(None) == "–"


def test_times_in_jakarta() -> None:
    at = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)
    assert fmt.when(at) == "23-11-2026 20:05 WIB"
    assert fmt.when(at, "en") == "2026-11-23 20:05 WIB"
    assert fmt.when(datetime(2026, 12, 31, 20, 0)) == "01-01-2027 03:00 WIB"  # naive means UTC
    assert fmt.duration(3 * 3600 + 12 * 60, "id") == "3 j 12 m"
    assert fmt.bytes_rate(1.25e9, "id") == "1,2 Gbit/s" or fmt.bytes_rate(1.25e9, "id") == "1,3 Gbit/s"


def test_rack_svg_places_devices_by_unit_and_escapes_names() -> None:
    drawing = svg.rack_svg("A01", 42, [svg.RackDevice("sw<1>", 41, 2, "down", "/devices/1")], unit_px=10)
    assert "sw&lt;1&gt;" in drawing and "<1>" not in drawing
    # a 2U device at U41 of a 42U rack starts at the top: y = 18 + (42 - 42) * 10 + 1
    assert 'y="19"' in drawing and 'height="18"' in drawing
    assert svg.HEALTH_COLOURS["down"] in drawing


def test_line_chart_scales_points() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    chart = svg.line_chart([(t0, 0.0), (t0 + timedelta(hours=1), 100.0)], width=200, height=100)
    points = re.search(r'points="([^"]+)"', chart).group(1).split()  # type: ignore[union-attr]
    assert points[0].startswith("72.0,") and points[-1].startswith("192.0,8.0")
    assert "<polyline" not in svg.line_chart([(t0, 1.0)])


def test_every_template_text_has_an_indonesian_translation() -> None:
    root = Path(__file__).parents[2] / "dcops" / "web"
    used: set[str] = set()
    for path in list((root / "templates").glob("*.html")):
        used |= set(re.findall(r"""\bt\(\s*["']([^"']+)["']\s*\)""", path.read_text()))
    for path in (root / "render.py", root / "catalog.py", root / "pages" / "capacity.py"):
        used |= set(re.findall(r'MenuItem\("\w+", "([^"]+)"', path.read_text()))
    missing = sorted(text for text in used if text not in ID)
    assert not missing, f"no Indonesian for: {missing}"
    assert translator("id")("Log in") == "Masuk" and translator("en")("Log in") == "Log in"


def test_translator_names_its_language_for_messages() -> None:
    from dcops.web.forms import ValidationText
    from dcops.web.messages import say

    assert translator("en").lang == "en" and translator("id").lang == "id"
    assert translator("fr").lang == fmt.DEFAULT_LANG  # an unknown language falls back, text and name alike
    assert translator("fr")("Log in") == "Masuk"
    missing = ValidationText("Field required", {"type": "missing", "loc": ("name",), "msg": "Field required"})
    assert say(missing, translator("en")) == "Name is required."  # say() reads the language from t.lang
    assert say(missing, translator("id")) == "Name wajib diisi."
