"""The Grafana dashboards are importable and read only metric names and labels that dcops exports."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcops.monitoring.types import METRICS, PROMETHEUS_EXTRA
from tests.dashboards.names import dashboard_names, dashboard_queries, rule_file_names, selector_labels

ROOT = Path(__file__).resolve().parents[2] / "dashboards"
DASHBOARDS = sorted((ROOT / "grafana").glob("*.json"))
RULE_FILES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
DEVICE_LABELS = {"device", "site", "role"}
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
PROMETHEUS_BUILTINS = {"ALERTS"}  # written by Prometheus itself; only the hysteresis of the alert rules reads it


def exported() -> dict[str, set[str]]:
    """Every name dcops exports -> its label names, as the catalogue in dcops.monitoring.types defines them."""
    names = {f"dcops_{name}": DEVICE_LABELS | set(labels) for name, (_, labels) in METRICS.items()}
    names |= {name: set(labels) for name, (_, labels) in PROMETHEUS_EXTRA.items()}
    return names


def recorded() -> set[str]:
    return set().union(*(rule_file_names(path)[0] for path in RULE_FILES))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_generated_files_are_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("dashboards_generate", ROOT / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = module.render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text(encoding="utf-8") == rendered[path.name], f"run python dashboards/generate.py ({path})"


def test_the_six_dashboards_exist() -> None:
    titles = {_load(p)["uid"]: _load(p)["title"] for p in DASHBOARDS}
    assert set(titles) == {"dcops-overview", "dcops-device", "dcops-interfaces", "dcops-power", "dcops-capacity",
                           "dcops-poller"}
    assert len(set(titles.values())) == len(titles)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_importable(path: Path) -> None:
    board = _load(path)
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert "dcops" in board["tags"]
    assert board["schemaVersion"] >= 39
    assert board["title"] and board["time"] and board["refresh"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
    panels = board["panels"]
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"panel {panel['title']} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == "${datasource}"
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
        mine = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
        assert not cells & mine, f"panel {panel['title']} overlaps another"
        cells |= mine
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"]["uid"] == "${datasource}"
            assert var["query"]["query"].startswith("label_values(")
    # every $variable a query uses is defined (Grafana's own start with $__)
    for where, query in dashboard_queries(board):
        for name in re.findall(r"\$\{?(\w+)", query):
            assert name.startswith("__") or name in variables, f"{path.name} {where}: ${name} is not defined"


def test_device_dashboard_is_templated_by_device() -> None:
    board = _load(ROOT / "grafana" / "dcops-device.json")
    [var] = [v for v in board["templating"]["list"] if v["name"] == "device"]
    assert var["query"]["query"].startswith("label_values(dcops_device_up")
    assert var["query"]["query"].rstrip().endswith(", device)")
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert 'device="$device"' in target["expr"], panel["title"]


def unknown_names(dashboards: list[Path], rule_files: list[Path], known: set[str]) -> dict[str, set[str]]:
    """Name -> where it is used, for every name the dashboards and rules read that is not in ``known``."""
    unknown: dict[str, set[str]] = {}
    for path in dashboards:
        for name, where in dashboard_names(path).items():
            if name not in known:
                unknown.setdefault(name, set()).update(where)
    for path in rule_files:
        for name, where in rule_file_names(path)[1].items():
            if name not in known | PROMETHEUS_BUILTINS:
                unknown.setdefault(name, set()).update(where)
    return unknown


def test_dashboards_and_rules_use_only_exported_names() -> None:
    assert unknown_names(DASHBOARDS, RULE_FILES, set(exported()) | recorded()) == {}, \
        "names dcops does not export (see dcops.monitoring.types)"


def test_an_unknown_name_is_reported(tmp_path: Path) -> None:
    board = _load(DASHBOARDS[0])
    board["panels"][0]["targets"][0]["expr"] = 'rate(dcops_no_such_metric{site=~"$site"}[5m])'
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(board))
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: [{name: g, rules: [{alert: A, expr: dcops_device_upp > 0}]}]")
    assert set(unknown_names([path], [rules], set(exported()) | recorded())) == {"dcops_no_such_metric",
                                                                                 "dcops_device_upp"}


def test_label_matchers_use_labels_the_metric_has() -> None:
    labels = exported()
    bad = []
    queries = [(p.name, q) for p in DASHBOARDS for _, q in dashboard_queries(_load(p))]
    for path in RULE_FILES:
        queries += [(path.name, r["expr"]) for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    for where, query in queries:
        for name, used in selector_labels(query):
            if name in labels and not used <= labels[name] | SCRAPE_LABELS:
                bad.append((where, name, used - labels[name]))
    assert bad == []


def test_every_exported_name_has_a_dashboard() -> None:
    used = set().union(*(dashboard_names(p) for p in DASHBOARDS))
    assert set(exported()) - used == set()


def test_every_recording_rule_is_used_by_a_dashboard() -> None:
    used = set().union(*(dashboard_names(p) for p in DASHBOARDS))
    assert recorded() - used == set()
