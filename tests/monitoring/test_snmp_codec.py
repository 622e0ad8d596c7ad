"""The BER codec and USM primitives: RFC vectors, round trips, pysnmp cross-checks and fuzzing."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.type.univ import OctetString
from pysnmp.proto import api as pysnmp_api
from pysnmp.proto.secmod.rfc3414.localkey import hash_passphrase, localize_key

from dcops.monitoring.snmp import DecodeError, Varbind
from dcops.monitoring.snmp.ber import decode_oid_body, decode_varbinds, encode_oid_body, encode_varbinds
from dcops.monitoring.snmp.pdu import (
    GETBULK,
    RESPONSE,
    TRAPV1,
    CommunityMessage,
    Pdu,
    TrapV1Pdu,
    V3Message,
    decode_message,
    decode_scoped_pdu,
    encode_community_message,
    encode_pdu,
    encode_scoped_pdu,
    encode_trapv1_pdu,
    encode_v3_message,
)
from dcops.monitoring.snmp.usm import (
    AUTH_PROTOCOLS,
    decrypt,
    encrypt,
    extend_key,
    localized_keys,
    password_to_key,
    sign,
    verify,
)
from dcops.monitoring.snmp.usm import localize_key as our_localize_key

# --------------------------------------------------------------------------------------------- strategies

arcs = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=20)
oids = st.builds(lambda first, second, rest: ".".join(map(str, [first, second, *rest])),
                 st.integers(0, 2), st.integers(0, 39), arcs)
values = st.one_of(
    st.tuples(st.just("integer"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("octets"), st.binary(max_size=300)),
    st.tuples(st.just("null"), st.none()),
    st.tuples(st.just("oid"), oids),
    st.tuples(st.just("ipaddress"), st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))),
    st.tuples(st.just("counter32"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("gauge32"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("timeticks"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("opaque"), st.binary(max_size=20)),
    st.tuples(st.just("counter64"), st.integers(0, 2**64 - 1)),
    st.tuples(st.sampled_from(["nosuchobject", "nosuchinstance", "endofmibview"]), st.none()),
)
varbind_lists = st.lists(st.builds(lambda o, tv: Varbind(o, tv[0], tv[1]), oids, values), max_size=30)


def _response(varbinds: list[Varbind], request_id: int = 1234, version: int = 1, community: bytes = b"public"):
    return encode_community_message(version, community, encode_pdu(RESPONSE, request_id, 0, 0,
                                                                   encode_varbinds(varbinds)))


# --------------------------------------------------------------------------------------------- round trips


@given(oids)
def test_oid_round_trip(oid):
    assert decode_oid_body(encode_oid_body(oid)) == oid


@given(varbind_lists, st.integers(0, 2**31 - 1), st.sampled_from([0, 1]), st.binary(max_size=40))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_community_message_round_trip(varbinds, request_id, version, community):
    msg = decode_message(_response(varbinds, request_id, version, community))
    assert msg == CommunityMessage(version, community, Pdu(RESPONSE, request_id, 0, 0, varbinds))


@given(varbind_lists)
@settings(max_examples=50)
def test_our_encoding_is_what_pysnmp_decodes(varbinds):
    data = _response(varbinds)
    msg, rest = pyasn1_decoder.decode(data, asn1Spec=pysnmp_api.PROTOCOL_MODULES[pysnmp_api.SNMP_VERSION_2C].Message())
    assert rest == b""
    pdu = pysnmp_api.PROTOCOL_MODULES[pysnmp_api.SNMP_VERSION_2C].apiMessage.get_pdu(msg)
    got = pysnmp_api.PROTOCOL_MODULES[pysnmp_api.SNMP_VERSION_2C].apiPDU.get_varbinds(pdu)
    assert [str(oid) for oid, _ in got] == [vb.oid for vb in varbinds]


def test_counter64_above_2_63_round_trips():
    big = [Varbind("1.3.6.1.2.1.31.1.1.1.6.1", "counter64", v) for v in (2**63, 2**63 + 12345, 2**64 - 1)]
    msg = decode_message(_response(big))
    assert [vb.value for vb in msg.pdu.varbinds] == [2**63, 2**63 + 12345, 2**64 - 1]


def test_trap_v1_round_trip():
    vbs = [Varbind("1.3.6.1.2.1.2.2.1.1.3", "integer", 3)]
    pdu = encode_trapv1_pdu("1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", 2, 0, 4200, encode_varbinds(vbs))
    msg = decode_message(encode_community_message(0, b"public", pdu))
    assert msg.pdu == TrapV1Pdu("1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", 2, 0, 4200, vbs, TRAPV1)


def test_getbulk_request_fields():
    data = encode_community_message(1, b"c", encode_pdu(GETBULK, 7, 2, 40, encode_varbinds([])))
    assert decode_message(data).pdu == Pdu(GETBULK, 7, 2, 40, [])


def test_v3_framing_round_trip_with_auth_and_privacy():
    keys = localized_keys("sha256", "auth-secret", "aes256", "priv-secret", b"\x80\x00\x1f\x88\x04test")
    scoped = encode_scoped_pdu(b"\x80\x00\x1f\x88\x04test", b"ctx",
                               encode_pdu(RESPONSE, 99, 0, 0, encode_varbinds([Varbind("1.3.6.1.2.1.1.5.0",
                                                                                       "octets", b"x")])))
    ciphertext, priv = encrypt(keys, scoped, 3, 1000, 42)
    msg, offset = encode_v3_message(99, 65507, 7, b"\x80\x00\x1f\x88\x04test", 3, 1000, b"user",
                                    keys.mac_length, priv, ciphertext)
    sign(keys, msg, offset)
    decoded = decode_message(bytes(msg))
    assert isinstance(decoded, V3Message) and decoded.msg_id == 99 and decoded.usm.user == b"user"
    assert verify(keys, decoded.raw, decoded.auth_offset, decoded.usm.auth_params)
    tampered = bytearray(msg)
    tampered[-1] ^= 1
    bad = decode_message(bytes(tampered))
    assert not verify(keys, bad.raw, bad.auth_offset, bad.usm.auth_params)
    plain = decrypt(keys, decoded.scoped, 3, 1000, decoded.usm.priv_params)
    assert decode_scoped_pdu(plain).pdu.varbinds == [Varbind("1.3.6.1.2.1.1.5.0", "octets", b"x")]


def test_des_pads_and_decrypts():
    keys = localized_keys("md5", "auth-secret", "des", "priv-secret", b"\x80\x00\x00\x00\x01")
    scoped = encode_scoped_pdu(b"", b"", encode_pdu(RESPONSE, 1, 0, 0, encode_varbinds([])))
    ciphertext, priv = encrypt(keys, scoped, 1, 2, 3)
    assert len(ciphertext) % 8 == 0
    assert decode_scoped_pdu(decrypt(keys, ciphertext, 1, 2, priv)).pdu.request_id == 1


# --------------------------------------------------------------------------------------------- USM keys


def test_rfc3414_key_localisation_vectors():
    engine = bytes.fromhex("000000000000000000000002")
    md5 = our_localize_key(password_to_key(b"maplesyrup", "md5"), engine, "md5")
    sha = our_localize_key(password_to_key(b"maplesyrup", "sha1"), engine, "sha1")
    assert md5.hex() == "526f5eed9fcce26f8964c2930787d82b"
    assert sha.hex() == "6695febc9288e36282235fc7151f128497b38f3f"


@pytest.mark.parametrize("protocol", sorted(AUTH_PROTOCOLS))
def test_keys_match_pysnmp(protocol):
    hash_name = AUTH_PROTOCOLS[protocol][0]
    engine = bytes.fromhex("80001f8804646370732d74657374")
    ours = our_localize_key(password_to_key(b"dcops-auth-secret", hash_name), engine, hash_name)
    theirs = localize_key(hash_passphrase(b"dcops-auth-secret", getattr(hashlib, hash_name)),
                          OctetString(engine), getattr(hashlib, hash_name))
    assert ours == bytes(theirs)


def test_blumenthal_extension_prefix_is_the_localised_key():
    kul = hashlib.sha1(b"x").digest()
    extended = extend_key(kul, 32, "sha1")
    assert extended[:20] == kul and extended[20:] == hashlib.sha1(kul).digest()[:12]


# --------------------------------------------------------------------------------------------- fuzzing

_SAMPLE = _response([Varbind("1.3.6.1.2.1.1.1.0", "octets", b"Linux box"),
                     Varbind("1.3.6.1.2.1.2.2.1.10.1", "counter32", 123456),
                     Varbind("1.3.6.1.2.1.31.1.1.1.6.1", "counter64", 2**64 - 1),
                     Varbind("1.3.6.1.2.1.1.2.0", "oid", "1.3.6.1.4.1.8072.3.2.10"),
                     Varbind("1.3.6.1.2.1.4.20.1.1.127.0.0.1", "ipaddress", "127.0.0.1"),
                     Varbind("1.3.6.1.2.1.1.9.0", "endofmibview", None)])
_V3_SAMPLE = bytes(encode_v3_message(5, 65507, 4, b"\x80\x00\x01", 1, 2, b"u", 12, b"saltsalt",
                                     encode_scoped_pdu(b"", b"", encode_pdu(RESPONSE, 5, 0, 0,
                                                                            encode_varbinds([]))))[0])


def _decode_all(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        msg = decode_message(data)
        if isinstance(msg, V3Message) and msg.scoped[:1] == b"\x30":
            decode_scoped_pdu(msg.scoped)


@given(st.binary(max_size=600))
@settings(max_examples=2000)
def test_decoder_survives_random_bytes(data):
    _decode_all(data)
    with contextlib.suppress(DecodeError):
        decode_varbinds(data, 0, len(data))


@given(st.sampled_from([_SAMPLE, _V3_SAMPLE]), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                         min_size=1, max_size=6), st.integers(0, 400))
@settings(max_examples=3000)
def test_decoder_survives_mutated_messages(base, flips, cut):
    data = bytearray(base)
    for pos, byte in flips:
        data[pos % len(data)] = byte
    _decode_all(bytes(data))
    _decode_all(bytes(data[: cut % (len(data) + 1)]))


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x30\x84\xff\xff\xff\xff", b"\x30\x80\x02\x01\x01\x00\x00",
    b"\x30\x06\x02\x01\x01\x04\x01", _SAMPLE[:-1], _SAMPLE + b"\x00",
    # a varbind whose OID arc never ends, and one with an arc of 70 bits
    _response([]).replace(b"\x30\x00", b"\x30\x05\x30\x03\x06\x01\x81"),
    b"\x30\x1b\x02\x01\x01\x04\x00\xa2\x14\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x09\x30\x07\x06\x0b"
    + b"\xff" * 10 + b"\x01\x05\x00",
])
def test_decoder_rejects_known_bad_inputs(data):
    with pytest.raises(DecodeError):
        decode_message(data)
