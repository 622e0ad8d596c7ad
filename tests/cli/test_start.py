"""A fast, clean start: the command index is fresh, --help lists every command without <bool> noise,
piped tables are not cut to 80 columns, and an unknown filter names the valid ones (CLI and API)."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner


def _dcops(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dcops", *argv], capture_output=True, text=True,
                          env=(env or os.environ) | {"COLUMNS": "", "TERM": "dumb"})


def test_the_command_index_matches_the_features():
    from dcops.cli_index import build_index, load_index

    assert load_index() == build_index(), "stale dcops/cli_index.json: run 'python -m dcops.cli_index'"


def test_help_from_the_index_lists_what_importing_every_feature_lists():
    from dcops.cli_index import build_index

    lazy = _dcops("--help")
    assert lazy.returncode == 0, lazy.stderr
    eager = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['dcops', '--help']\n"
                            "import dcops.cli as c; c._register_features(); c.app(prog_name='python -m dcops')"],
                           capture_output=True, text=True, env=os.environ | {"COLUMNS": "", "TERM": "dumb"})
    assert lazy.stdout == eager.stdout
    for command in build_index()["commands"]:
        assert f" {command['name']} " in lazy.stdout
    assert "<bool>" not in lazy.stdout
    sub = _dcops("alerts", "silence", "--help")
    assert sub.returncode == 0 and "<bool>" not in sub.stdout and "-c" in sub.stdout


def test_piped_tables_keep_every_column_and_an_unknown_filter_lists_the_valid_ones(db, factory, session):
    from dcops.cli import _register_features, app

    rack = factory.rack(name="RAK-DENGAN-NAMA-YANG-PANJANG-SEKALI")
    factory.device(rack=rack, name="perangkat-dengan-nama-yang-sangat-panjang-01", role="switch", position=1)
    session.commit()
    listed = _dcops("device", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "perangkat-dengan" in line)
    assert "perangkat-dengan-nama-yang-sangat-panjang-01" in row and "RAK-DENGAN-NAMA-YANG-PANJANG-SEKALI" in row
    assert len(row) > 120  # one line, not cut to 80 columns
    _register_features()
    by_name = CliRunner().invoke(app, ["device", "list", "--filter", f"rack={rack.name}", "--json"])
    assert by_name.exit_code == 0, by_name.output
    bad = CliRunner().invoke(app, ["device", "list", "--filter", "rol=switch"])
    assert bad.exit_code != 0 and "role" in str(bad.exception) and "rack" in str(bad.exception)


def test_the_api_refuses_an_unknown_filter_naming_the_valid_ones(client, admin):
    r = client.get("/api/v1/dcim/devices", headers=admin, params={"rol": "switch"})
    assert r.status_code == 422
    assert "rol" in r.json()["detail"] and "role" in r.json()["detail"]
    assert client.get("/api/v1/dcim/devices", headers=admin, params={"role": "switch", "limit": 5}).status_code == 200
