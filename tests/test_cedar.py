"""Unit tests of the sans-IO CEDAR codec, fed with bytes the real client and daemons sent."""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import classad2
import pytest

from condor_sim.cedar import ProtocolError
from condor_sim.cedar.classad_wire import get_ad, is_private, parse_line, put_ad
from condor_sim.cedar.framing import MAX_PACKET, SEND_CHUNK, Framer
from condor_sim.cedar.stream import MessageReader, MessageWriter

WIRE = Path(__file__).resolve().parent.parent / "fixtures" / "wire"


def payload(name: str) -> bytes:
    return bytes.fromhex((WIRE / name).read_text().strip())


def packet(end: int, body: bytes) -> bytes:
    return struct.pack(">BI", end, len(body)) + body


# ----------------------------------------------------------------------------- framing
def test_single_and_multi_packet_messages():
    f = Framer()
    f.feed(packet(1, b"abc") + packet(0, b"de") + packet(0, b"f") + packet(1, b"g"))
    assert f.next_message() == b"abc"
    assert f.next_message() == b"defg"
    assert f.next_message() is None


def test_partial_feed_yields_nothing_until_complete():
    f = Framer()
    data = packet(0, b"x" * 10) + packet(1, b"y")
    for i in range(len(data) - 1):
        f.feed(data[i:i + 1])
        assert f.next_message() is None
    f.feed(data[-1:])
    assert f.next_message() == b"x" * 10 + b"y"


def test_sender_splits_like_cedar_and_never_sends_empty_messages():
    f = Framer()
    assert f.encode_message(b"") == b""
    big = os.urandom(SEND_CHUNK * 2 + 7)
    wire = f.encode_message(big)
    assert wire[0] == 0 and struct.unpack(">I", wire[1:5])[0] == SEND_CHUNK
    g = Framer()
    g.feed(wire)
    assert g.next_message() == big


@pytest.mark.parametrize("bad", [
    packet(11, b"x"),                       # end flag out of range
    struct.pack(">BI", 1, 0),               # zero-length packet
    struct.pack(">BI", 1, MAX_PACKET + 1),  # over 1 MiB
    struct.pack(">BI", 1, 0x80000000),      # a header claiming 2 GiB
])
def test_bad_headers_are_protocol_errors(bad):
    f = Framer()
    f.feed(bad)
    with pytest.raises(ProtocolError):
        f.next_message()


def test_maximum_message_size_is_enforced():
    f = Framer(max_message=100)
    f.feed(packet(0, b"x" * 60) + packet(1, b"x" * 60))
    with pytest.raises(ProtocolError):
        f.next_message()


def _pair_after_plaintext(key: bytes, client_first: bytes, server_first: bytes):
    client, server = Framer(), Framer()
    server.feed(client.encode_message(client_first))
    assert server.next_message() == client_first
    client.feed(server.encode_message(server_first))
    assert client.next_message() == server_first
    client.enable_crypto(key)
    server.enable_crypto(key)
    return client, server


def test_aes_gcm_both_directions_with_digest_aad():
    key = os.urandom(32)
    client, server = _pair_after_plaintext(key, b"negotiation", b"policy")
    for i in range(5):
        msg = os.urandom(100 + i * 3000)
        wire = server.encode_message(msg)
        # first packet: IV prefix + tag; later ones: tag only
        assert struct.unpack(">I", wire[1:5])[0] == min(len(msg), SEND_CHUNK) + 16 + (16 if i == 0 else 0)
        client.feed(wire)
        assert client.next_message() == msg
        reply = os.urandom(50)
        server.feed(client.encode_message(reply))
        assert server.next_message() == reply


def test_aes_packet_layout_matches_the_spec():
    """Decrypt the first server packet by hand: IV, counter, and the 69-byte AAD."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key = os.urandom(32)
    server = Framer()
    server.feed(packet(1, b"hello"))
    assert server.next_message() == b"hello"
    sent = server.encode_message(b"reply-in-clear")
    server.enable_crypto(key)
    wire = server.encode_message(b"secret")
    header, body = wire[:5], wire[5:]
    iv, sealed = body[:16], body[16:]
    aad = hashlib.sha256(sent).digest() + hashlib.sha256(packet(1, b"hello")).digest() + header
    assert AESGCM(key).decrypt(iv, sealed, aad) == b"secret"
    wire2 = server.encode_message(b"more")
    iv2 = (int.from_bytes(iv[:4], "big") + 1).to_bytes(4, "big") + iv[4:]
    assert AESGCM(key).decrypt(iv2, wire2[5:], wire2[:5]) == b"more"


def test_zero_digest_when_nothing_went_one_way_in_clear():
    """A resumed session where the server sent nothing in clear uses 32 zero bytes."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key = os.urandom(32)
    server = Framer()
    server.feed(packet(1, b"resume"))
    server.next_message()
    server.enable_crypto(key)
    wire = server.encode_message(b"x")
    aad = bytes(32) + hashlib.sha256(packet(1, b"resume")).digest() + wire[:5]
    assert AESGCM(key).decrypt(wire[5:21], wire[21:], aad) == b"x"


def test_tampered_ciphertext_is_refused():
    key = os.urandom(32)
    client, server = _pair_after_plaintext(key, b"a", b"b")
    wire = bytearray(server.encode_message(b"payload"))
    wire[-1] ^= 1
    client.feed(bytes(wire))
    with pytest.raises(ProtocolError):
        client.next_message()


# ----------------------------------------------------------------------------- primitives
@pytest.mark.parametrize("encrypted", [False, True])
def test_primitives_roundtrip(encrypted):
    w = MessageWriter(encrypted)
    w.put_int(-1).put_int(2**62).put_string("héllo").put_string("").put_string(None).put_double(3.25)
    r = MessageReader(w.getvalue(), encrypted)
    assert r.get_int() == -1
    assert r.get_int() == 2**62
    assert r.get_string() == "héllo"
    assert r.get_string() == ""
    assert r.get_string() is None
    assert abs(r.get_double() - 3.25) < 1e-6
    assert r.at_end()


def test_encrypted_strings_carry_a_length_and_a_nul():
    assert MessageWriter(True).put_string("").getvalue() == struct.pack(">q", 1) + b"\0"
    assert MessageWriter(False).put_string("ab").getvalue() == b"ab\0"
    assert MessageWriter(False).put_string(None).getvalue() == b"\xff"


@pytest.mark.parametrize("data,encrypted", [
    (b"\x00\x00\x00", False),                       # short int
    (b"no-terminator", False),                      # string without NUL
    (struct.pack(">q", 10**12), True),              # absurd string length
    (struct.pack(">q", 5) + b"ab", True),           # length beyond the message
])
def test_truncated_primitives_raise(data, encrypted):
    r = MessageReader(data, encrypted)
    with pytest.raises(ProtocolError):
        r.get_int() if len(data) < 8 else r.get_string()


# ----------------------------------------------------------------------------- ClassAds
def test_real_client_security_ad_decodes():
    r = MessageReader(payload("ping-write-v25.00.c2s.hex"))
    assert r.get_int() == 60010
    ad = get_ad(r, literals_only=True)
    assert r.at_end()
    assert ad["Command"] == 60040 and ad["AuthCommand"] == 60021
    assert ad["Enact"] == "NO" and ad["NewSession"] == "YES"
    assert ad["SessionDuration"] == "60" and ad["SessionLease"] == 3600
    assert ad["RemoteVersion"].startswith("$CondorVersion: 25.14.1")
    assert len(ad) == 20


def test_real_v24_client_ad_and_server_replies_decode():
    r = MessageReader(payload("ping-read-v24.00.c2s.hex"))
    assert r.get_int() == 60010
    assert get_ad(r)["RemoteVersion"].startswith("$CondorVersion: 24.0")
    policy = get_ad(MessageReader(payload("ping-write-v25.01.s2c.hex")), literals_only=True)
    assert policy["Enact"] == "YES" and policy["AuthMethodsList"] == "FS,CLAIMTOBE"
    m3 = get_ad(MessageReader(payload("ping-write-v25.08.s2c.hex")), literals_only=True)
    assert m3["ReturnCode"] == "AUTHORIZED" and m3["User"] == "htcpool@vm"


def test_real_collector_reply_with_many_ads_decodes_and_reencodes():
    r = MessageReader(payload("query-any-v25.03.s2c.hex"))
    ads = []
    while r.get_int() == 1:
        ads.append(get_ad(r))
    assert r.at_end()
    types = {ad["MyType"] for ad in ads}
    assert {"DaemonMaster", "Collector", "Scheduler"} <= types
    for ad in ads:
        w = MessageWriter()
        put_ad(w, ad)
        back = get_ad(MessageReader(w.getvalue()))
        assert back.printOld() == ad.printOld() or dict(back.items()).keys() == dict(ad.items()).keys()
        for k in ad.keys():
            assert str(back.lookup(k)) == str(ad.lookup(k))


def test_handshake_ads_must_be_literal_only_and_small():
    w = MessageWriter()
    put_ad(w, {"A": classad2.ExprTree("1 + 2")})
    with pytest.raises(ProtocolError):
        get_ad(MessageReader(w.getvalue()), literals_only=True)
    w = MessageWriter().put_int(101)
    with pytest.raises(ProtocolError):
        get_ad(MessageReader(w.getvalue()), max_attrs=100)


def test_absurd_attribute_count_is_refused_before_reading():
    r = MessageReader(struct.pack(">q", 10**12))
    with pytest.raises(ProtocolError):
        get_ad(r)


def test_old_syntax_strings_with_backslash_and_raw_newline():
    name, expr = parse_line('A = "x\\y\\"z\nw"')
    assert name == "A"
    ad = classad2.ClassAd()
    ad["A"] = expr
    assert ad["A"] == 'x\\y"z\nw'
    w = MessageWriter()
    put_ad(w, ad)
    assert get_ad(MessageReader(w.getvalue()))["A"] == 'x\\y"z\nw'


def test_private_attributes_and_projection():
    ad = classad2.ClassAd({"Name": "n", "ClaimId": "s", "_condor_PrivX": 1, "Other": 2})
    assert is_private("CLAIMID") and is_private("_condor_privx") and not is_private("Name")
    w = MessageWriter()
    put_ad(w, ad, include_private=False)
    assert set(get_ad(MessageReader(w.getvalue())).keys()) == {"Name", "Other"}
    w = MessageWriter()
    put_ad(w, ad, projection=["name", "CLAIMID"], include_private=True)
    assert set(get_ad(MessageReader(w.getvalue())).keys()) == {"Name", "ClaimId"}


def test_secret_marker_line_is_read_as_the_next_string():
    w = MessageWriter().put_int(1).put_string("ZKM").put_string('ClaimId = "abc"').put_string("").put_string("")
    assert get_ad(MessageReader(w.getvalue()))["ClaimId"] == "abc"


def test_private_attributes_travel_only_when_encrypted():
    ad = {"Name": "slot1", "ClaimId": "secret", "Capability": "cap"}
    clear = get_ad(MessageReader(put_ad(MessageWriter(False), ad).getvalue()))
    assert set(clear.keys()) == {"Name"}
    enc = get_ad(MessageReader(put_ad(MessageWriter(True), ad).getvalue(), True))
    assert set(enc.keys()) == {"Name", "ClaimId", "Capability"}


TRICKY = {
    "Int": 7, "Real": 2.5, "Neg": -3, "Str": "plain", "Quote": 'say "hi"', "Back": "a\\b\\",
    "Tab": "a\tb", "Uni": "ünï", "Empty": "", "Bool": True, "List": [1, "two", [3]],
    "Nested": classad2.ClassAd({"X": 1, "Y": "z"}), "Expr": classad2.ExprTree("Int * 2 + size(Str)"),
    "Undef": classad2.ExprTree("undefined"), "Err": classad2.ExprTree("error"),
    "Long": "x" * 5000, "_condor_PrivSecret": "p", "ClaimId": "c", "Eq": "a = b",
}


def _per_attribute_lines(ad, keep):
    from condor_sim.cedar.classad_wire import format_line
    return sorted(format_line(k, ad.lookup(k)) for k in ad.keys() if keep(k))


@pytest.mark.parametrize("projection", [None, ["int", "STR", "claimid", "nested", "missing"]])
@pytest.mark.parametrize("private", [True, False])
def test_whole_ad_fast_paths_match_attribute_by_attribute(projection, private):
    """put_ad prints the whole ad at once and get_ad parses it at once; both must give
    what printing and parsing one attribute at a time gives."""
    ad = classad2.ClassAd(TRICKY)
    w = put_ad(MessageWriter(True), ad, projection=projection, include_private=private)
    r = MessageReader(w.getvalue(), True)
    lines = [r.get_str() for _ in range(r.get_int())]
    wanted = None if projection is None else {p.lower() for p in projection}
    keep = lambda k: (wanted is None or k.lower() in wanted) and (private or not is_private(k))  # noqa: E731
    assert sorted(lines) == _per_attribute_lines(ad, keep)
    back = get_ad(MessageReader(w.getvalue(), True))
    one_by_one = classad2.ClassAd()
    for line in lines:
        name, expr = parse_line(line)
        one_by_one[name] = expr
    assert back.printOld() == one_by_one.printOld()
    for k in back.keys():
        assert str(back.lookup(k)) == str(ad.lookup(k))


def test_a_raw_newline_in_any_value_takes_the_careful_path():
    ad = classad2.ClassAd({**{k: v for k, v in TRICKY.items() if k != "Nested"}, "Multi": "one\ntwo"})
    back = get_ad(MessageReader(put_ad(MessageWriter(True), ad).getvalue(), True))
    assert back["Multi"] == "one\ntwo" and back["Quote"] == 'say "hi"' and len(back) == len(ad)


def test_a_bad_line_among_good_ones_is_still_refused():
    w = MessageWriter().put_int(3).put_string("A = 1").put_string("B = = =").put_string("C = 2")
    with pytest.raises(ProtocolError):
        get_ad(MessageReader(w.put_string("").put_string("").getvalue()))
