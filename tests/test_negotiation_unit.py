"""The decisions of a new session, without a socket (security/negotiation.py), and the
bound on the session table."""
from __future__ import annotations

import pytest

from condor_sim.cedar.commands import Cmd
from condor_sim.command_table import CommandTable
from condor_sim.config import ConfigSnapshot
from condor_sim.security import negotiation as N
from condor_sim.security.handshake import MAX_SESSIONS, SecurityManager, Session
from condor_sim.security.methods import Identity
from condor_sim.security.perms import Perm
from condor_sim.security.policy import Decision
from support.memory import MemoryLog


def decision(**kw) -> Decision:
    base = dict(authentication=True, auth_required=True, encryption=True, integrity=True,
                auth_methods=["FS", "TOKEN"], crypto_methods=["AES"], session_duration=60,
                session_lease=3600)
    return Decision(**{**base, **kw})


@pytest.mark.parametrize("kw,new,ecdh,want", [
    ({}, True, True, ("AES", True, None)),
    ({"crypto_methods": []}, True, True, (None, False, "but we have none!")),
    ({"crypto_methods": ["3DES"]}, True, True, ("3DES", True, "unable to turn on encryption")),
    ({"crypto_methods": ["3DES"], "encryption": False, "integrity": False}, True, True, ("3DES", True, None)),
    ({"encryption": False, "integrity": False, "authentication": False}, True, False, (None, False, None)),
    ({}, False, True, (None, False, "unable to turn on encryption")),
])
def test_crypto_plan(kw, new, ecdh, want):
    method, do_ecdh, refusal = N.crypto_plan(decision(**kw), new, ecdh)
    assert (method, do_ecdh) == want[:2]
    assert (refusal is None) == (want[2] is None) and (want[2] is None or want[2] in refusal)


def test_policy_reply_is_literals_only_and_names_the_methods():
    reply = N.policy_reply(decision(auth_required=False), trust_domain="vm", issuer_keys=["POOL", "X"])
    assert reply["AuthMethodsList"] == "FS,TOKEN" and reply["AuthMethods"] == "FS"
    assert reply["AuthRequired"] is False and reply["IssuerKeys"] == "POOL, X"
    assert all(isinstance(v, (str, int, bool)) for v in reply.values())


class _Cmd:
    def __init__(self, num, perm, has_payload=True, no_effect=False):
        self.num, self.perm, self.has_payload, self.no_effect = num, perm, has_payload, no_effect
        self.resumable = has_payload or no_effect


def test_claimtobe_is_limited_to_the_command_level():
    user, policy, limit = N.identity_policy(Identity("me", "vm", "CLAIMTOBE"), _Cmd(60021, Perm.WRITE))
    assert (user, limit, policy["_limit"]) == ("me@vm", {Perm.WRITE}, {Perm.WRITE})
    assert N.identity_policy(None, _Cmd(60021, Perm.WRITE))[0] == "unauthenticated@unmapped"


def test_offered_commands_leave_out_what_cannot_prove_a_key():
    async def h(req):
        pass
    t = CommandTable()
    t.add(Cmd.DC_NOP_ADMINISTRATOR, Perm.ADMINISTRATOR, h, has_payload=False, no_effect=True)
    t.add(Cmd.DC_OFF_FAST, Perm.ADMINISTRATOR, h, has_payload=False)
    t.add(Cmd.DAEMON_OFF, Perm.ADMINISTRATOR, h)
    off_fast = t.get(Cmd.DC_OFF_FAST)
    keyed = N.offered_commands(t, off_fast, Cmd.DC_OFF_FAST, True, True)
    assert Cmd.DC_OFF_FAST not in keyed and {Cmd.DAEMON_OFF, Cmd.DC_NOP_ADMINISTRATOR} <= set(keyed)
    assert N.offered_commands(t, off_fast, Cmd.DC_OFF_FAST, True, False) == [Cmd.DC_NOP_ADMINISTRATOR]
    empty = CommandTable()
    assert N.offered_commands(empty, off_fast, Cmd.DC_OFF_FAST, True, False) == [Cmd.DC_NOP]


def test_session_ad():
    ad = N.session_ad("me@vm", True, "h:1:2:3", [60021, 6], False)
    assert ad == {"User": "me@vm", "TriedAuthentication": True, "Sid": "h:1:2:3",
                  "ValidCommands": "60021,6", "ReturnCode": "DENIED"}


def test_the_session_table_is_bounded():
    sm = SecurityManager(ConfigSnapshot("SCHEDD", {}), MemoryLog(), "SCHEDD", CommandTable(),
                         dispatch=None, sid_prefix="h:1")
    family, _ = sm.new_family_session()
    for i in range(MAX_SESSIONS + 50):
        sm._remember(Session(f"h:1:0:{i}", b"k" * 32, "u", True, Perm.READ, {}, 0.0, None),
                     decision())
    assert len(sm.sessions) <= MAX_SESSIONS + 1
    assert family in sm.sessions and "h:1:0:0" not in sm.sessions
