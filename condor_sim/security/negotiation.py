"""The decisions of a new security session, without I/O (``daemon_command.cpp``):
what the server answers to the client's ad, whether a key can be agreed, who the peer
is once authenticated, which commands the session may be reused for, and the session ad.

:mod:`.handshake` sends and receives; everything it decides comes from here and from
:mod:`.policy` (the reconciliation), so each piece can be tested on its own.
"""
from __future__ import annotations

from .. import CONDOR_VERSION
from ..cedar.commands import Cmd
from . import methods as M


def resumable(cmd, keyed: bool) -> bool:
    """May a resumed session run ``cmd``?  With a key, when the client's payload will
    prove the key before the handler runs; without one, only when there is nothing to run."""
    return cmd.resumable if keyed else cmd.no_effect


def policy_reply(decision, *, trust_domain: str = "", issuer_keys=()) -> dict:
    """The server's answer to the client's security ad (M2), before the crypto method and
    the ECDH key, which :func:`crypto_plan` decides."""
    reply: dict = {
        "Authentication": "YES" if decision.authentication else "NO",
        "Encryption": "YES" if decision.encryption else "NO",
        "Integrity": "YES" if decision.integrity else "NO",
    }
    if decision.authentication and not decision.auth_required:
        reply["AuthRequired"] = False
    if decision.auth_methods:
        reply["AuthMethodsList"] = ",".join(decision.auth_methods)
        reply["AuthMethods"] = decision.auth_methods[0]
    if decision.crypto_methods:
        reply["CryptoMethodsList"] = ",".join(decision.crypto_methods)
    reply["SessionDuration"] = str(decision.session_duration)
    if decision.session_lease is not None:
        reply["SessionLease"] = decision.session_lease
    reply["Enact"] = "YES"
    if trust_domain:
        reply["TrustDomain"] = trust_domain
    if issuer_keys:
        reply["IssuerKeys"] = ", ".join(issuer_keys)
    reply["NegotiatedSession"] = True
    reply["RemoteVersion"] = CONDOR_VERSION
    return reply


def crypto_plan(decision, new_session: bool, peer_has_ecdh: bool) -> tuple[str | None, bool, str | None]:
    """(crypto method to announce, whether to do ECDH, refusal text or None).

    A new session that authenticates, or whose client offers an ECDH key, agrees on a
    key, which needs a common crypto method.  Only ECDH-keyed AES-GCM is implemented (no
    legacy key transport, no BLOWFISH/3DES stream cipher or MD5 integrity), so a session
    that must encrypt or check integrity without it is refused."""
    method, ecdh = None, False
    if new_session and (decision.authentication or peer_has_ecdh):
        if not decision.crypto_methods:
            return None, False, "tried to enable encryption for request from {peer}, but we have none!"
        method, ecdh = decision.crypto_methods[0], peer_has_ecdh
    if (decision.encryption or decision.integrity) and not (ecdh and method == "AES"):
        return method, ecdh, "unable to turn on encryption, failing request from {peer}."
    return method, ecdh, None


def identity_policy(identity, cmd) -> tuple[str, dict, set | None]:
    """(user, session policy, authorization limit) for an authenticated identity or None.
    A CLAIMTOBE session is limited to the command's level, as real servers do."""
    if identity is None:
        return M.UNAUTHENTICATED, {"AuthMethods": None}, None
    policy = {"AuthMethods": identity.method, **identity.extra}
    limit = identity.extra.get("_limit")
    if identity.method == "CLAIMTOBE":
        limit = {cmd.perm}
        policy["_limit"] = limit
    return identity.fqu, policy, limit


def offered_commands(table, cmd, target: int, mapped: bool, keyed: bool) -> list[int]:
    """ValidCommands: what the client may reuse the session for.  Only commands a resumed
    session may run; the client fails on an empty list, so at least DC_NOP."""
    valid = table.valid_commands(cmd.perm, mapped, keyed)
    if resumable(cmd, keyed) and target not in valid:
        valid.insert(0, target)
    return valid or [int(Cmd.DC_NOP)]


def session_ad(user: str, tried: bool, sid: str, valid: list[int], authorized: bool) -> dict:
    """The post-authentication ad (M3) of a new session."""
    ad = {"User": user}
    if tried:
        ad["TriedAuthentication"] = True
    ad["Sid"] = sid
    ad["ValidCommands"] = ",".join(str(n) for n in valid)
    ad["ReturnCode"] = "AUTHORIZED" if authorized else "DENIED"
    return ad
