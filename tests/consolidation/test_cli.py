"""`dcops consolidation ...` on the demo: board, apps, start, showback and the XLSX export."""

from __future__ import annotations

import json

from openpyxl import load_workbook
from typer.testing import CliRunner


def test_board_start_showback_and_export(session, tmp_path):
    from dcops.cli import _register_features, app
    from dcops.consolidation.demo import application
    from dcops.demo.build import build_demo

    _register_features()
    build_demo(session, users=False)
    session.commit()
    run = CliRunner()
    board = json.loads(run.invoke(app, ["consolidation", "board", "--json"]).stdout)
    assert board["totals"]["applications"] == sum(a["applications"] for a in board["agencies"])
    assert len({w["fiscal_year"] for w in board["waves"]}) == 3  # waves over three fiscal years
    assert set(board["states"]) == {"done", "in_progress", "not_started", "unrecorded"} and board["states"]["done"]
    app_id = application(session, "DINKES", "e-Puskesmas").id
    session.rollback()
    result = run.invoke(app, ["consolidation", "start", str(app_id)])
    assert result.exit_code == 0, result.stdout
    listed = json.loads(run.invoke(app, ["consolidation", "apps", "--agency", "dinkes", "--json"]).stdout)
    started = next(a for a in listed if a["id"] == app_id)
    assert started["status"] == "migrating" and started["capacity_request_id"]
    costs = json.loads(run.invoke(app, ["consolidation", "showback", "--json"]).stdout)
    out = tmp_path / "biaya.xlsx"
    assert run.invoke(app, ["consolidation", "export", "showback", "-o", str(out)]).exit_code == 0
    rows = list(load_workbook(out).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert rows[-1][5] == costs["total_idr"]
    assert run.invoke(app, ["consolidation", "export", "nothing", "-o", str(out)]).exit_code != 0
