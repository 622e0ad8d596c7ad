"""SNMP messages and PDUs on top of the BER codec: v1/v2c community messages and the v3 framing.

The v3 helpers only frame and unframe; authentication and privacy are in ``usm``.
"""

from __future__ import annotations

from typing import NamedTuple

from dcops.monitoring.snmp.ber import (
    INTEGER,
    IPADDRESS,
    OCTETS,
    OID,
    SEQUENCE,
    TIMETICKS,
    Varbind,
    decode_oid_body,
    decode_varbinds,
    encode_int,
    encode_oid,
    expect,
    header,
    read_header,
    read_int,
    read_octets,
    tlv,
)
from dcops.monitoring.snmp.errors import DecodeError

GET, GETNEXT, RESPONSE, SET, TRAPV1, GETBULK, INFORM, TRAPV2, REPORT = range(0xA0, 0xA9)
PDU_TAGS = frozenset(range(0xA0, 0xA9))
PDU_NAMES = {GET: "get", GETNEXT: "getnext", RESPONSE: "response", SET: "set", TRAPV1: "trap-v1",
             GETBULK: "getbulk", INFORM: "inform", TRAPV2: "trap-v2", REPORT: "report"}
VERSIONS = {"1": 0, "2c": 1, "3": 3}

# v3 msgFlags
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
USM_MODEL = 3


class Pdu(NamedTuple):
    """A PDU. For GETBULK, error_status and error_index carry non-repeaters and max-repetitions."""

    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[Varbind]


class TrapV1Pdu(NamedTuple):
    """An SNMPv1 Trap-PDU (RFC 1157)."""

    enterprise: str
    agent_address: str
    generic_trap: int
    specific_trap: int
    timestamp: int
    varbinds: list[Varbind]
    tag: int = TRAPV1


class CommunityMessage(NamedTuple):
    """A v1 (version 0) or v2c (version 1) message."""

    version: int
    community: bytes
    pdu: Pdu | TrapV1Pdu


class UsmParams(NamedTuple):
    """UsmSecurityParameters (RFC 3414)."""

    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    priv_params: bytes


class V3Message(NamedTuple):
    """A v3 message, unframed but not yet authenticated or decrypted.

    ``auth_offset`` is where the authentication parameters sit in the datagram (to zero them for the
    HMAC check); ``scoped`` is the plaintext scopedPDU TLV, or the ciphertext when ``flags & FLAG_PRIV``.
    """

    msg_id: int
    max_size: int
    flags: int
    security_model: int
    usm: UsmParams
    auth_offset: int
    scoped: bytes
    raw: bytes  # the whole datagram, for the HMAC check


class ScopedPdu(NamedTuple):
    """A v3 scopedPDU."""

    context_engine_id: bytes
    context_name: bytes
    pdu: Pdu | TrapV1Pdu


# ----------------------------------------------------------------------------------------------- PDUs


def encode_pdu(tag: int, request_id: int, a: int, b: int, varbinds: bytes) -> bytes:
    """Encode a PDU from an already encoded varbind list (a, b: error-status/index or non-repeaters/max-reps)."""
    return tlv(tag, encode_int(request_id) + encode_int(a) + encode_int(b) + varbinds)


def encode_trapv1_pdu(enterprise: str, agent_address: str, generic: int, specific: int, timestamp: int,
                      varbinds: bytes) -> bytes:
    """Encode an SNMPv1 Trap-PDU."""
    body = (encode_oid(enterprise) + tlv(IPADDRESS, bytes(int(p) for p in agent_address.split(".")))
            + encode_int(generic) + encode_int(specific) + encode_int(timestamp, TIMETICKS) + varbinds)
    return tlv(TRAPV1, body)


def decode_pdu(data: bytes, pos: int, end: int) -> Pdu | TrapV1Pdu:
    """Decode the PDU at pos, which must end exactly at end."""
    tag, start, stop = read_header(data, pos, end)
    if tag not in PDU_TAGS:
        raise DecodeError(f"not a PDU tag: 0x{tag:02x}")
    if stop != end:
        raise DecodeError("trailing bytes after the PDU")
    if tag == TRAPV1:
        s, e = expect(data, start, stop, OID)
        enterprise = decode_oid_body(data[s:e])
        s, e = expect(data, e, stop, IPADDRESS)
        if e - s != 4:
            raise DecodeError("agent-addr is not 4 octets")
        address = ".".join(map(str, data[s:e]))
        generic, p = read_int(data, e, stop)
        specific, p = read_int(data, p, stop)
        timestamp, p = read_int(data, p, stop, TIMETICKS)
        return TrapV1Pdu(enterprise, address, generic, specific, timestamp, decode_varbinds(data, p, stop))
    request_id, p = read_int(data, start, stop)
    a, p = read_int(data, p, stop)
    b, p = read_int(data, p, stop)
    return Pdu(tag, request_id, a, b, decode_varbinds(data, p, stop))


# ----------------------------------------------------------------------------------------------- v1/v2c


def encode_community_message(version: int, community: bytes, pdu: bytes) -> bytes:
    """Encode a v1 (0) or v2c (1) message around an encoded PDU."""
    return tlv(SEQUENCE, bytes((INTEGER, 1, version)) + tlv(OCTETS, community) + pdu)


def message_version(data: bytes) -> int:
    """Return the version field of a message (0, 1 or 3) after checking the outer SEQUENCE."""
    start, stop = expect(data, 0, len(data), SEQUENCE)
    if stop != len(data):
        raise DecodeError("trailing bytes after the message")
    version, _ = read_int(data, start, stop)
    return version


def decode_message(data: bytes) -> CommunityMessage | V3Message:
    """Decode a whole datagram: a community message fully, a v3 message down to its (maybe encrypted) scope."""
    try:
        start, stop = expect(data, 0, len(data), SEQUENCE)
        if stop != len(data):
            raise DecodeError("trailing bytes after the message")
        version, p = read_int(data, start, stop)
        if version in (0, 1):
            community, p = read_octets(data, p, stop)
            return CommunityMessage(version, community, decode_pdu(data, p, stop))
        if version == 3:
            return _decode_v3(data, p, stop)
        raise DecodeError(f"unsupported SNMP version {version}")
    except IndexError:  # pragma: no cover - the decoders check bounds; this is the last net
        raise DecodeError("truncated message") from None


# ----------------------------------------------------------------------------------------------- v3


def _decode_v3(data: bytes, p: int, stop: int) -> V3Message:
    hs, he = expect(data, p, stop, SEQUENCE)
    msg_id, q = read_int(data, hs, he)
    max_size, q = read_int(data, q, he)
    flags_raw, q = read_octets(data, q, he)
    model, q = read_int(data, q, he)
    if len(flags_raw) != 1 or q != he:
        raise DecodeError("bad v3 header")
    ss, se = expect(data, he, stop, OCTETS)
    us, ue = expect(data, ss, se, SEQUENCE)
    if ue != se:
        raise DecodeError("trailing bytes after the security parameters")
    engine_id, q = read_octets(data, us, ue)
    boots, q = read_int(data, q, ue)
    etime, q = read_int(data, q, ue)
    user, q = read_octets(data, q, ue)
    auth_start, auth_end = expect(data, q, ue, OCTETS)
    priv, q = read_octets(data, auth_end, ue)
    if q != ue:
        raise DecodeError("trailing bytes in the security parameters")
    usm = UsmParams(engine_id, boots, etime, user, data[auth_start:auth_end], priv)
    tag, cs, ce = read_header(data, se, stop)
    if ce != stop:
        raise DecodeError("trailing bytes after the scoped PDU")
    if flags_raw[0] & FLAG_PRIV:
        if tag != OCTETS:
            raise DecodeError("encrypted scoped PDU is not an OCTET STRING")
        scoped = data[cs:ce]
    else:
        if tag != SEQUENCE:
            raise DecodeError("scoped PDU is not a SEQUENCE")
        scoped = data[se:stop]
    return V3Message(msg_id, max_size, flags_raw[0], model, usm, auth_start, scoped, data)


def decode_scoped_pdu(data: bytes) -> ScopedPdu:
    """Decode a plaintext scopedPDU (decrypted data may carry padding after it, which is ignored)."""
    try:
        start, stop = expect(data, 0, len(data), SEQUENCE)
        engine_id, p = read_octets(data, start, stop)
        name, p = read_octets(data, p, stop)
        return ScopedPdu(engine_id, name, decode_pdu(data, p, stop))
    except IndexError:  # pragma: no cover
        raise DecodeError("truncated scoped PDU") from None


def encode_scoped_pdu(context_engine_id: bytes, context_name: bytes, pdu: bytes) -> bytes:
    """Encode a plaintext scopedPDU."""
    return tlv(SEQUENCE, tlv(OCTETS, context_engine_id) + tlv(OCTETS, context_name) + pdu)


def encode_v3_message(msg_id: int, max_size: int, flags: int, engine_id: bytes, boots: int, etime: int,
                      user: bytes, auth_len: int, priv_params: bytes, scoped: bytes) -> tuple[bytearray, int]:
    """Frame a v3 message with zeroed authentication parameters of auth_len octets.

    ``scoped`` is the plaintext scopedPDU TLV, or the ciphertext (wrapped here in an OCTET STRING) when
    flags has FLAG_PRIV. Returns the message and the offset of the auth parameters, to fill in the HMAC.
    """
    head = tlv(SEQUENCE, encode_int(msg_id) + encode_int(max_size) + bytes((OCTETS, 1, flags)) + b"\x02\x01\x03")
    before_auth = tlv(OCTETS, engine_id) + encode_int(boots) + encode_int(etime) + tlv(OCTETS, user) \
        + header(OCTETS, auth_len)
    after_auth = tlv(OCTETS, priv_params)
    usm_body_len = len(before_auth) + auth_len + len(after_auth)
    usm_seq_head = header(SEQUENCE, usm_body_len)
    usm_oct_head = header(OCTETS, len(usm_seq_head) + usm_body_len)
    body_scoped = tlv(OCTETS, scoped) if flags & FLAG_PRIV else scoped
    body_len = 3 + len(head) + len(usm_oct_head) + len(usm_seq_head) + usm_body_len + len(body_scoped)
    outer = header(SEQUENCE, body_len)
    msg = bytearray(outer)
    msg += b"\x02\x01\x03"
    msg += head
    msg += usm_oct_head
    msg += usm_seq_head
    msg += before_auth
    offset = len(msg)
    msg += bytes(auth_len)
    msg += after_auth
    msg += body_scoped
    return msg, offset
