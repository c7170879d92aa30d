"""Unit tests for condor_sim.security.perms and condor_sim.security.authz (no daemons)."""

import socket

import pytest

from condor_sim.security.authz import (
    UNAUTHENTICATED, Authorizer, parse_network, permission_log_line, split_entry, wildcard_match,
)
from condor_sim.security.perms import Perm, config_chain, implied_by, implies, limit_closure

HOSTS = {
    "localhost": ["127.0.0.1", "::1"],
    "submit.example.org": ["10.0.0.5"],
    "submit": ["10.0.0.5"],
}
LOCAL = "127.0.0.1"
REMOTE = "10.0.0.5"
ALICE = "alice@example.org"
BOB = "bob@example.org"


def make_get(cfg, subsys):
    """A dict-backed param(): SUBSYS.NAME wins over NAME, names case-insensitive."""
    low = {k.lower(): v for k, v in cfg.items()}

    def get(name):
        for key in (f"{subsys}.{name}", name):
            if key.lower() in low:
                return low[key.lower()]
        return None
    return get


def authz(cfg, subsys="SCHEDD", **kw):
    return Authorizer(make_get(cfg, subsys), subsys, hosts=HOSTS, **kw)


def ok(a, perm, user, ip=LOCAL, limit=None):
    return a.verify(perm, user, ip, limit)[0]


NO_MATCH_LOCAL = ("{} authorization policy contains no matching ALLOW entry for this request; "
                  "identifiers used for this host: 127.0.0.1,localhost, hostname size = 1, "
                  "original ip address = 127.0.0.1")

# htcondor2.personal-style: every ALLOW_* is the owner ($(self) expanded).
SELF = f"{ALICE} alice@10.0.0.5 alice@submit.example.org alice@submit"
PERSONAL = {
    "ALLOW_READ": SELF, "ALLOW_WRITE": SELF, "ALLOW_DAEMON": SELF,
    "ALLOW_ADMINISTRATOR": SELF, "ALLOW_ADVERTISE": SELF, "ALLOW_NEGOTIATOR": SELF,
    "ALLOW_READ_COLLECTOR": SELF, "ALLOW_WRITE_COLLECTOR": SELF, "ALLOW_NEGOTIATOR_SCHEDD": SELF,
}
# use security:recommended (v24.0)
RECOMMENDED = {
    "ALLOW_READ": "*", "ALLOW_WRITE": "*",
    "ALLOW_ADMINISTRATOR": "condor@* condor@password root@*",
    "ALLOW_DAEMON": "condor@* condor@password",
    "ALLOW_NEGOTIATOR": "condor@* condor@password",
}


# ------------------------------------------------------------------ perms.py

def test_perm_numbers_and_parse():
    assert [(p.name, int(p)) for p in Perm] == [
        ("ALLOW", 0), ("READ", 1), ("WRITE", 2), ("NEGOTIATOR", 3), ("ADMINISTRATOR", 4),
        ("CONFIG", 5), ("DAEMON", 6), ("SOAP", 7), ("DEFAULT", 8), ("CLIENT", 9),
        ("ADVERTISE_STARTD", 10), ("ADVERTISE_SCHEDD", 11), ("ADVERTISE_MASTER", 12)]
    assert Perm.parse("read") is Perm.READ
    assert Perm.parse(" Advertise_Startd ") is Perm.ADVERTISE_STARTD
    assert Perm.parse("OWNER") is Perm.ADMINISTRATOR
    assert Perm.parse(6) is Perm.DAEMON
    assert str(Perm.WRITE) == "WRITE"
    with pytest.raises(ValueError):
        Perm.parse("SUPERUSER")


def test_implication():
    assert implied_by(Perm.READ) == (Perm.WRITE, Perm.NEGOTIATOR, Perm.CONFIG, Perm.ADVERTISE_STARTD,
                                     Perm.ADVERTISE_SCHEDD, Perm.ADVERTISE_MASTER)
    assert implied_by(Perm.WRITE) == (Perm.ADMINISTRATOR, Perm.DAEMON)
    assert implied_by(Perm.ADMINISTRATOR) == ()
    assert implies(Perm.ADMINISTRATOR) == {Perm.ADMINISTRATOR, Perm.WRITE, Perm.READ}
    assert implies(Perm.DAEMON) == {Perm.DAEMON, Perm.WRITE, Perm.READ}
    assert implies(Perm.ADVERTISE_MASTER) == {Perm.ADVERTISE_MASTER, Perm.READ}
    assert implies(Perm.CLIENT) == {Perm.CLIENT}
    assert limit_closure(["DAEMON", "bogus", Perm.CONFIG]) == {Perm.DAEMON, Perm.WRITE, Perm.READ,
                                                                 Perm.CONFIG}


def test_config_chain():
    assert config_chain(Perm.READ, False) == (Perm.READ, Perm.DEFAULT)
    assert config_chain(Perm.DEFAULT, False) == (Perm.DEFAULT,)
    assert config_chain(Perm.DAEMON, False) == (Perm.DAEMON, Perm.DEFAULT)
    assert config_chain(Perm.DAEMON, True) == (Perm.DAEMON, Perm.WRITE, Perm.DEFAULT)
    assert config_chain(Perm.ADVERTISE_SCHEDD, False) == (Perm.ADVERTISE_SCHEDD, Perm.DAEMON,
                                                           Perm.DEFAULT)
    assert config_chain(Perm.ADVERTISE_SCHEDD, True) == (Perm.ADVERTISE_SCHEDD, Perm.DAEMON,
                                                          Perm.WRITE, Perm.DEFAULT)
    assert config_chain(Perm.ADMINISTRATOR, True) == (Perm.ADMINISTRATOR, Perm.DEFAULT)


# ------------------------------------------------------------------ entry syntax / matching

@pytest.mark.parametrize("pattern, s, expected", [
    ("alice@example.org", "ALICE@Example.ORG", True),
    ("alice@example.org", "alice@example.org.evil", False),
    ("*", "anything", True),
    ("alice@*", "alice@x.y", True),
    ("alice@*", "malice@x.y", False),
    ("*@example.org", "bob@example.org", True),
    ("*@example.org", "bob@example.org.uk", False),
    ("al*@example.org", "alfred@example.org", True),
    ("a*e@example.org", "alice@example.org", True),      # middle star: prefix + suffix
    ("a*x@example.org", "alice@example.org", False),
    ("a*e@example.org*", "ae@example.org.uk", True),     # plus trailing star: substring after prefix
    ("a*@example.org", "ab@example.org", True),
    ("*.example.org", "submit.EXAMPLE.org", True),
    ("*example*", "my.example.com", True),              # leading + trailing: substring
    ("sub*", "su", False),
])
def test_wildcard_match(pattern, s, expected):
    assert wildcard_match(pattern, s) is expected


@pytest.mark.parametrize("entry, user, host", [
    ("alice@example.org/submit.example.org", "alice@example.org", "submit.example.org"),
    ("alice/127.0.0.1", "alice", "127.0.0.1"),
    ("alice@example.org", "alice@example.org", "*"),
    ("submit.example.org", "*", "submit.example.org"),
    ("10.0.0.0/8", "*", "10.0.0.0/8"),
    ("10.0.0.0/255.0.0.0", "*", "10.0.0.0/255.0.0.0"),
    ("*/127.0.0.1", "*", "127.0.0.1"),
    ("*/*", "*", "*"),
    ("alice@example.org/10.0.0.0/8", "alice@example.org", "10.0.0.0/8"),
    ("*", "*", "*"),
])
def test_split_entry(entry, user, host):
    assert split_entry(entry) == (user, host)


@pytest.mark.parametrize("text, ip, expected", [
    ("127.0.0.1", "127.0.0.1", True),
    ("10.0.0.0/8", "10.200.3.4", True),
    ("10.0.0.0/8", "11.0.0.1", False),
    ("10.0.0.0/255.255.0.0", "10.0.9.9", True),
    ("10.0.0.0/255.255.0.0", "10.1.9.9", False),
    ("10.0.*", "10.0.77.1", True),
    ("10.0.*", "10.1.0.1", False),
    ("::1", "::1", True),
    ("fd00::/8", "fd12::1", True),
    ("fd00::/8", "127.0.0.1", False),
])
def test_parse_network(text, ip, expected):
    import ipaddress
    net = parse_network(text)
    assert net is not None and (ipaddress.ip_address(ip) in net) is expected


def test_parse_network_rejects_names_and_bad_masks():
    assert parse_network("*") == "*"
    assert parse_network("localhost") is None
    assert parse_network("*.example.org") is None
    assert parse_network("10.0.0.0/255.0.255.0") is None


# ------------------------------------------------------------------ postures

def test_personal_pool_posture():
    a = authz(PERSONAL)
    for perm in ("READ", "WRITE", "NEGOTIATOR", "ADMINISTRATOR", "DAEMON", "ADVERTISE_STARTD",
                 "ADVERTISE_SCHEDD", "ADVERTISE_MASTER"):
        assert ok(a, perm, ALICE), perm
        assert not ok(a, perm, BOB), perm
        assert not ok(a, perm, UNAUTHENTICATED), perm
    # ALLOW_ADVERTISE is not a level: ADVERTISE_* come from ALLOW_DAEMON.
    assert a.levels[Perm.ADVERTISE_MASTER].allow_param == "ALLOW_DAEMON"
    # "alice@10.0.0.5" is a *user* (has @, no /): it does not admit alice's FS name from 10.0.0.5.
    assert not ok(a, "WRITE", "carol@example.org", REMOTE)
    # CONFIG has no ALLOW_CONFIG: closed to everyone, owner included.
    assert a.verify("CONFIG", ALICE, LOCAL) == (False, "CONFIG authorization policy denies all access")
    # An unauthenticated READ walks the whole implication tree and fails (fresh cache).
    a = authz(PERSONAL)
    assert a.verify("READ", UNAUTHENTICATED, LOCAL) == (False, NO_MATCH_LOCAL.format("READ"))
    assert a.verify("WRITE", ALICE, LOCAL) == (
        True, "WRITE authorization policy allows IP address 127.0.0.1; "
              "identifiers used for this remote host: 127.0.0.1,localhost")
    assert ok(a, "ALLOW", UNAUTHENTICATED)


def test_recommended_posture():
    a = authz(RECOMMENDED)
    assert a.verify("READ", UNAUTHENTICATED, LOCAL) == (
        True, "READ authorization policy allows access by anyone")
    assert ok(a, "WRITE", UNAUTHENTICATED, REMOTE)
    assert a.verify("ADMINISTRATOR", UNAUTHENTICATED, LOCAL) == (
        False, NO_MATCH_LOCAL.format("ADMINISTRATOR"))
    assert not ok(a, "ADMINISTRATOR", ALICE)
    assert ok(a, "ADMINISTRATOR", "condor@example.org")
    assert ok(a, "ADMINISTRATOR", "root@example.org")
    assert ok(a, "ADMINISTRATOR", "condor@password")
    assert ok(a, "DAEMON", "condor@example.org")
    assert not ok(a, "DAEMON", "root@example.org")
    assert ok(a, "ADVERTISE_STARTD", "condor@example.org")      # via ALLOW_DAEMON
    assert not ok(a, "CONFIG", "condor@example.org")            # ALLOW_CONFIG unset
    assert not ok(a, "SOAP", "condor@example.org")


def test_condor_pool_mirroring():
    a = authz(RECOMMENDED)
    assert ok(a, "DAEMON", "condor_pool@example.org")           # mirrored from condor@*
    assert ok(a, "DAEMON", "CONDOR_POOL@password")
    b = authz({"ALLOW_DAEMON": "condor_pool@*"})
    assert ok(b, "DAEMON", "condor@example.org")                # and the other way round
    c = authz({**RECOMMENDED, "USE_POOL_USERNAME_EQUIVALENT": "false"})
    assert not ok(c, "DAEMON", "condor_pool@example.org")
    assert ok(c, "DAEMON", "condor@example.org")


def test_no_configuration_at_all():
    a = authz({})
    assert a.verify("READ", ALICE, LOCAL) == (False, NO_MATCH_LOCAL.format("READ"))
    assert a.verify("WRITE", ALICE, LOCAL)[0] is False
    assert a.verify("DAEMON", ALICE, LOCAL) == (False, "DAEMON authorization policy denies all access")
    assert ok(a, "ALLOW", ALICE)


# ------------------------------------------------------------------ implication

def test_administrator_implies_write_implies_read():
    a = authz({"ALLOW_ADMINISTRATOR": "alice@*"})
    assert a.verify("READ", ALICE, LOCAL) == (
        True, "READ is implied by WRITE; WRITE is implied by ADMINISTRATOR; ADMINISTRATOR "
              "authorization policy allows IP address 127.0.0.1; identifiers used for this "
              "remote host: 127.0.0.1,localhost")
    assert ok(a, "WRITE", ALICE)
    assert not ok(a, "READ", BOB)
    assert not ok(a, "NEGOTIATOR", ALICE)


def test_daemon_implies_write_not_administrator():
    a = authz({"ALLOW_DAEMON": "condor@*", "ALLOW_READ": "nobody@nowhere"})
    assert ok(a, "WRITE", "condor@h")
    assert ok(a, "READ", "condor@h")            # explicit ALLOW_READ does not stop implication
    assert not ok(a, "ADMINISTRATOR", "condor@h")


def test_negotiator_and_advertise_imply_read_only():
    a = authz({"ALLOW_NEGOTIATOR": "neg@*", "ALLOW_ADVERTISE_MASTER": "m@*"})
    assert ok(a, "READ", "neg@h") and not ok(a, "WRITE", "neg@h")
    assert ok(a, "READ", "m@h") and not ok(a, "WRITE", "m@h")


# ------------------------------------------------------------------ DENY

def test_deny_beats_allow():
    a = authz({"ALLOW_WRITE": "alice@* bob@*", "DENY_WRITE": "bob@*"})
    assert ok(a, "WRITE", ALICE)
    assert a.verify("WRITE", BOB, LOCAL) == (False, "WRITE authorization policy denies IP address 127.0.0.1")


def test_deny_beats_implication():
    a = authz({"ALLOW_ADMINISTRATOR": "alice@*", "DENY_READ": "alice@*"})
    assert ok(a, "WRITE", ALICE)
    assert not ok(a, "READ", ALICE)


def test_allow_star_with_deny_list():
    a = authz({"ALLOW_WRITE": "*", "DENY_WRITE": "bob@*"})
    assert not ok(a, "WRITE", BOB)
    assert a.verify("WRITE", ALICE, LOCAL) == (
        True, "WRITE authorization policy does not deny, so allowing; "
              "identifiers used for this remote host: 127.0.0.1,localhost")


def test_deny_everyone():
    a = authz({"ALLOW_WRITE": "*", "DENY_WRITE": "*/*"})
    assert a.verify("WRITE", ALICE, LOCAL) == (False, "WRITE authorization policy denies all access")


def test_deny_by_hostname():
    a = authz({"ALLOW_READ": "*", "DENY_READ": "*.example.org"})
    assert a.verify("READ", ALICE, REMOTE) == (
        False, "READ authorization policy denies hostname submit.example.org")
    assert ok(a, "READ", ALICE, LOCAL)


# ------------------------------------------------------------------ host parts

def test_any_user_from_loopback():
    a = authz({"ALLOW_ADMINISTRATOR": "*/127.0.0.1"})
    assert ok(a, "ADMINISTRATOR", UNAUTHENTICATED, LOCAL)
    assert ok(a, "ADMINISTRATOR", None, LOCAL)
    assert not ok(a, "ADMINISTRATOR", ALICE, REMOTE)


def test_cidr_and_netmask_and_ip_wildcard():
    for entry in ("10.0.0.0/8", "10.0.0.0/255.0.0.0", "10.0.*", "*/10.0.0.0/16",
                  "alice@example.org/10.0.0.0/8"):
        a = authz({"ALLOW_ADMINISTRATOR": entry})
        assert ok(a, "ADMINISTRATOR", ALICE, REMOTE), entry
        assert not ok(a, "ADMINISTRATOR", ALICE, LOCAL), entry


def test_hostname_entries():
    a = authz({"ALLOW_ADMINISTRATOR": "localhost"})          # expanded to its IPs
    assert a.verify("ADMINISTRATOR", ALICE, LOCAL)[1].startswith(
        "ADMINISTRATOR authorization policy allows IP address 127.0.0.1")
    assert ok(a, "ADMINISTRATOR", ALICE, "::1")
    assert ok(a, "ADMINISTRATOR", ALICE, "::ffff:127.0.0.1")  # IPv4-mapped peer
    assert not ok(a, "ADMINISTRATOR", ALICE, REMOTE)
    b = authz({"ALLOW_ADMINISTRATOR": "alice@example.org/*.EXAMPLE.org"})
    assert b.verify("ADMINISTRATOR", ALICE, REMOTE) == (
        True, "ADMINISTRATOR authorization policy allows hostname submit.example.org; "
              "identifiers used for this remote host: 10.0.0.5,submit.example.org,submit")
    assert not ok(b, "ADMINISTRATOR", BOB, REMOTE)
    assert not ok(b, "ADMINISTRATOR", ALICE, LOCAL)


def test_foreign_hostnames_are_never_resolved(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network resolver used")
    for fn in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        monkeypatch.setattr(socket, fn, boom)
    a = authz({"ALLOW_WRITE": "elsewhere.example.com alice@example.org/far.example.com"})
    assert not ok(a, "WRITE", ALICE, LOCAL)
    assert not ok(a, "WRITE", ALICE, REMOTE)


def test_local_ips_macro():
    a = authz({"ALLOW_ADMINISTRATOR": "*/{:local_ips:}"})
    assert ok(a, "ADMINISTRATOR", ALICE, LOCAL)
    assert ok(a, "ADMINISTRATOR", ALICE, REMOTE)              # 10.0.0.5 is "ours" in HOSTS
    assert not ok(a, "ADMINISTRATOR", ALICE, "192.0.2.1")


# ------------------------------------------------------------------ users

def test_user_wildcards_and_case():
    a = authz({"ALLOW_WRITE": "*@example.org, ALICE@EXAMPLE.COM al*@other.org"})
    assert ok(a, "WRITE", BOB)
    assert ok(a, "WRITE", "alice@example.com")
    assert ok(a, "WRITE", "alfred@other.org")
    assert not ok(a, "WRITE", "bob@other.org")
    assert not ok(a, "WRITE", UNAUTHENTICATED)
    b = authz({"ALLOW_WRITE": "*@unmapped"})
    assert ok(b, "WRITE", UNAUTHENTICATED)


# ------------------------------------------------------------------ config lookup

def test_subsystem_specific_lists():
    cfg = {"ALLOW_WRITE": "alice@*", "ALLOW_WRITE_COLLECTOR": "bob@*"}
    col, sch = authz(cfg, "COLLECTOR"), authz(cfg, "SCHEDD")
    assert ok(col, "WRITE", BOB) and not ok(col, "WRITE", ALICE)
    assert ok(sch, "WRITE", ALICE) and not ok(sch, "WRITE", BOB)
    assert col.levels[Perm.WRITE].allow_param == "ALLOW_WRITE_COLLECTOR"
    # SUBSYS.ALLOW_WRITE is the config system's business (get() applies it).
    s2 = authz({"ALLOW_WRITE": "alice@*", "SCHEDD.ALLOW_WRITE": "bob@*"}, "SCHEDD")
    assert ok(s2, "WRITE", BOB) and not ok(s2, "WRITE", ALICE)


def test_default_level_fallback():
    a = authz({"ALLOW_DEFAULT": "alice@*", "DENY_DEFAULT": "bob@*"})
    assert ok(a, "ADMINISTRATOR", ALICE)
    assert a.levels[Perm.ADMINISTRATOR].allow_param == "ALLOW_DEFAULT"
    b = authz({"ALLOW_DEFAULT": "alice@*", "ALLOW_DAEMON_SCHEDD": "bob@*"})
    assert ok(b, "DAEMON", BOB) and not ok(b, "DAEMON", ALICE)   # first hit wins


def test_empty_value_counts_as_unset():
    a = authz({"ALLOW_ADMINISTRATOR": "  ", "ALLOW_DEFAULT": "alice@*"})
    assert ok(a, "ADMINISTRATOR", ALICE)


def test_legacy_allow_semantics():
    cfg = {"ALLOW_WRITE": "alice@*"}
    a = authz(cfg)
    assert a.verify("DAEMON", ALICE, LOCAL) == (False, "DAEMON authorization policy denies all access")
    b = authz({**cfg, "LEGACY_ALLOW_SEMANTICS": "True"})
    assert ok(b, "DAEMON", ALICE)
    assert ok(b, "ADVERTISE_STARTD", ALICE)
    assert b.levels[Perm.ADVERTISE_STARTD].allow_param == "ALLOW_WRITE"
    assert not ok(b, "ADMINISTRATOR", ALICE)                   # legacy only touches DAEMON


def test_unset_allow_administrator_denies_everyone():
    a = authz({"ALLOW_READ": "*", "ALLOW_WRITE": "*"})
    for user in (ALICE, "root@example.org", "condor@example.org", UNAUTHENTICATED):
        assert a.verify("ADMINISTRATOR", user, LOCAL) == (
            False, "ADMINISTRATOR authorization policy denies all access")


def test_tool_subsystem_loads_only_client_lists():
    a = authz({"ALLOW_ADMINISTRATOR": "alice@*", "ALLOW_CLIENT": "*"}, "TOOL")
    assert not ok(a, "ADMINISTRATOR", ALICE)
    assert ok(a, "CLIENT", ALICE)


# ------------------------------------------------------------------ cache

def test_cached_results_change_the_reason():
    a = authz({"ALLOW_ADMINISTRATOR": "alice@*"})
    assert a.verify("READ", ALICE, LOCAL)[1].startswith("READ is implied by WRITE")
    assert a.verify("READ", ALICE, LOCAL) == (
        True, "cached result for READ; see first case for the full reason")
    # The parent levels got cached on the way.
    assert a.verify("WRITE", ALICE, LOCAL) == (
        True, "cached result for WRITE; see first case for the full reason")
    assert a.verify("READ", BOB, LOCAL) == (False, NO_MATCH_LOCAL.format("READ"))
    assert a.verify("READ", BOB, LOCAL) == (
        False, "cached result for READ; see first case for the full reason")
    # Per (ip, user): another peer address is evaluated afresh; a new Authorizer forgets.
    assert not a.verify("READ", ALICE, REMOTE)[1].startswith("cached")
    assert not authz({"ALLOW_ADMINISTRATOR": "alice@*"}).verify("READ", ALICE, LOCAL)[1].startswith("cached")


# ------------------------------------------------------------------ LimitAuthorization

def test_limit_sets():
    a = authz(RECOMMENDED)
    c = "condor@example.org"
    assert ok(a, "READ", c, limit={Perm.READ})
    assert a.verify("WRITE", c, LOCAL, {Perm.READ}) == (
        False, "The WRITE permission is not included in the authentication bounding set")
    assert ok(a, "WRITE", c, limit={Perm.ADMINISTRATOR})         # closure
    assert ok(a, "READ", c, limit={"ADMINISTRATOR"})
    assert not ok(a, "DAEMON", c, limit={Perm.ADMINISTRATOR})
    assert ok(a, "DAEMON", c, limit={Perm.DAEMON, Perm.ADMINISTRATOR})
    assert ok(a, "ALLOW", c, limit={Perm.READ})                  # ALLOW always in bounds
    assert ok(a, "DAEMON", c, limit=set())                       # empty = no limit
    # The limit only narrows: it never grants what the ALLOW lists refuse.
    assert not ok(a, "ADMINISTRATOR", ALICE, limit={Perm.ADMINISTRATOR})


# ------------------------------------------------------------------ settable()

def test_settable_attrs_administrator():
    a = authz({**RECOMMENDED, "SETTABLE_ATTRS_ADMINISTRATOR": "FOO, OOF"})
    assert a.settable("FOO", "condor@example.org", LOCAL)
    assert a.settable("oof", "root@example.org", LOCAL)          # case-insensitive
    assert not a.settable("BAR", "condor@example.org", LOCAL)
    assert not a.settable("FOO", UNAUTHENTICATED, LOCAL)         # ADMINISTRATOR refused
    assert not a.settable("FOO", "condor@example.org", LOCAL, limit={Perm.READ})


def test_settable_attrs_config_per_subsystem():
    cfg = {**RECOMMENDED, "ALLOW_CONFIG": "alice@*", "SCHEDD.SETTABLE_ATTRS_CONFIG": "SCHEDD_*, MAX_JOBS_RUNNING"}
    sch = authz(cfg, "SCHEDD")
    assert sch.settable("SCHEDD_DEBUG", ALICE, LOCAL)
    assert sch.settable("max_jobs_running", ALICE, LOCAL)
    assert not sch.settable("COLLECTOR_DEBUG", ALICE, LOCAL)
    assert not sch.settable("SCHEDD_DEBUG", BOB, LOCAL)
    assert not authz(cfg, "COLLECTOR").settable("SCHEDD_DEBUG", ALICE, LOCAL)


def test_settable_needs_an_allow_list_for_the_level():
    # SETTABLE_ATTRS_CONFIG alone is useless: ALLOW_CONFIG unset denies everyone.
    a = authz({**RECOMMENDED, "SETTABLE_ATTRS_CONFIG": "*"})
    assert not a.settable("ANYTHING", "condor@example.org", LOCAL)
    # ... and READ-level settable attrs are open to whoever has READ.
    b = authz({**RECOMMENDED, "SETTABLE_ATTRS_READ": "MY_*"})
    assert b.settable("MY_KNOB", UNAUTHENTICATED, LOCAL)
    assert not b.settable("YOUR_KNOB", UNAUTHENTICATED, LOCAL)
    # Never through the ALLOW level.
    c = authz({"SETTABLE_ATTRS_ALLOW": "*"})
    assert not c.settable("FOO", ALICE, LOCAL)


def test_permission_log_line():
    assert permission_log_line(False, UNAUTHENTICATED, LOCAL, "command 60023 (DC_NOP_ADMINISTRATOR)",
                               Perm.ADMINISTRATOR, "ADMINISTRATOR authorization policy denies all access") == (
        "PERMISSION DENIED to unauthenticated@unmapped from host 127.0.0.1 for command 60023 "
        "(DC_NOP_ADMINISTRATOR), access level ADMINISTRATOR: reason: ADMINISTRATOR authorization "
        "policy denies all access")
    assert permission_log_line(True, "", LOCAL, "x", Perm.READ, "r").startswith(
        "PERMISSION GRANTED to unauthenticated user from host")
