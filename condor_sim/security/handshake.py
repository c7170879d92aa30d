"""The server side of DaemonCore's command protocol: DC_AUTHENTICATE and raw commands.

A connection starts with ``[int command]``.  For DC_AUTHENTICATE (60010) the same message
carries the client's security ad, and the exchange is (security.md §5/§6)::

    C->S [60010][client ad]          S->C [policy ad]          (if the client's Enact is NO)
    -- authentication, if decided: method rounds, then exchangeKey [int 0] --
    -- both derive the ECDH key and switch to AES-GCM --
    S->C [session ad: User, Sid, ValidCommands, ReturnCode]    (new sessions only)
    ... the command's own messages ...

A client holding a cached session resumes instead: ``[60010][UseSession=YES, Sid, Nonce]``,
answered by ``[ReturnCode=AUTHORIZED, RemoteVersion, Nonce]`` in clear (when the client
asks for a resume response), then AES with the cached key.  Any other first integer is a
raw command whose payload follows in the same message.
"""
from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import CONDOR_VERSION
from .. import texts as T
from ..cedar import ProtocolError
from ..cedar.commands import Cmd, command_name
from ..cedar.classad_wire import MAX_HANDSHAKE_ATTRS, get_ad, put_ad
from ..connection import Channel, Request
from . import methods as M
from . import negotiation as N
from .negotiation import resumable
from .authz import Authorizer
from .perms import Perm, implies
from .policy import PolicyError, reconcile, server_policy
from .token_auth import ServerTokenSupport

SESSION_DURATION_SLOP = 20
MAX_SESSIONS = 10_000
# DaemonCore punches holes for the family session's identity (daemon_core.cpp)
FAMILY_USER = "condor@family"
FAMILY_LEVELS = frozenset().union(*(implies(p) for p in (
    Perm.ADMINISTRATOR, Perm.DAEMON, Perm.ADVERTISE_MASTER, Perm.ADVERTISE_SCHEDD,
    Perm.ADVERTISE_STARTD, Perm.NEGOTIATOR)))


def derive_session_key(private_key, peer_b64: str) -> bytes:
    """ECDH on P-256, then HKDF-SHA256(salt "htcondor", info "keygen") to 32 bytes."""
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), base64.b64decode(peer_b64))
    except (ValueError, TypeError) as e:
        raise ProtocolError(f"bad ECDHPublicKey: {e}") from None
    shared = private_key.exchange(ec.ECDH(), peer)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"htcondor", info=b"keygen").derive(shared)


def encode_public_key(private_key) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    raw = private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.b64encode(raw).decode()


@dataclass
class Session:
    sid: str
    key: bytes | None
    user: str
    authenticated: bool
    perm: Perm
    policy: dict
    expires: float
    lease: float | None
    lease_until: float | None = None
    valid_commands: list = field(default_factory=list)

    def alive(self, now: float) -> bool:
        return now < self.expires and (self.lease_until is None or now < self.lease_until)


class SecurityManager:
    """Per-daemon security state: config-derived policy, sessions, authorization.

    It needs no daemon: the config and log, the daemon's command table, a ``dispatch``
    coroutine that runs an authorized :class:`Request`, the prefix of its session ids
    (``host:pid``) and a callable giving its command ports (for FS channel binding).
    """

    def __init__(self, config, log, subsystem: str, commands, *, dispatch,
                 sid_prefix: str, command_ports=lambda: ()):
        self.config = config
        self.log = log
        self.subsystem = subsystem
        self.commands = commands
        self.dispatch = dispatch
        self.sid_prefix = sid_prefix
        self.command_ports = command_ports
        self.sessions: dict[str, Session] = {}
        self._purge_mark = 64
        self._counter = 0
        self.reconfigure()

    # ------------------------------------------------------------------ config
    def reconfigure(self) -> None:
        get = self.config.get
        self.authz = Authorizer(get, self.subsystem)
        self.uid_domain = get("UID_DOMAIN") or ""
        self.trust_domain = get("TRUST_DOMAIN") or self.uid_domain
        self.condor_user = M.condor_username(get("CONDOR_IDS"))
        self._policies: dict = {}
        self.token_support = ServerTokenSupport(self.config, self.log)

    def new_family_session(self) -> tuple[str, bytes]:
        """The session a master shares with the daemons it starts (HTCondor's "family"
        session, handed down in CONDOR_PRIVATE_INHERIT): a DAEMON-level identity whose
        key the children hold, so they resume it instead of authenticating.  Like any
        resumed session it runs a handler only after a message under its key."""
        self._counter += 1
        sid = f"family:{self.sid_prefix}:{int(time.time())}:{self._counter}"
        key = os.urandom(32)
        self.sessions[sid] = Session(sid, key, FAMILY_USER, True, Perm.DAEMON,
                                     {"AuthMethods": "FAMILY"}, float("inf"), None)
        return sid, key

    def policy_for(self, cmd) :
        have_keys = bool(self.token_support.issuer_keys())
        key = (cmd.perm, cmd.force_auth, have_keys)
        if key not in self._policies:
            self._policies[key] = server_policy(self.config.get, cmd.perm, self.subsystem,
                                                force_auth=cmd.force_auth, have_token_keys=have_keys)
        return self._policies[key]

    def _log(self, msg: str, cat: str = "D_SECURITY") -> None:
        self.log.log(msg, cat)

    # ------------------------------------------------------------------ entry
    async def serve(self, chan: Channel) -> None:
        first = await chan.read_message()
        cmd_num = first.get_int()
        if cmd_num == Cmd.DC_AUTHENTICATE:
            await self._dc_authenticate(chan, first)
        else:
            await self._raw_command(chan, cmd_num, first)

    def _deny_log(self, user: str, ip: str, cmd, reason: str) -> None:
        self.log.log(T.PERMISSION_DENIED.format(user=user, ip=ip, num=cmd.num, name=cmd.name,
                                                perm=cmd.perm.name, reason=reason))

    def authorize(self, cmd, user: str, ip: str, limit: set | None) -> bool:
        """DaemonCore::Verify, with the session's authorization limits and alternate levels."""
        if limit is not None:
            allowed = set()
            for p in limit:
                allowed |= implies(p)
            if cmd.perm not in allowed and Perm.ALLOW not in (cmd.perm, *cmd.alt_perms) \
                    and not allowed.intersection(cmd.alt_perms):
                self.log.log(T.LIMITED_AUTHORIZATION.format(ip=ip, num=cmd.num, name=cmd.name))
                return False
        if user == FAMILY_USER and cmd.perm in FAMILY_LEVELS:
            return True
        ok, reason = self.authz.verify(cmd.perm, user, ip)
        if not ok:
            for alt in cmd.alt_perms:
                if self.authz.verify(alt, user, ip)[0]:
                    return True
            self._deny_log(user, ip, cmd, reason)
        return ok

    def _log_unregistered(self, num, chan: Channel) -> None:
        """A command number we do not serve; one HTCondor has is named, so that a reader
        knows it is a gap of the simulation, not a bad client."""
        name = command_name(num) if isinstance(num, int) else str(num)
        if name != str(num):
            self.log.log(T.UNIMPLEMENTED.format(name=name, num=num, peer=chan.peer_description))
        else:
            self.log.log(T.UNREGISTERED.format(num=num, peer=chan.peer_description))

    # ------------------------------------------------------------------ raw commands
    async def _raw_command(self, chan: Channel, cmd_num: int, first) -> None:
        cmd = self.commands.get(cmd_num)
        if cmd is None:
            name = command_name(cmd_num)
            self.log.log(T.UNKNOWN_RAW_COMMAND.format(num=cmd_num, peer=chan.peer_description)
                         if name == str(cmd_num) else
                         T.UNIMPLEMENTED_RAW.format(name=name, num=cmd_num, peer=chan.peer_description))
            return
        self._log(T.UNAUTHENTICATED_COMMAND.format(num=cmd_num, name=cmd.name))
        user = M.UNAUTHENTICATED
        if cmd.perm != Perm.ALLOW:
            try:
                pol = self.policy_for(cmd)
            except PolicyError as e:
                self.log.log(T.POLICY_INVALID.format(error=e))
                return
            if pol.negotiation == "REQUIRED" or pol.authentication_new == "REQUIRED":
                self.log.log(T.RAW_PERMISSION_DENIED.format(num=cmd_num, name=cmd.name,
                                                            peer=chan.peer_description, perm=cmd.perm.name))
                return
        if cmd.force_auth:
            self.log.log(T.NOT_MAPPED.format(peer=chan.peer_description, num=cmd_num, name=cmd.name))
            return
        if not self.authorize(cmd, user, chan.peer_ip, None):
            return
        req = Request(chan, cmd, cmd_num, user, False, {},
                      pending=first if not first.at_end() else None)
        await self.dispatch(req)

    # ------------------------------------------------------------------ DC_AUTHENTICATE
    async def _dc_authenticate(self, chan: Channel, first) -> None:
        try:
            cad = get_ad(first, MAX_HANDSHAKE_ATTRS, literals_only=True)
        except ProtocolError as e:
            self.log.log(str(e))
            self.log.log(T.AUTH_INFO_UNREADABLE.format(peer=chan.peer_description), "D_ERROR")
            return
        info = {k: v for k, v in cad.items()}
        if not first.at_end():
            raise ProtocolError(f"{first.remaining} unread bytes after the security ad")
        if str(info.get("UseSession", "")).upper().startswith("Y"):
            await self._resume(chan, info)
        else:
            await self._new_session(chan, info)

    def _target(self, info: dict):
        real = info.get("Command")
        if not isinstance(real, int) or isinstance(real, bool):
            raise ProtocolError("security ad without a Command")
        target = real
        if real in (Cmd.DC_AUTHENTICATE, Cmd.DC_SEC_QUERY):
            target = info.get("AuthCommand")
            if not isinstance(target, int) or isinstance(target, bool):
                raise ProtocolError("security ad without an AuthCommand")
        return real, self.commands.get(target), target

    async def _resume(self, chan: Channel, info: dict) -> None:
        """Resume a cached session (security.md §6.3).

        Session ids follow the real format, so anyone who can read /proc can guess one, and
        the clear AUTHORIZED / SID_NOT_FOUND reply tells a guesser when a guess is right.
        Nothing may depend on their secrecy: a resumed session runs a handler only after
        the client's first message under the session key has arrived and its AES-GCM tag
        has verified.  A command that sends nothing after the resume request (the real
        client's empty end-of-message puts no bytes on the wire) can never prove the key,
        so such commands are never offered for reuse in ``ValidCommands`` and a resume
        request for one is refused.  A keyless session (no AES was agreed) proves nothing,
        so it is resumed only for commands that run nothing.
        """
        sid = info.get("Sid")
        real, cmd, target = self._target(info)
        session = self._resumable_session(chan, sid, real, cmd, target)
        want_reply = info.get("ResumeResponse") is True
        if session is None:
            self._log(T.SESSION_NOT_FOUND.format(sid=sid))
            if want_reply:
                await chan.send(put_ad(chan.new_message(), {"ReturnCode": "SID_NOT_FOUND"}))
            return
        if want_reply:
            nonce = base64.b64encode(os.urandom(33)).decode()
            await chan.send(put_ad(chan.new_message(), {"ReturnCode": "AUTHORIZED",
                                                        "RemoteVersion": CONDOR_VERSION,
                                                        "Nonce": nonce}))
        if session.key is not None:
            chan.enable_crypto(session.key)
        self._log(T.RESUMING.format(sid=sid))
        if real == Cmd.DC_SEC_QUERY:      # answered under the key; the answer runs nothing
            await self._execute(chan, real, cmd, target, session.user, session.authenticated,
                                session.policy)
            return
        if cmd is None or real == Cmd.DC_AUTHENTICATE:
            self._log_unregistered(target, chan)
            return
        proof = None
        if not cmd.no_effect:
            proof = await self._key_proof(chan, sid)
            if proof is None:
                return
        if session.lease is not None:
            session.lease_until = time.time() + session.lease
        if not self.authorize(cmd, session.user, chan.peer_ip, session.policy.get("_limit")):
            return
        await self._execute(chan, real, cmd, target, session.user, session.authenticated,
                            session.policy, pending=proof)

    def _resumable_session(self, chan: Channel, sid, real: int, cmd, target: int) -> Session | None:
        """The live session ``sid`` if it may be resumed for this command, else None."""
        session = self.sessions.get(sid) if isinstance(sid, str) else None
        if session is not None and not session.alive(time.time()):
            del self.sessions[sid]
            return None
        if session is not None and real not in (Cmd.DC_SEC_QUERY, Cmd.DC_AUTHENTICATE) \
                and cmd is not None and not resumable(cmd, session.key is not None):
            self.log.log(T.NOT_RESUMABLE.format(sid=sid, num=target, name=cmd.name,
                                                peer=chan.peer_description), "D_ERROR")
            return None
        return session

    async def _key_proof(self, chan: Channel, sid: str):
        """The client's first message, read and verified under the session key; None
        (logged, the connection to be closed) when it does not verify."""
        try:
            return await chan.read_message()
        except ProtocolError as e:
            self.log.log(T.UNWRAP_FAILED.format(error=e))
            self.log.log(T.NO_KEY_PROOF.format(sid=sid, peer=chan.peer_description), "D_ERROR")
            return None

    async def _new_session(self, chan: Channel, info: dict) -> None:
        """A new session (security.md §5): policy answer, authentication, key, session ad,
        authorization, then the command.  The decisions are :mod:`.negotiation`'s."""
        real, cmd, target = self._target(info)
        if cmd is None:
            # The real daemon reads the ad, sends nothing and closes; the client reports
            # "Connection closed during command authorization. Probably due to an unknown command."
            self._log_unregistered(target, chan)
            return
        decision = self._decide(chan, info, cmd)
        if decision is None:
            return
        new_session = str(info.get("NewSession", "")).upper().startswith("Y")
        peer_ec = info.get("ECDHPublicKey") if isinstance(info.get("ECDHPublicKey"), str) else ""
        method, ecdh, refusal = N.crypto_plan(decision, new_session, bool(peer_ec))
        if refusal:
            self.log.log("DC_AUTHENTICATE: " + refusal.format(peer=chan.peer_description))
            return
        reply = N.policy_reply(decision, trust_domain=self.trust_domain,
                               issuer_keys=self.token_support.issuer_keys())
        private_key = ec.generate_private_key(ec.SECP256R1()) if ecdh else None
        if method:
            reply["CryptoMethods"] = method
        if private_key is not None:
            reply["ECDHPublicKey"] = encode_public_key(private_key)
        if str(info.get("Enact", "")).upper().startswith("N"):
            await chan.send(put_ad(chan.new_message(), reply))
        identity = await self._authenticate_if_decided(chan, decision, cmd)
        if identity is False:
            return
        if cmd.force_auth and (identity is None or not identity.mapped):
            self.log.log(T.NOT_MAPPED.format(peer=chan.peer_description, num=target, name=cmd.name))
            return
        self._counter += 1
        sid = f"{self.sid_prefix}:{int(time.time())}:{self._counter}"
        key = None
        if private_key is not None:
            key = derive_session_key(private_key, peer_ec)
            self._log(T.GENERATING_KEY.format(method=method, sid=sid))
            if method == "AES":
                chan.enable_crypto(key)
            else:
                key = None      # a legacy key is only for secrets, which we never send
        user, policy, limit = N.identity_policy(identity, cmd)
        authorized = self.authorize(cmd, user, chan.peer_ip, limit)
        valid = N.offered_commands(self.commands, cmd, target,
                                   identity is not None and identity.mapped, key is not None)
        if new_session:
            await chan.send(put_ad(chan.new_message(),
                                   N.session_ad(user, decision.authentication, sid, valid, authorized)))
        if not authorized:
            self.log.log(T.NOT_AUTHORIZED)
            return
        if new_session:
            self._remember(Session(sid, key, user, identity is not None, cmd.perm, policy,
                                   0.0, None, None, valid), decision)
        await self._execute(chan, real, cmd, target, user, identity is not None, policy)

    def _decide(self, chan: Channel, info: dict, cmd):
        """Our policy for the command, reconciled with the client's; None (logged) when
        there is no agreement."""
        try:
            ours = self.policy_for(cmd)
        except PolicyError as e:
            self.log.log(T.POLICY_INVALID.format(error=e))
            return None
        decision = reconcile(info, ours)
        if decision is None:
            self.log.log(T.UNRECONCILED.format(peer=chan.peer_description))
        return decision

    async def _authenticate_if_decided(self, chan: Channel, decision, cmd):
        """The identity, None when not authenticated (and that is allowed), or False when
        required authentication failed (the connection is done)."""
        if not decision.authentication:
            return None
        identity = await self._authenticate(chan, decision.auth_methods, cmd)
        if identity is not None:
            self._log(T.AUTHENTICATED.format(ip=chan.peer_ip))
            await chan.send(chan.new_message().put_int(0))    # exchangeKey: no key to send
            return identity
        if decision.auth_required:
            self.log.log(T.AUTH_REQUIRED_FAILED.format(ip=chan.peer_ip))
            return False
        self._log(T.AUTH_OPTIONAL_FAILED.format(ip=chan.peer_ip))
        return None

    def _remember(self, session: Session, decision) -> None:
        """Cache a new session: expiry = duration + slop, lease renewed on each resume."""
        now = time.time()
        lease = decision.session_lease + SESSION_DURATION_SLOP if decision.session_lease else None
        session.expires = now + decision.session_duration + SESSION_DURATION_SLOP
        session.lease, session.lease_until = lease, (now + lease if lease else None)
        self.sessions[session.sid] = session
        self._purge(now)

    def _purge(self, now: float) -> None:
        """Forget expired sessions, scanning only when the table has doubled since the last
        scan; past MAX_SESSIONS, the oldest go too (a peer that opens sessions without end
        cannot grow the table without end)."""
        if len(self.sessions) <= self._purge_mark:
            return
        for sid in [s for s, v in self.sessions.items() if not v.alive(now)]:
            del self.sessions[sid]
        excess = len(self.sessions) - MAX_SESSIONS
        if excess > 0:                      # trim to 90%, so the next scans are not at once
            excess += MAX_SESSIONS // 10
            for sid in [s for s in self.sessions if not s.startswith("family:")][:excess]:
                del self.sessions[sid]
        self._purge_mark = max(64, min(2 * len(self.sessions), MAX_SESSIONS))

    async def _authenticate(self, chan: Channel, methods: list[str], cmd) -> M.Identity | None:
        """Method rounds: client mask -> our choice -> the method; repeat until done or 0."""
        ctx = M.AuthContext(
            uid_domain=self.uid_domain, sock_ip=chan.sock_ip, sock_port=chan.sock_port,
            command_ports=tuple(self.command_ports()),
            fs_local_dir=self.config.get("FS_LOCAL_DIR") or "/tmp",
            fs_root_to_condor=self.config.get_bool("FS_ROOT_TO_CONDOR", True),
            claimtobe_include_domain=self.config.get_bool("SEC_CLAIMTOBE_INCLUDE_DOMAIN", True),
            condor_user=self.condor_user,
            log=lambda m: self._log(m),
        )
        server_methods = dict(M.SERVER_METHODS)
        server_methods["TOKEN"] = self.token_support.authenticate
        while True:
            mask = (await chan.read_message()).get_int()
            chosen = next((m for m in methods if M.METHOD_BITS.get(m, 0) & mask and m in server_methods), None)
            await chan.send(chan.new_message().put_int(M.METHOD_BITS[chosen] if chosen else 0))
            if chosen is None:
                self._log(T.NO_METHOD.format(mask=mask))
                return None
            identity = await server_methods[chosen](chan, ctx)
            if identity is not None:
                return identity
            self._log(T.METHOD_FAILED.format(method=chosen, ip=chan.peer_ip))

    async def _execute(self, chan: Channel, real: int, cmd, target: int, user: str,
                       authenticated: bool, policy: dict, pending=None) -> None:
        if real == Cmd.DC_SEC_QUERY:
            reply = {"AuthorizationSucceeded": True}
            reply.update({k: v for k, v in policy.items() if k.startswith("AuthToken")})
            await chan.send(put_ad(chan.new_message(), reply))
            return
        if real == Cmd.DC_AUTHENTICATE:
            return
        req = Request(chan, cmd, target, user, authenticated, policy, pending=pending)
        await self.dispatch(req)
