"""Read the metric names out of PromQL expressions, Grafana dashboards and Prometheus rule files.

Not a PromQL parser: enough of the grammar to tell a metric name from a function, an aggregation, a keyword,
a label name (inside ``{...}`` or a ``by (...)`` list), a duration or a Grafana variable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?=\s*(\(?))")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right",
             "atan2", "inf", "nan", "start", "end"}
_GRAFANA_FUNC = re.compile(r"^\s*(label_values|query_result|label_names|metrics)\s*\((.*)\)\s*$", re.S)


_NAME_MATCHER = re.compile(r"""__name__\s*=\s*["']([A-Za-z_:][\w:]*)["']""")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (recording-rule names included)."""
    names = set(_NAME_MATCHER.findall(expr))  # {__name__="..."}
    text = _STRING.sub('""', expr)
    text = _VARIABLES.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue  # a function or aggregation call, or an operator keyword
        names.add(name)
    return names


_SELECTOR = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names its ``{...}`` matchers use) for every selector with matchers."""
    text = _VARIABLES.sub(" ", _STRING.sub('""', expr))
    return [(m.group(1), set(_MATCHER_LABEL.findall(m.group(2)))) for m in _SELECTOR.finditer(text)]


def variable_query_names(query: str) -> set[str]:
    """Metric names a Grafana variable query reads: ``label_values(metric{...}, label)``, ``query_result(expr)``."""
    match = _GRAFANA_FUNC.match(query)
    if not match:
        return metric_names(query)
    func, args = match.groups()
    if func == "query_result":
        return metric_names(args)
    if func == "label_values":
        depth, split = 0, None
        for i, ch in enumerate(args):
            depth += ch in "({["
            depth -= ch in ")}]"
            if ch == "," and depth == 0:
                split = i
        return metric_names(args[:split]) if split is not None else set()
    return set()


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, query) for every panel target and every query variable of a dashboard."""
    found = []
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            found.append((f"panel {panel.get('id')} '{panel.get('title')}' {target.get('refId')}", target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            found.append((f"variable {var['name']}", query))
    return found


def dashboard_names(path: Path) -> dict[str, set[str]]:
    """Metric name -> where it is used, over one dashboard file."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    used: dict[str, set[str]] = {}
    for where, query in dashboard_queries(dashboard):
        names = variable_query_names(query) if where.startswith("variable") else metric_names(query)
        for name in names:
            used.setdefault(name, set()).add(f"{path.name}: {where}")
    return used


def rule_file_names(path: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(names the file records, metric name -> the rules that read it)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded: set[str] = set()
    used: dict[str, set[str]] = {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                recorded.add(rule["record"])
            label = rule.get("record") or rule.get("alert")
            for name in metric_names(rule["expr"]):
                used.setdefault(name, set()).add(f"{path.name}: {label}")
    return recorded, used
