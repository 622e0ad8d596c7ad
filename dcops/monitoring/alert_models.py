"""Alerts, their events, silences, notification channels and delivery attempts.

An alert is one (rule, device, subject) while it is open; ``open_key`` holds that triple while the alert is
pending, firing or acknowledged and is cleared when it resolves, so a unique constraint on it deduplicates
without a partial index (NULLs never collide on SQLite or PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Column, ForeignKey, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel

from dcops.database import UTCDateTime, utcnow
from dcops.schemas import partial_model


class Severity(StrEnum):
    """How urgent an alert is, most urgent first."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertState(StrEnum):
    """Where an alert is in its lifecycle."""

    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class ChannelKind(StrEnum):
    """How a notification channel delivers."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    ALERTMANAGER = "alertmanager"


# --- Alert -------------------------------------------------------------------------------


class Alert(SQLModel, table=True):
    """One rule's finding about one subject of one device (or rack), from pending to resolved."""

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=100, index=True)
    severity: Severity = Field(sa_type=String(10), index=True)
    category: str = Field(default="health", max_length=20)
    device_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), index=True)
    )
    device_name: str = Field(default="", max_length=64)
    subject: str = Field(default="", max_length=200)
    state: AlertState = Field(sa_type=String(12), index=True)
    open_key: str | None = Field(default=None, max_length=400, unique=True)
    summary: str = Field(default="", max_length=500)
    value: float | None = None
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    hits: int = Field(default=0, description="consecutive evaluations the condition held")
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_true_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str = Field(default="", max_length=64)
    ack_comment: str = Field(default="", max_length=500)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolved_by: str = Field(default="", max_length=64)
    flaps: int = Field(default=0, description="times it fired again soon after resolving")
    notified: bool = False
    suppressed: str = Field(default="", max_length=100, description="why notifications were withheld")


class AlertPublic(SQLModel):
    id: int
    rule: str
    severity: Severity
    category: str
    device_id: int | None
    device_name: str
    subject: str
    state: AlertState
    summary: str
    value: float | None
    labels: dict[str, Any]
    started_at: datetime
    fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str
    ack_comment: str
    resolved_at: datetime | None
    resolved_by: str
    flaps: int
    notified: bool
    suppressed: str


class AlertEvent(SQLModel, table=True):
    """One step in an alert's history: fired, acknowledged, resolved, notified..."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(sa_column=Column(Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(max_length=20)
    actor: str = Field(default="", max_length=64)
    message: str = Field(default="", max_length=500)


class AlertEventPublic(SQLModel):
    at: datetime
    kind: str
    actor: str
    message: str


class AlertAck(SQLModel):
    comment: str = Field(default="", max_length=500)


# --- Silence -----------------------------------------------------------------------------


class SilenceBase(SQLModel):
    device_id: int | None = Field(default=None, description="match this device (any when empty)")
    rule: str | None = Field(default=None, max_length=100, description="match this rule (any when empty)")
    severity: Severity | None = Field(default=None, description="match this severity (any when empty)")
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime
    comment: str = Field(min_length=1, max_length=500, description="why")


class Silence(SilenceBase, table=True):
    """Withhold notifications for matching alerts during a time window; the alerts still record."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("device.id", ondelete="CASCADE"), index=True)
    )
    severity: Severity | None = Field(default=None, sa_type=String(10))
    starts_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def matches(self, *, device_id: int | None, rule: str, severity: str, at: datetime) -> bool:
        """Tell whether this silence covers an alert at time ``at``."""
        return (
            self.starts_at <= at < self.ends_at
            and (self.device_id is None or self.device_id == device_id)
            and (not self.rule or self.rule == rule)
            and (self.severity is None or self.severity == severity)
        )


class SilenceCreate(SilenceBase):
    pass


SilenceUpdate = partial_model(SilenceCreate, "SilenceUpdate")


class SilencePublic(SilenceBase):
    id: int
    starts_at: datetime
    created_by: str
    created_at: datetime


# --- Notification channels ---------------------------------------------------------------

CHANNEL_SECRETS = ("hmac_key", "smtp_password")


class ChannelBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    kind: ChannelKind
    url: str = Field(default="", max_length=500, description="webhook URL, or the Alertmanager base URL")
    smtp_host: str = Field(default="", max_length=200)
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = Field(default="", max_length=200)
    email_from: str = Field(default="", max_length=254)
    email_to: str = Field(default="", max_length=1000, description="comma-separated recipients")
    severities: str = Field(default="critical,warning", max_length=100,
                            description="comma-separated severities routed here (empty: all)")
    rules: str = Field(default="", max_length=1000, description="comma-separated rule names routed here (empty: all)")
    enabled: bool = True

    @field_validator("severities")
    @classmethod
    def _known_severities(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            if part not in Severity.__members__.values():
                raise ValueError(f"unknown severity '{part}'; use critical, warning or info")
        return value


class NotificationChannel(ChannelBase, table=True):
    """Where alert notifications go; its secrets (HMAC key, SMTP password) are encrypted at rest."""

    __tablename__ = "notification_channel"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: ChannelKind = Field(sa_type=String(14))
    secret_blob: bytes | None = Field(default=None, sa_type=LargeBinary)
    secret_fields: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    def routes(self, *, rule: str, severity: str) -> bool:
        """Tell whether an alert of ``rule`` and ``severity`` goes to this channel."""
        sevs = {s.strip() for s in self.severities.split(",") if s.strip()}
        rules = {r.strip() for r in self.rules.split(",") if r.strip()}
        return self.enabled and (not sevs or severity in sevs) and (not rules or rule in rules)


class ChannelCreate(ChannelBase):
    hmac_key: str | None = Field(default=None, min_length=16, max_length=200, description="write-only")
    smtp_password: str | None = Field(default=None, min_length=1, max_length=200, description="write-only")


ChannelUpdate = partial_model(ChannelCreate, "ChannelUpdate")


class ChannelPublic(ChannelBase):
    id: int
    secret_fields: list[str]
    created_at: datetime

    @field_validator("secret_fields", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [v for v in value.split(",") if v] if isinstance(value, str) else value


class NotificationAttempt(SQLModel, table=True):
    """One try at delivering one alert change to one channel."""

    __tablename__ = "notification_attempt"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(sa_column=Column(Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True))
    channel_id: int = Field(
        sa_column=Column(Integer, ForeignKey("notification_channel.id", ondelete="CASCADE"), index=True)
    )
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = Field(max_length=12, description="firing or resolved")
    attempt: int = 1
    ok: bool = False
    detail: str = Field(default="", max_length=500)


__all__ = [
    "Alert", "AlertEvent", "Silence", "NotificationChannel", "NotificationAttempt",
]
