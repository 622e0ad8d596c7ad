"""SNMP and SSH credentials: which secrets each kind needs, checked and encrypted before they are stored."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dcops.actor import Actor
from dcops.crud import Resource
from dcops.dcim.choices import CredentialKind
from dcops.dcim.models import CREDENTIAL_SECRETS, Credential
from dcops.dcim.rules import plain
from dcops.exceptions import ValidationError
from dcops.security import decrypt_secrets, encrypt_secrets


def _require_secrets(kind: CredentialKind, username: str, auth: str, priv: str, stored: set[str]) -> None:
    if kind in (CredentialKind.SNMP_V1, CredentialKind.SNMP_V2C) and "community" not in stored:
        raise ValidationError(f"a {kind.value} credential needs a community", field="community")
    if kind == CredentialKind.SNMP_V3:
        if not username:
            raise ValidationError("an SNMPv3 credential needs a username", field="username")
        if auth != "none" and "auth_key" not in stored:
            raise ValidationError(f"auth_protocol {auth} needs an auth_key", field="auth_key")
        if priv != "none" and auth == "none":
            raise ValidationError("privacy (priv_protocol) needs authentication too", field="priv_protocol")
        if priv != "none" and "priv_key" not in stored:
            raise ValidationError(f"priv_protocol {priv} needs a priv_key", field="priv_key")
    if kind == CredentialKind.SSH_KEY:
        if "private_key" not in stored:
            raise ValidationError("an SSH credential needs a private_key", field="private_key")
        if not username:
            raise ValidationError("an SSH credential needs a username (the login)", field="username")


def _validate_private_key(text: str, passphrase: str | None) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_ssh_private_key

    raw = text.strip().encode() + b"\n"
    pw = passphrase.encode() if passphrase else None
    for loader in (load_ssh_private_key, load_pem_private_key):
        try:
            loader(raw, password=pw)
            return
        except Exception:  # noqa: S112 - try the next format
            continue
    raise ValidationError(
        "private_key is not an OpenSSH or PEM private key (or the passphrase is wrong)", field="private_key"
    )


credentials = Resource(
    Credential,
    label="credential",
    plural="credentials",
    search=("name", "username", "description"),
    filters=("kind",),
    orderings=("id", "name", "kind"),
    secret_fields=("secret_blob",),
)


def save_credential(
    session: Session, *, actor: Actor, data: dict[str, Any], id: int | None = None
) -> Credential:
    """Create (``id`` None) or update a credential, encrypting its secret fields."""
    secrets = {k: data.pop(k) for k in CREDENTIAL_SECRETS if k in data}
    secrets = {k: v for k, v in secrets.items() if v is not None}
    if id is not None:
        existing = credentials.get(session, actor=actor, id=id)
        merged = decrypt_secrets(existing.secret_blob)
        merged.update(secrets)
        kind = CredentialKind(data.get("kind", existing.kind))
        username = data.get("username", existing.username)
        auth = data.get("auth_protocol", existing.auth_protocol)
        priv = data.get("priv_protocol", existing.priv_protocol)
    else:
        merged = secrets
        kind = CredentialKind(data["kind"])
        username = data.get("username", "")
        auth, priv = data.get("auth_protocol", "none"), data.get("priv_protocol", "none")
    _require_secrets(kind, username, plain(auth), plain(priv), set(merged))
    if "private_key" in secrets:
        _validate_private_key(secrets["private_key"], merged.get("passphrase"))
    if id is None or secrets:
        data["secret_blob"] = encrypt_secrets(merged)
        data["secret_fields"] = ",".join(sorted(merged))
    if id is None:
        obj, _ = credentials.create(session, actor=actor, data=data)
    else:
        obj, _ = credentials.update(session, actor=actor, id=id, data=data)
    return obj
