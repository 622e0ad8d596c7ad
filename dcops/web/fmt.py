"""How the console writes numbers, Rupiah amounts and times (pure functions).

Indonesian: dot for thousands, comma for decimals (``Rp 1.250.000.000``, ``12,5``); English:
comma and dot. Times are shown in the data center's zone (Asia/Jakarta, WIB) whatever the server's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LANGS = ("id", "en")
DEFAULT_LANG = "id"
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


def number(value: float | int | None, lang: str = DEFAULT_LANG, decimals: int = 0) -> str:
    """Write ``value`` with grouped thousands and ``decimals`` decimals in the language's style."""
    if value is None:
        return "–"
    text = f"{float(value):,.{decimals}f}" if decimals else f"{round(float(value)):,}"
    if lang == "id":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def idr(value: float | int | None, lang: str = DEFAULT_LANG) -> str:
    """Write a Rupiah amount: ``Rp 1.250.000.000``."""
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}Rp {number(abs(value), lang)}"


def percent(value: float | None, lang: str = DEFAULT_LANG, decimals: int = 1) -> str:
    """Write a percentage: ``72,5 %`` (Indonesian) or ``72.5%``."""
    if value is None:
        return "–"
    return f"{number(value, lang, decimals)} %" if lang == "id" else f"{number(value, lang, decimals)}%"


def local_time(value: datetime | None, zone: str = "Asia/Jakarta") -> datetime | None:
    """Return ``value`` (naive means UTC) in ``zone``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone))


def when(value: datetime | None, lang: str = DEFAULT_LANG, zone: str = "Asia/Jakarta", seconds: bool = False) -> str:
    """Write a time in the data center's zone: ``23-11-2026 19:05 WIB`` or ``2026-11-23 19:05 WIB``."""
    local = local_time(value, zone)
    if local is None:
        return "–"
    clock = "%H:%M:%S" if seconds else "%H:%M"
    pattern = f"%d-%m-%Y {clock}" if lang == "id" else f"%Y-%m-%d {clock}"
    return f"{local.strftime(pattern)} {_ZONE_NAMES.get(zone, local.tzname() or zone)}"


def bytes_rate(bps: float | None, lang: str = DEFAULT_LANG) -> str:
    """Write a bit rate with its unit: ``1,2 Gbit/s``."""
    if bps is None:
        return "–"
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(bps) >= size:
            return f"{number(bps / size, lang, 1)} {unit}"
    return f"{number(bps, lang)} bit/s"


def duration(seconds: float | None, lang: str = DEFAULT_LANG) -> str:
    """Write a duration compactly: ``3 j 12 m`` / ``3 h 12 m``, ``45 s``."""
    if seconds is None:
        return "–"
    s = int(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    h = "j" if lang == "id" else "h"
    d = "h" if lang == "id" else "d"
    if days:
        return f"{days} {d} {hours} {h}"
    if hours:
        return f"{hours} {h} {minutes} m"
    if minutes:
        return f"{minutes} m {secs} s"
    return f"{secs} s"
