"""Security policy of a daemon for one command, and its reconciliation with a client's.

Mirrors SecMan's ``FillInSecurityPolicyAd`` / ``ReconcileSecurityPolicyAds``: the
daemon reads ``SEC_<LEVEL>_*`` knobs along the level's config chain (down to DEFAULT),
applies the dependency rules, and then each feature is decided by the table::

    client \\ server  REQUIRED  PREFERRED  OPTIONAL  NEVER
    REQUIRED          YES       YES        YES       FAIL
    PREFERRED         YES       YES        YES       NO
    OPTIONAL          YES       YES        NO        NO
    NEVER             FAIL      NO         NO        NO
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .perms import Perm, config_chain

REQUIRED, PREFERRED, OPTIONAL, NEVER = "REQUIRED", "PREFERRED", "OPTIONAL", "NEVER"
_RANK = {NEVER: 0, OPTIONAL: 1, PREFERRED: 2, REQUIRED: 3}

# Methods this simulator can run, by their wire names.  Others (KERBEROS, SCITOKENS, SSL
# without a host certificate, MUNGE) are filtered out as a real daemon filters what its
# build or host cannot do.
SUPPORTED_AUTH = ("FS", "TOKEN", "CLAIMTOBE", "ANONYMOUS")
# BLOWFISH and 3DES keys are agreed on but never switched on: with those methods the real
# stream stays in clear except for put_secret strings, which this simulator never sends
# (it leaves private attributes out instead).  Encryption or integrity with them is refused.
SUPPORTED_CRYPTO = ("AES", "BLOWFISH", "3DES")
DEFAULT_AUTH_METHODS = "FS,IDTOKENS,KERBEROS,SCITOKENS,SSL"
DEFAULT_CRYPTO_METHODS = "AES,BLOWFISH,3DES"
_TOKEN_ALIASES = {"TOKENS", "IDTOKEN", "IDTOKENS", "TOKEN"}


class PolicyError(Exception):
    """The daemon's own configuration cannot produce a valid policy for this level."""


def parse_req(value: str | None, default: str) -> str:
    """SecMan reads only the first letter: R/Y/T required, P preferred, O optional, N/F never."""
    if not value:
        return default
    first = value.strip()[:1].upper()
    return {"R": REQUIRED, "Y": REQUIRED, "T": REQUIRED, "P": PREFERRED,
            "O": OPTIONAL, "N": NEVER, "F": NEVER}.get(first, default)


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [x for x in value.replace(",", " ").split() if x]


def canonical_method(name: str) -> str:
    up = name.strip().upper()
    return "TOKEN" if up in _TOKEN_ALIASES else up


@dataclass
class ServerPolicy:
    """What the daemon wants for one permission level."""
    authentication: str
    authentication_new: str
    encryption: str
    integrity: str
    negotiation: str
    auth_methods: list[str]
    crypto_methods: list[str]
    session_duration: int
    session_lease: int


def _depend(a: str, b: str) -> tuple[str, str]:
    """ReconcileSecurityDependency: a NEVER forces b NEVER (REQUIRED b is invalid); a >= b."""
    if a == NEVER:
        if b == REQUIRED:
            raise PolicyError("a NEVER setting conflicts with a REQUIRED one")
        b = NEVER
    if _RANK[b] > _RANK[a]:
        a = b
    return a, b


def server_policy(get: Callable[[str], str | None], perm: Perm, subsystem: str, *,
                  force_auth: bool = False, have_token_keys: bool = False,
                  tool: bool = False) -> ServerPolicy:
    """FillInSecurityPolicyAd for a daemon: ``get`` returns a knob's value (or None)."""
    legacy = perm >= Perm.DAEMON and parse_req(get("LEGACY_ALLOW_SEMANTICS"), NEVER) == REQUIRED
    chain = config_chain(perm, legacy)

    def setting(fmt: str) -> str | None:
        for level in chain:
            v = get(fmt % level.name)
            if v:
                return v
        return None

    auth = parse_req(setting("SEC_%s_AUTHENTICATION"), OPTIONAL)
    if force_auth:
        auth = REQUIRED
    auth_new = auth
    enc = parse_req(setting("SEC_%s_ENCRYPTION"), OPTIONAL)
    integ = parse_req(setting("SEC_%s_INTEGRITY"), OPTIONAL)
    nego = parse_req(setting("SEC_%s_NEGOTIATION"), PREFERRED)
    if perm == Perm.ALLOW and not force_auth:
        auth_new = OPTIONAL
    auth, enc = _depend(auth, enc)
    auth, integ = _depend(auth, integ)
    nego, auth = _depend(nego, auth)
    nego, enc = _depend(nego, enc)
    nego, integ = _depend(nego, integ)

    methods = []
    for m in split_list(setting("SEC_%s_AUTHENTICATION_METHODS") or DEFAULT_AUTH_METHODS):
        m = canonical_method(m)
        if m in SUPPORTED_AUTH and m not in methods and (m != "TOKEN" or have_token_keys):
            methods.append(m)
    if not methods:
        if auth_new == REQUIRED:
            raise PolicyError("no authentication methods, but authentication is required")
        auth_new = NEVER

    crypto = [c.upper() for c in split_list(setting("SEC_%s_CRYPTO_METHODS") or DEFAULT_CRYPTO_METHODS)]
    crypto = [c for c in dict.fromkeys(crypto) if c in SUPPORTED_CRYPTO]
    if not crypto:
        if REQUIRED in (enc, integ):
            raise PolicyError("no crypto methods, but encryption or integrity is required")
        enc = integ = NEVER

    duration = 60 if tool else 86400
    for fmt in (f"SEC_{subsystem}_%s_SESSION_DURATION", "SEC_%s_SESSION_DURATION"):
        v = setting(fmt)
        if v and v.strip().lstrip("-").isdigit():
            duration = int(v)
            break
    lease = 3600
    v = setting("SEC_%s_SESSION_LEASE")
    if v and v.strip().lstrip("-").isdigit():
        lease = int(v)
    return ServerPolicy(auth, auth_new, enc, integ, nego, methods, crypto, duration, lease)


def _act(client: str, server: str) -> str:
    """One cell of the reconciliation table: YES, NO or FAIL."""
    if client == REQUIRED:
        return "FAIL" if server == NEVER else "YES"
    if client == PREFERRED:
        return "NO" if server == NEVER else "YES"
    if client == OPTIONAL:
        return "YES" if server in (REQUIRED, PREFERRED) else "NO"
    return "FAIL" if server == REQUIRED else "NO"


@dataclass
class Decision:
    """The reconciled policy: what the server replies (M2) and then enacts."""
    authentication: bool
    auth_required: bool
    encryption: bool
    integrity: bool
    auth_methods: list[str]
    crypto_methods: list[str]
    session_duration: int
    session_lease: int | None
    extra: dict = field(default_factory=dict)


def _common(client_list: str | None, server_list: list[str], canon=str.upper) -> list[str]:
    offered = {canon(m) for m in split_list(client_list)}
    return [m for m in server_list if m in offered]


def reconcile(client: dict, server: ServerPolicy) -> Decision | None:
    """ReconcileSecurityPolicyAds; None means the two cannot agree (close the connection)."""
    def req(name: str) -> str:
        return parse_req(client.get(name) if isinstance(client.get(name), str) else None, NEVER)

    if "AuthenticationNew" in client:
        cli_auth, srv_auth = req("AuthenticationNew"), server.authentication_new
    else:
        cli_auth, srv_auth = req("Authentication"), server.authentication
    auth = _act(cli_auth, srv_auth)
    enc = _act(req("Encryption"), server.encryption)
    integ = _act(req("Integrity"), server.integrity)
    if "FAIL" in (auth, enc, integ):
        return None
    methods = _common(client.get("AuthMethods"), server.auth_methods, canonical_method)
    crypto = _common(client.get("CryptoMethods"), server.crypto_methods)
    d = Decision(
        authentication=auth == "YES",
        auth_required=REQUIRED in (cli_auth, srv_auth),
        encryption=enc == "YES",
        integrity=integ == "YES",
        auth_methods=methods,
        crypto_methods=crypto,
        session_duration=min(_int(client.get("SessionDuration")), server.session_duration),
        session_lease=None,
    )
    if d.authentication and crypto[:1] == ["AES"]:
        # AES-GCM always encrypts and checks integrity; the real server says so.
        d.encryption = d.integrity = True
    cli_lease = client.get("SessionLease")
    if isinstance(cli_lease, int) and not isinstance(cli_lease, bool):
        c, s = cli_lease or server.session_lease, server.session_lease or cli_lease
        d.session_lease = min(c, s)
    return d


def _int(v) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return 0
