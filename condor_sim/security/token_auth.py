"""The server side of IDTOKENS authentication (method TOKEN, AKEP2 over CEDAR).

The client never sends its token's signature: it sends ``"<header>.<payload>"`` and
proves it knows the signature, from which both sides derive the AKEP2 keys.  So the
daemon recomputes the signature with its own signing key (named by the token's ``kid``),
checks the claims, and verifies the client's proof::

    C->S [status][len a][a][tok][256][ra]
    S->C [status][len a][a][len b][b][256][ra][256][rb][len hkt][hkt]
    C->S [status][len a][a][256][rb][len hk][hk]

On any error both sides still complete the three messages with empty fields, and the
method fails (the client then tries its next method).
"""
from __future__ import annotations

import hmac
import os

from . import tokens
from .methods import Identity

RAND_LEN = 256
SERVER_NAME = "condor@password"   # identity the server claims to peers >= 23.9.0


class ServerTokenSupport:
    """What a daemon needs to accept IDTOKENS: its signing keys and the method itself."""

    def __init__(self, config, log):
        self.config = config
        self.log = log
        self.password_dir = config.get("SEC_PASSWORD_DIRECTORY")
        self.pool_key_file = config.get("SEC_TOKEN_POOL_SIGNING_KEY_FILE") or (
            os.path.join(self.password_dir, "POOL") if self.password_dir else None)
        self.trust_domain = config.get("TRUST_DOMAIN") or config.get("UID_DOMAIN") or ""
        self.max_age = config.get_int("SEC_TOKEN_MAX_AGE", -1)

    def key_path(self, kid: str) -> str | None:
        if kid == "POOL":
            return self.pool_key_file
        if not self.password_dir or "/" in kid or kid in (".", ".."):
            return None
        return os.path.join(self.password_dir, kid)

    def issuer_keys(self) -> list[str]:
        """Names of the signing keys we can read, sorted (IssuerKeyNameCache::NameList)."""
        names = set()
        if self.pool_key_file and os.access(self.pool_key_file, os.R_OK):
            names.add("POOL")
        if self.password_dir and os.path.isdir(self.password_dir):
            for n in os.listdir(self.password_dir):
                path = os.path.join(self.password_dir, n)
                if not n.startswith(".") and os.path.isfile(path) and os.access(path, os.R_OK):
                    names.add(n)
        return sorted(names)

    def key(self, kid: str) -> bytes | None:
        path = self.key_path(kid)
        if not path or not os.path.exists(path):
            return None
        return tokens.load_signing_key(path)

    def check(self, tok: str) -> tuple[dict, bytes]:
        """Claims of ``<header>.<payload>`` and the signature our key gives it."""
        header, claims = tokens.decode(tok)
        sig = tokens.signature_for(tok, header, self.key)
        tokens.check_claims(claims, self.max_age)
        return claims, sig

    async def authenticate(self, chan, ctx) -> Identity | None:
        r = await chan.read_message()
        status = r.get_int()
        r.get_int()
        a = r.get_str()
        tok = r.get_str()
        ra_len = r.get_int()
        ra = r.get_bytes(ra_len) if 0 < ra_len <= RAND_LEN else b""
        claims = sig = None
        if status == 0 and ra_len == RAND_LEN:
            try:
                claims, sig = self.check(tok)
            except (tokens.TokenError, ValueError, TypeError) as e:
                ctx.log(f"TOKEN: refusing the token from {chan.peer_ip}: {e}")
        if claims is None:
            await chan.send(chan.new_message().put_int(-1).put_int(0).put_string("").put_int(0)
                            .put_string("").put_int(0).put_int(0).put_int(0))
            await chan.read_message()      # the client's closing error message
            return None
        k, _kprime = tokens.derive_k_kprime(sig, tok)
        rb = os.urandom(RAND_LEN)
        b = SERVER_NAME
        hkt = tokens.server_hkt(k, a, b, ra, rb)
        w = chan.new_message()
        w.put_int(0).put_int(len(a)).put_string(a).put_int(len(b)).put_string(b)
        w.put_int(RAND_LEN).put_bytes(ra).put_int(RAND_LEN).put_bytes(rb)
        w.put_int(len(hkt)).put_bytes(hkt)
        await chan.send(w)
        r = await chan.read_message()
        status = r.get_int()
        r.get_int()
        a2 = r.get_str()
        rb_len = r.get_int()
        rb2 = r.get_bytes(rb_len) if 0 < rb_len <= RAND_LEN else b""
        hk_len = r.get_int()
        hk = r.get_bytes(hk_len) if 0 < hk_len <= 64 else b""
        subject = claims.get("sub") or claims.get("jti")
        if status != 0 or a2 != a or rb2 != rb or a != subject or \
                not hmac.compare_digest(hk, tokens.client_hk(k, a, rb)):
            ctx.log(f"TOKEN: client {chan.peer_ip} failed the key confirmation")
            return None
        user, at, domain = subject.rpartition("@")
        if not at:
            user, domain = subject, ctx.uid_domain
        extra = {"AuthTokenSubject": subject, "AuthTokenIssuer": claims.get("iss"),
                 "AuthTokenId": claims.get("jti")}
        if claims.get("scope"):
            extra["AuthTokenScopes"] = claims["scope"]
            limit = tokens.scopes_to_limit(claims["scope"])
            if limit:
                from .perms import Perm
                extra["_limit"] = {Perm.parse(p) for p in limit if _is_perm(p)}
        return Identity(user, domain, "IDTOKENS", extra)   # the name both real sides report


def _is_perm(name: str) -> bool:
    from .perms import Perm
    try:
        Perm.parse(name)
        return True
    except ValueError:
        return False
