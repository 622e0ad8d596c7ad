"""The metric-name extractor tells metric names from functions, keywords, labels, durations and variables."""

from __future__ import annotations

import pytest

from tests.dashboards.names import metric_names, selector_labels, variable_query_names


@pytest.mark.parametrize(("expr", "names"), [
    ("dcops_device_up", {"dcops_device_up"}),
    ('sum by (site) (1 - dcops_device_up{site=~"$site"})', {"dcops_device_up"}),
    ("sum(rate(dcops_poller_errors_total[$__rate_interval])) by (reason)", {"dcops_poller_errors_total"}),
    ("increase(dcops_poller_overruns_total[10m] offset 1h) > 0", {"dcops_poller_overruns_total"}),
    ("dcops_if_oper_up < 1 and on (device, ifname) dcops_if_admin_up == 1", {"dcops_if_oper_up", "dcops_if_admin_up"}),
    ("a / ignoring (rule, severity) group_left (site) b", {"a", "b"}),
    ("-dcops_if_out_bps{device=\"$device\"}", {"dcops_if_out_bps"}),
    ("topk(10, site:dcops_if_in_bps:sum) * 1e3 + 0x1F", {"site:dcops_if_in_bps:sum"}),
    ('label_replace(up, "dst", "$1", "src", "(.*)") unless bool x', {"up", "x"}),
    ('{__name__="dcops_device_up", site="a"}', {"dcops_device_up"}),
    ("absent(dcops_poller_devices)", {"dcops_poller_devices"}),
    ('ALERTS{alertname="DcopsCpuHigh", alertstate="firing"}', {"ALERTS"}),
    ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))", {"x_bucket"}),
    ("${metric_var} + [[old_style]]", set()),
])
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize(("query", "names"), [
    ('label_values(dcops_device_up{site=~"$site"}, device)', {"dcops_device_up"}),
    ("label_values(dcops_cluster_capacity, resource)", {"dcops_cluster_capacity"}),
    ("label_values(site)", set()),
    ("query_result(topk(5, dcops_cpu_load_percent))", {"dcops_cpu_load_percent"}),
])
def test_variable_query_names(query: str, names: set[str]) -> None:
    assert variable_query_names(query) == names


def test_selector_labels() -> None:
    expr = 'sum(dcops_if_in_bps{site=~"$site", device!="a,b"}) / on (site) x{rack="r{1}"}'
    assert selector_labels(expr) == [("dcops_if_in_bps", {"site", "device"}), ("x", {"rack"})]
