"""The reads behind `dcops <object> list/show`: a reference is shown by name beside its id."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_names_by_id_reads_the_natural_name_of_each_id(factory, session) -> None:
    from dcops.dcim.service import racks
    from dcops.inventory.service import names_by_id

    a01, b02 = factory.rack(name="A01"), factory.rack(name="B02")
    factory.rack(name="C03")
    session.commit()
    assert names_by_id(session, racks, {a01.id, b02.id}) == {a01.id: "A01", b02.id: "B02"}
    assert names_by_id(session, racks, []) == {}


def test_list_shows_the_rack_name_beside_its_id(factory, session) -> None:
    from dcops.cli import _register_features, app

    _register_features()
    rack = factory.rack(name="A01")
    factory.device(rack=rack, name="sw-01", role="switch", position=10)
    factory.device(name="loose-01", role="switch")
    session.commit()
    result = CliRunner().invoke(app, ["device", "list", "--json"])
    assert result.exit_code == 0, result.output
    shown = {d["name"]: (d["rack_id"], d["rack"]) for d in json.loads(result.output)}
    assert shown["sw-01"] == (rack.id, "A01")
    assert shown["loose-01"] == (None, None)
