"""IDTOKENS: pool signing keys, minting and checking tokens, and the AKEP2 key math.

Pure functions, no sockets (the method's messages are in ``token_auth.py``).

* A signing key file holds random bytes XOR-ed with the repeating pattern DE AD BE EF.
  The POOL key (``SEC_TOKEN_POOL_SIGNING_KEY_FILE``, by default
  ``$(SEC_PASSWORD_DIRECTORY)/POOL``) is used doubled (its bytes twice over).
* ``jwt_key = HKDF-SHA256(key, salt "htcondor", info "master jwt")``; a token is a JWT
  signed with HMAC-SHA256 under it: header ``alg``/``kid``, claims ``iat``, ``iss`` (the
  trust domain), ``jti`` (hex), ``sub`` (user@domain), optional ``exp`` and
  ``scope`` ("condor:/READ condor:/WRITE").
* AKEP2 keys: ``K = HKDF(sig, salt SEED_KA || tok, info "master ka")`` and
  ``K' = HKDF(sig, salt SEED_KB || tok, info "master kb")``, where ``tok`` is
  ``header.payload`` and ``sig`` the raw signature.  SEED_KA and SEED_KB are two fixed
  256-byte tables of HTCondor's TOKEN method (protocol constants).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SCRAMBLE = bytes([0xDE, 0xAD, 0xBE, 0xEF])

SEED_KA = bytes.fromhex(
    "3e4a502047d5f4e5dc7c69bb5210cbb6167add8084f7dd9ef3ad2cca71d283dd"
    "114a4fbb7b1ee90adfa862c44304de5473a3172f735c2cbb6e775b5d40d39fac"
    "e873182523f9252b623be0d4b167a3a8040cacfee9ee3da02c0abbf4d9d8b11f"
    "89004c943923ce5d9508bb3f04bc66a3fa20a13a416c5e6f4e0d3187d45fc783"
    "35c5e485db2c5a3717970cc26e7b6b9d1965b47a67df77a31f22f08a6c0ba570"
    "97a21a9ca7c60424f72739ab5cb915a4185bd109828e35e42108ab851c08a3df"
    "fde0e3b06f3d3938cdad6df6ef9a6f6dc2cb74f0228512eb7a3d6823010684b0"
    "15c12ac3014c4f9f938e384dad1e3bd745ff8c141fd70b465ba8af5d1b98b4b1"
)
SEED_KB = bytes.fromhex(
    "010026ad75dfc6c190a5a266b0d1b5d860f7cfa38467205501cd460d4a88d473"
    "fa52e0b3e9141e33c97d851eee2dd33632f3886768ef010ec8dfdd668ade92d5"
    "c34308bb243895d84ed785e27268cc5ee7560de49828fab766c2ad8c0b2c0afb"
    "435c382db5d2ff36a8aead5820470a9ad45d79856f5e2ece894bd2507929dcf2"
    "6f7d09f0028f1ac4d971f4820c5f54717e9dcdabeb215f61655dead4b72c3d3b"
    "5f66fa4b30b85888d62facd4129c1304919f69ad6d8c2c43d9ce5cdb31d45803"
    "52c7362b8d80b7ef1bba5d676660a944764502f91d1d3c54910c088bccb72b11"
    "948a5e1a1dcd04369c17d298804c216e7a2690b8c0e970363300d092df24fb8c"
)
assert hashlib.sha256(SEED_KA).hexdigest() == "54029671f8b74888ae45fa5f5aa73755986b977fd44645dfe54d8fb646f69633"
assert hashlib.sha256(SEED_KB).hexdigest() == "73797fd3830629b39ede92d99b85097ae74e8eef6fb344fcbe73dc7095b7bf15"


class TokenError(Exception):
    """A token the daemon refuses; the text is what the daemon logs."""


def _hkdf(ikm: bytes, salt: bytes, info: bytes, n: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def scramble(data: bytes) -> bytes:
    return bytes(b ^ SCRAMBLE[i % 4] for i, b in enumerate(data))


def load_signing_key(path) -> bytes:
    """The unscrambled key bytes (the POOL doubling is applied by :func:`jwt_key`)."""
    with open(path, "rb") as f:
        return scramble(f.read())


def ensure_pool_signing_key(path) -> bool:
    """Create a 64-byte random POOL key (mode 0600) if missing, as a collector does."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(scramble(os.urandom(64)))
    return True


def jwt_key(raw_key: bytes, kid: str) -> bytes:
    if kid == "POOL":
        raw_key = raw_key + raw_key
    return _hkdf(raw_key, b"htcondor", b"master jwt")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_json(obj: dict) -> str:
    """JSON as HTCondor's JWT library writes it: keys sorted, no spaces, ``/`` escaped."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).replace("/", "\\/")


def mint(raw_key: bytes, identity: str, issuer: str, kid: str = "POOL", lifetime: int | None = None,
         scopes: list[str] | None = None, now: float | None = None) -> str:
    """A token with the claims (and the exact header and JSON) condor_token_create puts in it;
    ``scopes`` are authorization levels, written as given (``condor:/READ``)."""
    now = int(time.time() if now is None else now)
    header = {"alg": "HS256", "kid": kid}
    claims = {"iat": now, "iss": issuer, "jti": os.urandom(16).hex(), "sub": identity}
    if lifetime is not None and lifetime >= 0:
        claims["exp"] = now + int(lifetime)
    if scopes:
        claims["scope"] = " ".join(f"condor:/{s}" for s in scopes)
    text = _b64u(jwt_json(header).encode()) + "." + _b64u(jwt_json(claims).encode())
    sig = hmac.new(jwt_key(raw_key, kid), text.encode(), hashlib.sha256).digest()
    return text + "." + _b64u(sig)


def decode_raw(token: str) -> tuple[str, str]:
    """The header and payload JSON texts of a JWT, as written (condor_token_list prints them);
    ValueError when it is not one (fewer than two dots, bad base64url or bad JSON)."""
    parts = token.split(".")
    if len(parts) < 3:
        raise ValueError("not a JWT")
    try:
        head, pay = _unb64u(parts[0]).decode(), _unb64u(parts[1]).decode()
        json.loads(head), json.loads(pay)
    except Exception:
        raise ValueError("not a JWT") from None
    return head, pay


_ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def decode(token_prefix: str) -> tuple[dict, dict]:
    """(header, claims) of ``header.payload``; TokenError when not a JWT."""
    try:
        head, pay = token_prefix.split(".")[:2]
        return json.loads(_unb64u(head)), json.loads(_unb64u(pay))
    except Exception:
        raise TokenError("Failed to decode JWT for determining the signing key.") from None


def signature_for(token_prefix: str, header: dict, key_lookup) -> bytes:
    """The signature the daemon's key gives ``header.payload`` (the client proves it knows it)."""
    kid = header.get("kid")
    if not kid:
        raise TokenError("Client JWT is missing a key ID.")
    raw = key_lookup(kid)
    if raw is None:
        raise TokenError(f"Failed to fetch key named {kid}")
    alg = _ALGS.get(header.get("alg"))
    if alg is None:
        raise TokenError(f"Unsupported JWT algorithm {header.get('alg')}")
    return hmac.new(jwt_key(raw, kid), token_prefix.encode(), alg).digest()


def check_claims(claims: dict, max_age: int | None = None, now: float | None = None) -> None:
    """Condor_Auth_Passwd::analyze_token's checks; raises TokenError with the daemon's log text."""
    now = time.time() if now is None else now
    iat = claims.get("iat")
    if max_age is not None and max_age >= 0 and isinstance(iat, (int, float)) and now - iat > max_age:
        raise TokenError(f"User token age ({int(now - iat)}) is greater than max age ({max_age}); rejecting")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and now - exp > 0:
        raise TokenError(f"User token has been expired for {int(now - exp)} seconds.")
    if not claims.get("iss"):
        raise TokenError("Impossible token: token was validated with empty issuer.")
    if not claims.get("jti"):
        raise TokenError("Invalid token: token has no jti")
    if not claims.get("sub"):
        raise TokenError("JWT not found in database (no subject, and capability tokens are not supported)")


def validate(token: str, key_lookup, trust_domain: str | None = None, max_age: int | None = None,
             now: float | None = None) -> dict:
    """Check a whole token (with its signature); returns the claims."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenError("Failed to decode JWT for determining the signing key.")
    prefix = parts[0] + "." + parts[1]
    header, claims = decode(prefix)
    sig = signature_for(prefix, header, key_lookup)
    try:
        given = _unb64u(parts[2])
    except Exception:
        raise TokenError("token signature is not valid base64") from None
    if not hmac.compare_digest(sig, given):
        raise TokenError("token signature does not verify")
    check_claims(claims, max_age, now)
    return claims


def derive_k_kprime(signature: bytes, token_prefix: str) -> tuple[bytes, bytes]:
    tok = token_prefix.encode()
    return (_hkdf(signature, SEED_KA + tok, b"master ka"), _hkdf(signature, SEED_KB + tok, b"master kb"))


def server_hkt(k: bytes, a: str, b: str, ra: bytes, rb: bytes) -> bytes:
    return hmac.new(k, a.encode() + b" " + b.encode() + b"\0" + ra + rb, hashlib.sha1).digest()


def client_hk(k: bytes, a: str, rb: bytes) -> bytes:
    return hmac.new(k, a.encode() + b"\0" + rb, hashlib.sha1).digest()


def scopes_to_limit(scope_claim: str | None) -> set[str] | None:
    if not scope_claim:
        return None
    out = {s[len("condor:/"):].upper() for s in scope_claim.split() if s.startswith("condor:/")}
    return out or None


# ------------------------------------------------------------------ condor-sim token create
def _pool_trust_domain(pool_dir: str) -> str:
    """TRUST_DOMAIN as the pool's daemons see it (the real config engine expands it)."""
    cfg = os.path.join(pool_dir, "condor_config")
    if os.path.exists(cfg):
        os.environ["CONDOR_CONFIG"] = cfg
        import htcondor2
        htcondor2.reload_config()
        for knob in ("TRUST_DOMAIN", "UID_DOMAIN"):
            try:
                return str(htcondor2.param[knob])
            except KeyError:
                continue
    return socket.getfqdn()


def token_create_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="condor-sim token create",
                                description="Make an IDTOKEN signed with the pool's signing key.")
    p.add_argument("--dir", default=os.environ.get("CONDOR_SIM_DIR") or
                   os.path.join(os.path.expanduser("~"), ".condor-sim", "pool"),
                   help="the pool directory whose signing key signs the token "
                        "(default: $CONDOR_SIM_DIR or ~/.condor-sim/pool)")
    p.add_argument("--identity", required=True, help="USER@DOMAIN the token authenticates as")
    p.add_argument("--lifetime", type=int, default=None, help="seconds until it expires")
    p.add_argument("--authz", action="append", default=[], help="limit to a level (repeatable)")
    p.add_argument("--output", help="file to write (mode 0600); default: print it")
    p.add_argument("--key-file", help="signing key (default: DIR/passwords.d/POOL)")
    p.add_argument("--key-id", default="POOL", help="the signing key's name (default: POOL)")
    p.add_argument("--issuer", help="the token's issuer (default: the pool's trust domain)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["create"]:       # `condor-sim token create ...`
        argv = argv[1:]
    args = p.parse_args(argv)
    key_file = args.key_file or os.path.join(args.dir, "passwords.d", args.key_id)
    try:
        raw = load_signing_key(key_file)
    except OSError as e:
        print(f"condor-sim token create: cannot read signing key {key_file}: {e.strerror}", file=sys.stderr)
        return 1
    token = mint(raw, args.identity, args.issuer or _pool_trust_domain(args.dir), args.key_id,
                 args.lifetime, args.authz)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), mode=0o700, exist_ok=True)
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
    else:
        print(token)
    return 0
