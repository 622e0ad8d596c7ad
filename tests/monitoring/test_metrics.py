"""Prometheus /metrics: every catalogue name, parseable exposition, labels, staff-only access."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from dcops.monitoring import metrics
from dcops.monitoring.state import PollExtras, record, record_poller_status
from dcops.monitoring.types import METRICS, PROMETHEUS_EXTRA, PollResult, Sample


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_export_the_catalogue_with_device_labels(session, factory, client, admin):
    site = factory.site(name="DC Utama")
    rack = factory.rack(site=site, name="A01", power_budget_w=5000)
    pdu = factory.device(rack=None, site=site, name="pdu-a01", role="pdu")
    pdu.rack_id = rack.id
    sw = factory.device(site=site, name="core-sw-01", role="switch")
    session.commit()
    at = datetime.now(UTC)
    record(session, PollResult(device_id=sw.id, device_name="core-sw-01", at=at, reachable=True, samples=[
        Sample("device_up", 1.0), Sample("if_in_bps", 1234.5, (("ifname", "Gi1/0/1"),)),
        Sample("temperature_celsius", 31.0, (("sensor", 'Inlet "A"'),))]), PollExtras())
    record(session, PollResult(device_id=pdu.id, device_name="pdu-a01", at=at, reachable=True,
                               samples=[Sample("pdu_power_watts", 2100.0)]), PollExtras())
    record_poller_status(session, devices=2, polls_total=10, overruns_total=1, errors_total={"timeout": 3},
                         cycle_duration_s=4.5)
    session.commit()
    metrics.clear_cache()
    r = client.get("/metrics", headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = _families(r.text)
    for name in METRICS:
        assert "dcops_" + name in families, name
    for name in PROMETHEUS_EXTRA:
        assert name.removesuffix("_total") in families, name
    rx = families["dcops_if_in_bps"].samples
    assert [(s.labels, s.value) for s in rx] == [
        ({"device": "core-sw-01", "site": "DC Utama", "role": "switch", "ifname": "Gi1/0/1"}, 1234.5)]
    temp = families["dcops_temperature_celsius"].samples[0]
    assert temp.labels["sensor"] == 'Inlet "A"'  # escaped on the way out, intact after parsing
    errors = {s.labels["reason"]: s.value for s in families["dcops_poller_errors"].samples if s.name.endswith("_total")}
    assert errors["timeout"] == 3
    assert [s.value for s in families["dcops_poller_overruns"].samples if s.name.endswith("_total")] == [1.0]
    draw = {s.labels["rack"]: s.value for s in families["dcops_rack_power_draw_watts"].samples}
    budget = {s.labels["rack"]: s.value for s in families["dcops_rack_power_budget_watts"].samples}
    assert draw["A01"] == 2100.0 and budget["A01"] == 5000.0  # the PDU's reading, not the nameplate


def test_metrics_need_a_staff_token(client, tokens, factory):
    metrics.clear_cache()
    assert client.get("/metrics").status_code == 401
    viewer = tokens.headers("agency-viewer", agency_id=factory.agency().id)
    assert client.get("/metrics", headers=viewer).status_code == 403
    for role in ("oncall", "auditor", "planner"):
        assert client.get("/metrics", headers=tokens.headers(role)).status_code == 200
