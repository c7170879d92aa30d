"""The commands every DaemonCore daemon answers (``daemon_core.cpp``, ``daemon_core_main.cpp``):
the DC_NOP family that ping uses, reconfig, the off commands and DC_GET_SESSION_TOKEN
(``condor_token_fetch``: a token for the identity the session authenticated as).  The config
commands (CONFIG_VAL, DC_CONFIG_*) are in :mod:`condor_sim.remote_config`."""
from __future__ import annotations

import fnmatch
import signal

from .cedar.commands import Cmd
from .command_table import command
from .security.perms import Perm

DC_GET_SESSION_TOKEN = 60046


class DaemonCoreCommands:
    def __init__(self, core):
        self.core = core

    @command(Cmd.DC_NOP, perm=Perm.ALLOW, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_READ, perm=Perm.READ, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_WRITE, perm=Perm.WRITE, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_NEGOTIATOR, perm=Perm.NEGOTIATOR, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADMINISTRATOR, Cmd.DC_NOP_OWNER, perm=Perm.ADMINISTRATOR,
             has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_CONFIG, perm=Perm.CONFIG, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_DAEMON, perm=Perm.DAEMON, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_STARTD, perm=Perm.ADVERTISE_STARTD, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_SCHEDD, perm=Perm.ADVERTISE_SCHEDD, has_payload=False, no_effect=True)
    @command(Cmd.DC_NOP_ADVERTISE_MASTER, perm=Perm.ADVERTISE_MASTER, has_payload=False, no_effect=True)
    async def nop(self, req) -> None:
        """Ping: authorization is the whole answer."""

    @command(Cmd.DC_RECONFIG, Cmd.DC_RECONFIG_FULL, perm=Perm.ADMINISTRATOR, has_payload=False)
    async def reconfig(self, req) -> None:
        self.core.request_reconfig()

    # The real handlers signal the daemon itself, so the shutdown logs as for a signal.
    @command(Cmd.DC_OFF_GRACEFUL, Cmd.DC_OFF_PEACEFUL, Cmd.DC_OFF_FORCE, perm=Perm.ADMINISTRATOR,
             has_payload=False)
    async def off_graceful(self, req) -> None:
        self.core.signal(signal.SIGTERM)

    @command(Cmd.DC_OFF_FAST, perm=Perm.ADMINISTRATOR, has_payload=False)
    async def off_fast(self, req) -> None:
        self.core.signal(signal.SIGQUIT)

    @command(Cmd.DC_SET_PEACEFUL_SHUTDOWN, Cmd.DC_SET_FORCE_SHUTDOWN, perm=Perm.ADMINISTRATOR,
             has_payload=False)
    async def set_shutdown_mode(self, req) -> None:
        """Only the master keeps a shutdown mode; other daemons accept and ignore it."""

    # ------------------------------------------------------------------ token fetch
    @command(DC_GET_SESSION_TOKEN, perm=Perm.DAEMON, alt_perms=(Perm.ALLOW,),
             name="DC_GET_SESSION_TOKEN")
    async def session_token(self, req) -> None:
        """handle_dc_session_token: the request ad may carry LimitAuthorization,
        TokenLifetime and RequestedKey; the reply carries Token, or ErrorString/ErrorCode."""
        from .cedar.classad_wire import get_ad, put_ad
        request = get_ad(await req.read(), literals_only=True)
        reply = self.session_token_reply(request, req)
        await req.send(put_ad(req.message(), reply))

    def session_token_reply(self, request, req) -> dict:
        import classad2

        from .security import tokens
        cfg = self.core.config
        if not cfg.get_bool("SEC_ENABLE_TOKEN_FETCH", True):
            return classad2.ClassAd({"ErrorString": "Token fetch disabled.", "ErrorCode": 44})
        limit = req.policy.get("_limit") if req.policy else None
        bound = {p.name for p in limit} if limit else None
        wanted = request.get("LimitAuthorization")
        authz = [a for a in str(wanted).replace(",", " ").split()] if isinstance(wanted, str) else []
        if authz and bound is not None:
            authz = [a for a in authz if a in bound]
            if not authz:
                return classad2.ClassAd({"ErrorString": "Session doesn't allow requested "
                                                        "authorization levels.", "ErrorCode": 4})
        elif not authz and bound is not None:
            authz = sorted(bound)
        lifetime = request.get("TokenLifetime")
        if isinstance(lifetime, int) and not isinstance(lifetime, bool):
            most = cfg.get_int("SEC_ISSUED_TOKEN_EXPIRATION", -1)
            if most > 0 and (lifetime > most or lifetime < 0):
                lifetime = most
        else:
            lifetime = -1
        support = self.core.security.token_support
        issuer_key = cfg.get("SEC_TOKEN_ISSUER_KEY") or "POOL"
        key_name = issuer_key if issuer_key in support.issuer_keys() else ""
        requested = request.get("RequestedKey")
        if isinstance(requested, str):
            allowed = (cfg.get("SEC_TOKEN_FETCH_ALLOWED_SIGNING_KEYS") or "POOL").replace(",", " ").split()
            if not any(fnmatch.fnmatchcase(requested, pat) for pat in allowed):
                return classad2.ClassAd({"ErrorString": "Server will not sign with requested key.",
                                         "ErrorCode": 3})
            key_name = requested
        if not req.authenticated or not req.user or req.user.startswith("unauthenticated@"):
            return classad2.ClassAd({"ErrorString": "Server did not successfully authenticate "
                                                    "session.", "ErrorCode": 2})
        raw = support.key(key_name) if key_name else None
        if raw is None:
            return classad2.ClassAd({"ErrorString": "Server does not have access to configured key.",
                                     "ErrorCode": 1})
        token = tokens.mint(raw, req.user, support.trust_domain, key_name,
                            lifetime if lifetime >= 0 else None, authz)
        return classad2.ClassAd({"Token": token})
