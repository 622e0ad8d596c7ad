"""`dcops <object> list/show` read the same data as the API, with --json for scripts and no secrets."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def cli_app():
    from dcops.cli import _register_features, app

    _register_features()
    return app


def test_list_and_show_with_json(cli_app, factory, session):
    rack = factory.rack(name="A01")
    factory.device(rack=rack, name="hv-01", role="hypervisor", position=1)
    factory.device(rack=rack, name="sw-01", role="switch", position=10)
    session.commit()
    result = CliRunner().invoke(cli_app, ["device", "list", "--filter", "role=switch", "--json"])
    assert result.exit_code == 0, result.output
    assert [d["name"] for d in json.loads(result.output)] == ["sw-01"]
    result = CliRunner().invoke(cli_app, ["rack", "show", "A01", "--json"])
    assert json.loads(result.output)["id"] == rack.id
    result = CliRunner().invoke(cli_app, ["device", "list"])
    assert result.exit_code == 0 and "hv-01" in result.output


def test_show_of_an_unknown_name_fails_with_one_line(cli_app, db):
    result = CliRunner().invoke(cli_app, ["vm", "show", "nope"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_credentials_never_show_secrets(cli_app, db, session):
    from dcops.auth.actor import SYSTEM
    from dcops.dcim.service import save_credential

    save_credential(session, actor=SYSTEM, data={"name": "snmp", "kind": "snmp_v2c", "community": "TopSecret99"})
    for args in (["credential", "list", "--json"], ["credential", "show", "snmp", "--json"], ["changelog", "--json"]):
        result = CliRunner().invoke(cli_app, args)
        assert result.exit_code == 0 and "TopSecret99" not in result.output
        assert "snmp" in result.output
