"""Unit tests of the IDTOKENS key handling and AKEP2 math (tokens.py)."""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
import time

import pytest

from condor_sim.security import tokens


def test_seed_tables_are_the_protocol_constants():
    assert hashlib.sha256(tokens.SEED_KA).hexdigest().startswith("54029671")
    assert tokens.SEED_KA[:4] == bytes([0x3E, 0x4A, 0x50, 0x20])
    assert tokens.SEED_KB[:4] == bytes([0x01, 0x00, 0x26, 0xAD])


def test_key_file_is_scrambled_private_and_created_once(tmp_path):
    path = tmp_path / "passwords.d" / "POOL"
    assert tokens.ensure_pool_signing_key(path) is True
    assert tokens.ensure_pool_signing_key(path) is False
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = tokens.load_signing_key(path)
    assert len(raw) == 64 and tokens.scramble(raw) == path.read_bytes()


def test_pool_key_is_doubled_other_keys_are_not():
    raw = os.urandom(32)
    assert tokens.jwt_key(raw, "POOL") == tokens.jwt_key(raw + raw, "OTHER")
    assert tokens.jwt_key(raw, "POOL") != tokens.jwt_key(raw, "OTHER")


def test_mint_then_validate_and_claims():
    raw = os.urandom(64)
    tok = tokens.mint(raw, "alice@d", "issuer.example", lifetime=60, scopes=["read", "WRITE"])
    claims = tokens.validate(tok, lambda kid: raw if kid == "POOL" else None)
    assert claims["sub"] == "alice@d" and claims["iss"] == "issuer.example"
    assert claims["exp"] - claims["iat"] == 60 and len(claims["jti"]) == 32
    assert tokens.scopes_to_limit(claims["scope"]) == {"READ", "WRITE"}
    assert tokens.scopes_to_limit(None) is None


@pytest.mark.parametrize("case,text", [
    ("forged", "does not verify"), ("expired", "User token has been expired for"),
    ("unknown-kid", "Failed to fetch key named"), ("old", "greater than max age"),
    ("garbled", "Failed to decode JWT"),
])
def test_refusals_carry_the_daemon_log_text(case, text):
    raw = os.urandom(64)
    lookup = lambda kid: raw if kid == "POOL" else None      # noqa: E731
    now = time.time()
    kwargs = {}
    if case == "forged":
        tok = tokens.mint(os.urandom(64), "a@d", "i")
    elif case == "expired":
        tok = tokens.mint(raw, "a@d", "i", lifetime=5, now=now - 100)
    elif case == "unknown-kid":
        tok = tokens.mint(raw, "a@d", "i", kid="OTHER")
    elif case == "old":
        tok = tokens.mint(raw, "a@d", "i", now=now - 1000)
        kwargs["max_age"] = 10
    else:
        tok = "not.a.jwt"
    with pytest.raises(tokens.TokenError, match=text):
        tokens.validate(tok, lookup, **kwargs)


def test_akep2_both_sides_agree():
    """A client computed from the spec (security.md 7.4) and our server functions agree."""
    raw = os.urandom(64)
    tok = tokens.mint(raw, "alice@d", "i")
    prefix, sig_b64 = tok.rsplit(".", 1)
    sig = tokens._unb64u(sig_b64)
    k, kp = tokens.derive_k_kprime(sig, prefix)
    assert len(k) == len(kp) == 32 and k != kp
    ra, rb = os.urandom(256), os.urandom(256)
    client_k = tokens._hkdf(sig, tokens.SEED_KA + prefix.encode(), b"master ka")
    assert client_k == k
    expect_hkt = hmac.new(client_k, b"alice@d condor@password\0" + ra + rb, hashlib.sha1).digest()
    assert tokens.server_hkt(k, "alice@d", "condor@password", ra, rb) == expect_hkt
    assert tokens.client_hk(k, "alice@d", rb) == hmac.new(client_k, b"alice@d\0" + rb, hashlib.sha1).digest()
