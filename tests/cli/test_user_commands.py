"""``dcops user``: the commands auth adds to the root CLI (create, token, list, revoke)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner


def _run(*argv: str) -> Any:
    from dcops.cli import _register_features, app

    _register_features()
    return CliRunner().invoke(app, list(argv))


def test_create_token_list_and_revoke(db: str, factory: Any, session: Any) -> None:
    from dcops.actor import SYSTEM
    from dcops.auth.service import authenticate_token, list_tokens, users

    agency = factory.agency(code="DINKES")
    session.commit()

    created = _run("user", "create", "rina", "--role", "agency-viewer", "--agency", "dinkes", "--full-name", "Rina")
    assert created.exit_code == 0, created.output
    assert "user rina (agency-viewer) created. API token (shown once):" in created.output
    token = created.output.strip().splitlines()[-1]
    second = _run("user", "token", "rina", "--name", "backup")
    assert second.exit_code == 0, second.output
    listed = _run("user", "list", "--json")
    assert listed.exit_code == 0, listed.output

    rows = json.loads(listed.output)
    assert [(r["username"], r["role"], r["agency_id"], r["active"]) for r in rows] == [
        ("rina", "agency-viewer", agency.id, True)]
    session.expire_all()
    actor = authenticate_token(session, token)
    assert (actor.username, actor.agency_id) == ("rina", agency.id)
    user = users.get_by(session, actor=SYSTEM, username="rina")
    assert user is not None and user.id is not None
    records = list_tokens(session, user_id=user.id)
    assert [r.name for r in records] == ["cli", "backup"]
    first = records[0].id
    session.rollback()  # end this read before the command writes (and touch no expired row until it has)

    revoked = _run("user", "revoke", str(first))
    assert revoked.exit_code == 0 and f"token {first} revoked" in revoked.output
    session.expire_all()
    assert list_tokens(session, user_id=user.id)[0].revoked_at is not None


def test_unknown_agency_and_user_are_named(db: str) -> None:
    no_agency = _run("user", "create", "budi", "--role", "agency-viewer", "--agency", "NOPE")
    no_user = _run("user", "token", "nobody")

    assert no_agency.exit_code != 0 and "no agency with code 'NOPE'" in str(no_agency.exception)
    assert no_user.exit_code != 0 and "no user named 'nobody'" in str(no_user.exception)
