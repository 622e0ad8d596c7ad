"""Users, API tokens, console sessions and operator scopes (the change log is :mod:`dcops.changelog`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from dcops.actor import Role
from dcops.changelog import ChangeAction
from dcops.changelog import ChangeLogEntry as ChangeLogEntry  # moved to the platform; importers keep this name
from dcops.database import UTCDateTime, utcnow


class User(SQLModel, table=True):
    """A person (or a script) that uses dcops, with one role."""

    __tablename__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    role: Role = Field(sa_type=String(20))
    agency_id: int | None = Field(default=None, foreign_key="agency.id", ondelete="RESTRICT", index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    name: str = Field(default="default", max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsoleSession(SQLModel, table=True):
    """A console login held on the server: the cookie carries only its random id, this row its digest.

    Logging out deletes the row, and so does a password change, so a copied cookie stops working.
    """

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    digest: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Recent failed logins of one key (``user:<name>`` or ``addr:<ip>``) and until when it is locked."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OperatorScope(SQLModel, table=True):
    """An agency an operator serves. An operator without any row serves every agency."""

    __tablename__ = "operator_scope"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE", index=True)
    agency_id: int = Field(foreign_key="agency.id", ondelete="CASCADE", index=True)


# --- API schemas ---------------------------------------------------------------------


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64, schema_extra={"pattern": r"^[A-Za-z0-9_.@-]+$"})
    full_name: str = Field(default="", max_length=200)
    email: EmailStr | None = None
    role: Role
    agency_id: int | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserUpdate(BaseModel):
    full_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    role: Role | None = None
    agency_id: int | None = None
    password: str | None = Field(default=None, min_length=10, max_length=200)
    is_active: bool | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    full_name: str
    email: str | None
    role: Role
    agency_id: int | None
    is_active: bool
    created_at: datetime


class TokenCreate(BaseModel):
    name: str = Field(default="default", max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenPublic(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenPublic):
    token: str


class ChangeLogPublic(BaseModel):
    id: int
    time: datetime
    user_id: int | None
    username: str
    action: ChangeAction
    object_type: str
    object_id: int
    object_repr: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=200)


class OperatorScopes(BaseModel):
    """The agencies an operator serves (empty: every agency)."""

    user_id: int
    agency_ids: list[int]


class OperatorScopesUpdate(BaseModel):
    agency_ids: list[int] = Field(max_length=10000)
