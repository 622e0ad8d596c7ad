"""Alert rules as data: load and check the YAML files in ``rules/`` (and a user's own directory).

A rule names one condition, from these kinds (exactly one per rule)::

    metric: cpu_load_percent     above: 90  clear_below: 80      # threshold with hysteresis
    metric: if_oper_up           below: 1   when: {if_admin_up: 1} # with a condition on the same subject
    metric: if_oper_up           above: 0   subjects_in: unused_ports   # only subjects the inventory lists
    metric: rack_power_percent   above: 100 clear_below: 95       # rack rules (scope: rack)
    decreased: device_uptime_seconds                               # went back since the previous poll
    fact_changed: [sys_descr, sys_object_id, firmware]             # differs from the previous poll
    fact_differs: serial         from_inventory: serial            # differs from the source of truth
    fact_true: answers_v1v2c     inventory_flag: v3_only           # a fact, gated by an inventory flag
    event: authenticationFailure                                   # a trap (resolve_on: the trap that ends it)
    sensor: [temperature]        level: critical                   # a sensor past its limits (the device's own,
                                                                   # an override, else the class/role default)

``for`` (seconds, or "5m") and ``for_polls`` delay firing; ``clear_after`` resolves event, change and
decrease rules once that long has passed without a new occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from dcops.exceptions import ValidationError
from dcops.monitoring.types import METRICS

RULES_DIR = Path(__file__).parent / "rules"
KINDS = ("metric", "decreased", "fact_changed", "fact_differs", "fact_true", "event", "sensor")
SEVERITIES = ("critical", "warning", "info")
#: metrics computed by dcops itself rather than read by the poller
DERIVED_METRICS = {"rack_power_percent": ("rack power draw against its budget", ("rack",))}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, *, what: str) -> float:
    """Turn ``90``, ``"90s"``, ``"5m"`` or ``"1h"`` into seconds."""
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ValidationError(f"{what}: '{value}' is not a duration like 30s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Rule:
    """One alert rule, checked and ready for the pure evaluator."""

    name: str
    severity: str
    category: str
    kind: str
    summary: str
    target: tuple[str, ...] = ()  # metric, or the facts / event names the condition reads
    above: float | None = None
    below: float | None = None
    clear_above: float | None = None
    clear_below: float | None = None
    when: dict[str, float] = field(default_factory=dict)
    subjects_in: str | None = None
    from_inventory: str | None = None
    inventory_flag: str | None = None
    for_s: float = 0.0
    for_polls: int = 1
    clear_after: float | None = None
    scope: str = "device"
    resolve_on: tuple[str, ...] = ()  # events that resolve an event rule's alert (linkUp for linkDown)
    description: str = ""
    level: str = ""  # sensor rules: the sensor state that fires the rule (critical | warning)

    @property
    def metric(self) -> str:
        return self.target[0]

    def firing_threshold(self, value: float) -> bool:
        """Tell whether ``value`` breaches the rule's threshold."""
        if self.above is not None and value > self.above:
            return True
        return self.below is not None and value < self.below

    def still_breached(self, value: float) -> bool:
        """Tell whether a firing alert stays up at ``value`` (the hysteresis band keeps it)."""
        if self.above is not None:
            return value > (self.clear_below if self.clear_below is not None else self.above)
        if self.below is not None:
            return value < (self.clear_above if self.clear_above is not None else self.below)
        return False

    def render(self, **values: Any) -> str:
        """Fill the summary template; unknown placeholders stay as they are."""
        try:
            return self.summary.format_map(_Defaulting(values))[:500]
        except (ValueError, IndexError):
            return self.summary[:500]


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _number(raw: dict[str, Any], key: str, where: str) -> float | None:
    if key not in raw or raw[key] is None:
        return None
    try:
        return float(raw[key])
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: {key} must be a number, not {raw[key]!r}") from None


def parse_rule(raw: dict[str, Any], *, source: str = "") -> Rule:
    """Check one rule mapping and return it as a :class:`Rule`."""
    where = f"{source} rule {raw.get('name', '?')!r}" if source else f"rule {raw.get('name', '?')!r}"
    if not isinstance(raw.get("name"), str) or not re.match(r"^[a-z][a-z0-9_]*$", raw["name"]):
        raise ValidationError(f"{where}: name must be lower_snake_case")
    if raw.get("severity") not in SEVERITIES:
        raise ValidationError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    if raw.get("category", "health") not in ("health", "security"):
        raise ValidationError(f"{where}: category must be health or security")
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) != 1:
        raise ValidationError(f"{where}: give exactly one condition among {', '.join(KINDS)}")
    kind = kinds[0]
    target = raw[kind]
    target_t = tuple(target) if isinstance(target, list) else (str(target),)
    known = set(METRICS) | set(DERIVED_METRICS)
    if kind in ("metric", "decreased") and target_t[0] not in known:
        raise ValidationError(f"{where}: unknown metric '{target_t[0]}' (see dcops.monitoring.types.METRICS)")
    rule = Rule(
        name=raw["name"], severity=raw["severity"], category=raw.get("category", "health"), kind=kind,
        summary=str(raw.get("summary", raw["name"])), target=target_t,
        above=_number(raw, "above", where), below=_number(raw, "below", where),
        clear_above=_number(raw, "clear_above", where), clear_below=_number(raw, "clear_below", where),
        when={str(k): float(v) for k, v in (raw.get("when") or {}).items()},
        subjects_in=raw.get("subjects_in"), from_inventory=raw.get("from_inventory"),
        inventory_flag=raw.get("inventory_flag"),
        for_s=parse_duration(raw.get("for", 0), what=f"{where} for"),
        for_polls=int(raw.get("for_polls", 1)),
        clear_after=(parse_duration(raw["clear_after"], what=f"{where} clear_after")
                     if raw.get("clear_after") is not None else None),
        scope=raw.get("scope", "device"), description=str(raw.get("description", "")),
        resolve_on=tuple(raw.get("resolve_on") or ()) if isinstance(raw.get("resolve_on"), list)
        else ((str(raw["resolve_on"]),) if raw.get("resolve_on") else ()),
        level=str(raw.get("level", "")),
    )
    if kind == "sensor":
        from dcops.monitoring.sensors import CLASSES

        unknown = [c for c in rule.target if c not in CLASSES]
        if unknown:
            raise ValidationError(f"{where}: unknown sensor class {', '.join(unknown)} (one of {', '.join(CLASSES)})")
        if rule.level not in ("critical", "warning"):
            raise ValidationError(f"{where}: a sensor rule needs level: critical or warning")
    if kind == "metric":
        if (rule.above is None) == (rule.below is None):
            raise ValidationError(f"{where}: a metric rule needs exactly one of above or below")
        if rule.above is not None and rule.clear_below is not None and rule.clear_below > rule.above:
            raise ValidationError(f"{where}: clear_below must not exceed above")
        if rule.below is not None and rule.clear_above is not None and rule.clear_above < rule.below:
            raise ValidationError(f"{where}: clear_above must not be under below")
    if kind == "fact_differs" and not rule.from_inventory:
        raise ValidationError(f"{where}: fact_differs needs from_inventory")
    if rule.for_polls < 1:
        raise ValidationError(f"{where}: for_polls must be at least 1")
    if rule.scope not in ("device", "rack"):
        raise ValidationError(f"{where}: scope must be device or rack")
    return rule


def load_rules(*directories: Path, overrides: dict[str, dict[str, Any]] | None = None) -> list[Rule]:
    """Load every ``*.yaml`` rule file, the package's first; a later rule of the same name replaces it."""
    by_name: dict[str, Rule] = {}
    for directory in (RULES_DIR, *directories):
        for path in sorted(Path(directory).glob("*.yaml")):
            try:
                doc = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise ValidationError(f"{path}: not valid YAML: {exc}") from None
            for raw in doc.get("rules", []):
                rule = parse_rule(raw, source=path.name)
                by_name[rule.name] = rule
    for name, changes in (overrides or {}).items():
        if name not in by_name:
            raise ValidationError(f"no rule named '{name}' to override")
        by_name[name] = replace(by_name[name], **changes)
    return list(by_name.values())


_cache: list[Rule] | None = None


def default_rules() -> list[Rule]:
    """Return the rules the running process uses (the package's, plus ``DCOPS_RULES_DIR`` if set)."""
    global _cache
    if _cache is None:
        import os

        extra = os.environ.get("DCOPS_RULES_DIR")
        _cache = load_rules(*([Path(extra)] if extra else []))
    return _cache


def set_rules(rules: list[Rule] | None) -> None:
    """Replace the rules in use (tests, reload); None reloads from the files on next use."""
    global _cache
    _cache = rules
