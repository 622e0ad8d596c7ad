"""``dcops user``: users and API tokens, on the server itself (acting as the system)."""

from __future__ import annotations

from typing import Annotated

import typer

from dcops.cli import JsonOpt, console, print_rows
from dcops.exceptions import DcopsError

COMMAND = "user"
app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)


@app.command("create")
def user_create(
    username: str,
    role: Annotated[str, typer.Option("--role", help="admin, operator, oncall, planner, auditor, agency-viewer")],
    agency: Annotated[str | None, typer.Option("--agency", help="agency code, for agency-viewer")] = None,
    full_name: Annotated[str, typer.Option("--full-name")] = "",
    password: Annotated[bool, typer.Option("--password", help="also set a password (prompted) for the web")] = False,
    expires_in_days: Annotated[int | None, typer.Option("--expires-in-days")] = None,
) -> None:
    """Create a user and print an API token once."""
    from dcops.auth.actor import SYSTEM
    from dcops.auth.models import UserCreate
    from dcops.auth.service import create_user, issue_token
    from dcops.database import session_scope
    from dcops.tenancy.service import agencies

    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with session_scope() as session:
        agency_id = None
        if agency:
            found = agencies.get_by(session, actor=SYSTEM, code=agency.upper())
            if found is None:
                raise DcopsError(f"no agency with code '{agency}'")
            agency_id = found.id
        data = UserCreate.model_validate({"username": username, "role": role, "agency_id": agency_id,
                                          "full_name": full_name, "password": secret}).model_dump()
        user = create_user(session, actor=SYSTEM, data=data)
        assert user.id is not None  # flushed by create_user
        token, _ = issue_token(session, actor=SYSTEM, user_id=user.id, name="cli", expires_in_days=expires_in_days)
    console.print(f"user [bold]{username}[/] ({role}) created. API token (shown once):")
    typer.echo(token)


@app.command("token")
def user_token(
    username: str,
    name: Annotated[str, typer.Option("--name")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option("--expires-in-days")] = None,
) -> None:
    """Create another API token for USERNAME and print it once."""
    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import issue_token, users
    from dcops.database import session_scope

    with session_scope() as session:
        user = users.get_by(session, actor=SYSTEM, username=username)
        if user is None:
            raise DcopsError(f"no user named '{username}'")
        assert user.id is not None  # a stored row
        token, _ = issue_token(session, actor=SYSTEM, user_id=user.id, name=name, expires_in_days=expires_in_days)
    typer.echo(token)


@app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """List users."""
    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import users
    from dcops.crud import ListQuery
    from dcops.database import session_scope

    with session_scope() as session:
        rows, _ = users.get_all(session, actor=SYSTEM, query=ListQuery(limit=1000, ordering="username"))
        data = [{"id": u.id, "username": u.username, "role": u.role, "agency_id": u.agency_id,
                 "active": u.is_active} for u in rows]
    print_rows(data, ["id", "username", "role", "agency_id", "active"], title="Users", as_json=as_json)


@app.command("revoke")
def user_revoke(token_id: int) -> None:
    """Revoke API token TOKEN_ID."""
    from dcops.auth.actor import SYSTEM
    from dcops.auth.service import revoke_token
    from dcops.database import session_scope

    with session_scope() as session:
        revoke_token(session, actor=SYSTEM, token_id=token_id)
    console.print(f"token {token_id} revoked")
