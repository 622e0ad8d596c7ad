"""A live dcops serves /metrics with every name the dashboards and rules read, and a real Prometheus scrapes it.

The data are recorded through the monitoring state service, the way the poller records a poll: a switch, a
hypervisor, a storage array that stopped answering, a UPS on battery and a PDU in a rack with a power budget.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from dcops.monitoring.types import METRICS, PROMETHEUS_EXTRA, PollResult, Sample
from tests.dashboards.names import dashboard_queries
from tests.dashboards.test_dashboards import (
    DASHBOARDS,
    DEVICE_LABELS,
    PROMETHEUS_BUILTINS,
    RULE_FILES,
    recorded,
    unknown_names,
)
from tests.server import free_port, running_server

PROM_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"


def _samples(**values: Any) -> list[Sample]:
    out = []
    for metric, value in values.items():
        if isinstance(value, dict):  # label value -> value, for metrics with their own label
            label = METRICS[metric][1][0]
            out += [Sample(metric, float(v), ((label, subject),)) for subject, v in value.items()]
        else:
            out.append(Sample(metric, float(value)))
    return out


def _polls() -> dict[str, tuple[str, bool, list[Sample]]]:
    """Device name -> (role, reachable, samples) of one poll each; together they cover every metric."""
    common = {"device_up": 1, "device_uptime_seconds": 86400, "device_poll_duration_seconds": 0.4}
    iface = {"ge-0/0/1": 1, "ge-0/0/2": 0}
    return {
        "sw-core-1": ("switch", True, _samples(
            **common, if_admin_up={"ge-0/0/1": 1, "ge-0/0/2": 1}, if_oper_up=iface,
            if_speed_bps={"ge-0/0/1": 1e9, "ge-0/0/2": 1e9}, if_in_bps={"ge-0/0/1": 4.2e8, "ge-0/0/2": 0},
            if_out_bps={"ge-0/0/1": 1.1e8, "ge-0/0/2": 0}, if_utilization_percent={"ge-0/0/1": 42, "ge-0/0/2": 0},
            if_in_errors_per_second={"ge-0/0/1": 0.2}, if_out_errors_per_second={"ge-0/0/1": 0},
            if_in_discards_per_second={"ge-0/0/1": 0}, if_out_discards_per_second={"ge-0/0/1": 0},
            snmp_bad_community_per_second=0.5)),
        "hv-01": ("hypervisor", True, _samples(
            **common, cpu_load_percent=37, memory_used_percent=61, storage_used_percent={"/": 48, "/var": 71},
            temperature_celsius={"inlet": 24, "cpu0": 58}, fan_rpm={"fan1": 8200}, sensor_state={"PSU 1": 0})
            + [Sample("sensor_value", 12.1, (("class", "voltage"), ("sensor", "PSU 1 12V")))]),
        "st-01": ("storage", False, _samples(device_up=0)),
        "ups-a": ("ups", True, _samples(
            **common, ups_on_battery=1, ups_battery_charge_percent=88, ups_runtime_seconds=1500, ups_load_percent=35,
            ups_input_voltage_volts=0)),
        "pdu-a": ("pdu", True, _samples(**common, pdu_power_watts=3650, pdu_outlet_power_watts={"1": 420, "2": 380},
                                        pdu_phase_current_amperes={"L1": 16.2}, pdu_phase_power_watts={"L1": 3650},
                                        pdu_outlet_current_amperes={"1": 1.9, "2": 1.7})),
    }


@pytest.fixture
def live(db: str, session: Any, factory: Any, tokens: Any) -> Iterator[dict[str, Any]]:
    """dcops on a real uvicorn with one recorded poll per demo device; yields its URL and tokens."""
    from dcops.main import create_app
    from dcops.monitoring import metrics, state

    site = factory.site(name="DC Provinsi")
    rack = factory.rack(site=site, name="R01", power_budget_w=12000)
    cluster = factory.cluster(name="prod", ha_reserve_hosts=0)
    devices = {name: factory.device(rack=rack, name=name, role=role, position=index * 2 + 1,
                                    cluster_id=cluster.id if role == "hypervisor" else None)
               for index, (name, (role, _, _)) in enumerate(_polls().items())}
    factory.vm(factory.agency(), cluster, host_id=devices["hv-01"].id, vcpus=8, ram_gib=32, disk_gib=100)
    now = datetime.now(UTC)
    for name, (_, reachable, samples) in _polls().items():
        result = PollResult(device_id=devices[name].id, device_name=name, at=now, reachable=reachable,
                            duration_s=0.4, error=None if reachable else "timeout", samples=samples, varbinds=40)
        state.record(session, result)
    state.record_poller_status(session, devices=len(devices), cycle_duration_s=2.5, cycle_interval_s=60,
                               polls_total=50, overruns_total=1, errors_total={"timeout": 3})
    session.commit()
    metrics.clear_cache()
    with running_server(create_app()) as base:
        assert httpx.get(f"{base}/metrics").status_code != 404, "dcops must mount /metrics"
        yield {"base": base, "staff": tokens.user("auditor")[1], "viewer": tokens.user(
            "agency-viewer", agency_id=factory.agency().id)[1]}
    metrics.clear_cache()


def _scrape(live: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{live['base']}/metrics", headers=headers, timeout=30)


def test_metrics_need_a_staff_token(live: dict[str, Any]) -> None:
    assert _scrape(live, None).status_code == 401
    assert _scrape(live, "not-a-token").status_code == 401
    assert _scrape(live, live["viewer"]).status_code == 403
    assert _scrape(live, live["staff"]).status_code == 200


def test_live_scrape_exports_every_name_the_dashboards_and_rules_read(live: dict[str, Any]) -> None:
    response = _scrape(live, live["staff"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    series: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, []).append(dict(sample.labels))

    # every device metric of the catalogue is there, with device, site and role and its own labels
    for metric, (_, own) in METRICS.items():
        name = f"dcops_{metric}"
        assert series.get(name), f"{name} has no series after a recorded poll"
        for labels in series[name]:
            assert DEVICE_LABELS | set(own) <= set(labels), (name, labels)
            assert labels["site"] == "DC Provinsi"
    # every extra family is declared (labelled families may have no series yet on a fresh install)
    assert set(PROMETHEUS_EXTRA) - (declared | set(series)) == set()

    exported = set(series) | declared
    assert unknown_names(DASHBOARDS, RULE_FILES, exported | recorded()) == {}, \
        "the dashboards or rules read names the live /metrics does not export"

    # the values are the recorded ones
    def value(name: str, **match: str) -> float:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in match.items()):
                    return float(sample.value)
        raise AssertionError(f"no {name} {match}")

    assert value("dcops_device_up", device="st-01") == 0
    assert value("dcops_device_up", device="hv-01", role="hypervisor") == 1
    assert value("dcops_ups_on_battery", device="ups-a") == 1
    assert value("dcops_if_oper_up", device="sw-core-1", ifname="ge-0/0/2") == 0
    assert value("dcops_rack_power_budget_watts", rack="R01") == 12000
    assert value("dcops_rack_power_draw_watts", rack="R01") == 3650  # measured by the rack's PDU
    assert value("dcops_poller_polls_total") == 50
    assert value("dcops_poller_errors_total", reason="timeout") == 3
    assert value("dcops_cluster_allocated", cluster="prod", resource="vcpus") == 8
    assert value("dcops_cluster_capacity", cluster="prod", resource="vcpus") > 8


def _wait_for(predicate: Any, what: str, proc: subprocess.Popen[str], timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited ({proc.returncode}) while waiting for {what}")
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _grafana_to_promql(query: str) -> str:
    """Fill a dashboard query's variables as Grafana would with every value selected."""
    query = re.sub(r'(\w+)="\$(\w+)"', r'\1=~".+"', query)  # single-value variables: any value
    query = query.replace("$__rate_interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", query)


def _every_dashboard_query_answers(api: str) -> None:
    """Every panel query is valid PromQL and returns series; every variable lists values."""
    silent = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for where, query in dashboard_queries(board):
            promql = _grafana_to_promql(query)
            if where.startswith("variable"):
                match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", promql)
                assert match, (path.name, where, query)
                body = httpx.get(f"{api}/label/{match[2]}/values", params={"match[]": match[1]}, timeout=10).json()
            else:
                body = httpx.get(f"{api}/query", params={"query": promql}, timeout=10).json()
            assert body["status"] == "success", (path.name, where, promql, body)
            if not body["data"] or (isinstance(body["data"], dict) and not body["data"]["result"]):
                silent.append(f"{path.name} {where}: {promql}")
    assert silent == [], "queries with no data although every metric has series"


def test_prometheus_scrapes_dcops_with_the_example_config(live: dict[str, Any], tmp_path: Path) -> None:
    """Prometheus, configured by the example (bearer token file, rules), scrapes dcops and fires alerts."""
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail("prometheus is missing: install the Debian package 'prometheus'")
    config_dir = tmp_path / "prometheus"
    shutil.copytree(PROM_DIR, config_dir)
    (config_dir / "dcops.token").write_text(live["staff"] + "\n")
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    config.pop("alerting")  # no Alertmanager here: alerts are read from Prometheus' own API
    [job] = config["scrape_configs"]
    job["static_configs"][0]["targets"] = [live["base"].removeprefix("http://")]
    (config_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen([exe, f"--config.file={config_dir / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, text=True)

    def query(expr: str) -> list[dict[str, Any]]:
        try:
            body = httpx.get(f"{api}/query", params={"query": expr}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return []
        return body["data"]["result"] if body.get("status") == "success" else []

    try:
        [target] = _wait_for(lambda: query('up{job="dcops"} == 1'), "a successful scrape of dcops", proc)
        assert target["metric"]["instance"] == live["base"].removeprefix("http://")
        down = _wait_for(lambda: query("site:dcops_devices_down:sum"), "the recording rules", proc)
        assert [(r["metric"]["site"], float(r["value"][1])) for r in down] == [("DC Provinsi", 1.0)]
        assert {r["metric"]["device"] for r in query("dcops_device_up == 1")} == {"sw-core-1", "hv-01", "ups-a",
                                                                                  "pdu-a"}
        firing = _wait_for(lambda: query('ALERTS{alertname="DcopsUpsOnBattery", alertstate="firing"}'),
                           "DcopsUpsOnBattery to fire", proc)
        assert firing[0]["metric"]["device"] == "ups-a"
        assert firing[0]["metric"]["severity"] == "critical"
        bad = _wait_for(lambda: query('ALERTS{alertname="DcopsSnmpBadCommunityRising"}'), "the security alert", proc)
        assert bad[0]["metric"]["device"] == "sw-core-1"
        # the names Prometheus stored are the names dcops exported
        stored = set(httpx.get(f"{api}/label/__name__/values", timeout=5).json()["data"])
        assert {f"dcops_{m}" for m in METRICS} <= stored
        assert unknown_names(DASHBOARDS, RULE_FILES, stored | PROMETHEUS_BUILTINS) == {}
        _wait_for(lambda: query("rate(dcops_poller_polls_total[1m])"), "two scrapes for rate()", proc)
        _every_dashboard_query_answers(api)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
