"""ALLOW_<P> / DENY_<P> authorization, as a real DaemonCore daemon decides it.

Behaviour follows HTCondor's IpVerify (docs security.md §8.2-8.3):

* per level, the ALLOW and DENY lists come from the first knob set along
  ``config_chain`` (``ALLOW_<P>_<SUBSYS>`` then ``ALLOW_<P>`` at each step);
* ALLOW is always granted; a DENY list of ``*`` / ``*/*``, or no ALLOW list at
  all for a level other than READ and WRITE, denies everyone; an ALLOW list of
  exactly ``*`` / ``*/*`` allows everyone (except DENY matches);
* otherwise entries are matched, DENY first, by the peer's IP and then by each
  of its host names; an unmatched request is granted if a level that directly
  implies this one is granted (recursively);
* results are cached per (peer IP, user), which changes the reason text of
  later decisions ("cached result for ...").

Host names are only ever resolved for this machine's own names (``localhost``,
the host name, its canonical name and aliases); the peer's host names are the
local names that resolve to its IP.  No network resolver is consulted for
anything else, so a host-name entry for another machine never matches.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from .perms import Perm, config_chain, implied_by, limit_closure

UNAUTHENTICATED = "unauthenticated@unmapped"

# Reason texts, worded as the real daemon's (condor_io/condor_ipverify.cpp,
# IpVerify::Verify; the bounding-set one is SECMAN:79 in condor_secman.cpp).
R_ALLOW_ANYONE = "{perm} authorization policy allows access by anyone"
R_DENY_ALL = "{perm} authorization policy denies all access"
R_CACHED = "cached result for {perm}; see first case for the full reason"
R_DENY_IP = "{perm} authorization policy denies IP address {ip}"
R_ALLOW_IP = "{perm} authorization policy allows IP address {ip}"
R_DENY_HOST = "{perm} authorization policy denies hostname {host}"
R_ALLOW_HOST = "{perm} authorization policy allows hostname {host}"
R_NOT_DENIED = "{perm} authorization policy does not deny, so allowing"
R_IMPLIED = "{perm} is implied by {parent}; {reason}"
R_NO_MATCH = ("{perm} authorization policy contains no matching ALLOW entry for this request"
              "; identifiers used for this host: {peer}, hostname size = {n}, original ip address = {ip}")
R_IDENTIFIERS = "; identifiers used for this remote host: {peer}"
R_NOT_IN_BOUNDING_SET = "The {perm} permission is not included in the authentication bounding set"


def permission_log_line(granted: bool, user: str | None, peer_ip: str, what: str,
                        perm: Perm, reason: str) -> str:
    """The daemon log line (DaemonCore::Verify); ``what`` is e.g. ``command 60021 (DC_NOP_WRITE)``."""
    return (f"PERMISSION {'GRANTED' if granted else 'DENIED'} to {user or 'unauthenticated user'} "
            f"from host {peer_ip} for {what}, access level {Perm(perm).name}: reason: {reason}")


# ---------------------------------------------------------------- matching helpers

def wildcard_match(pattern: str, s: str) -> bool:
    """Case-insensitive match with HTCondor's restricted wildcards: one ``*`` at
    the start, the end or in the middle, optionally plus a trailing ``*``
    (which turns the remaining part into a substring search)."""
    p, s = pattern.lower(), s.lower()
    star = p.find("*")
    if star < 0:
        return p == s
    prefix_mode = False
    if star == 0:
        start, end = "", p[1:]
    elif star == len(p) - 1:
        start, end, prefix_mode = p[:-1], "", True
    else:
        start, end = p[:star], p[star + 1:]
    if end.endswith("*"):
        end, prefix_mode = end[:-1], True
    if not s.startswith(start):
        return False
    tail = s[len(start):]
    if not end:
        return True
    return end in tail if prefix_mode else tail.endswith(end)


def _ipv4_wildcard(text: str) -> ipaddress.IPv4Network | None:
    """``a``, ``a.b``, ``a.b.c``, ``a.b.c.d``, optionally ending in ``.*`` / ``*`` / ``.``."""
    if not 1 <= len(text) <= 15:
        return None
    if text[-1] in "*.":
        text = text[:-2] if len(text) > 1 and text[-2] == "." else text[:-1]
    parts = text.split(".")
    if not text or len(parts) > 4 or not all(x.isdigit() and int(x) <= 255 for x in parts):
        return None
    base = ".".join(parts + ["0"] * (4 - len(parts)))
    return ipaddress.IPv4Network(f"{base}/{8 * len(parts)}", strict=False)


@functools.lru_cache(maxsize=1024)
def parse_network(text: str):
    """A host-part as a network: ``"*"`` (everything), an IP literal, ``a.b.c.d/nn``,
    ``a.b.c.d/m.m.m.m``, ``a.b.*``, IPv6 literal / ``/nn`` / ``x:y:*``.
    Returns an ``ip_network``, the string ``"*"``, or None (not a network)."""
    if text in ("*", "*/*"):
        return "*"
    try:
        if "/" in text:
            base, _, mask = text.partition("/")
            ip = ipaddress.ip_address(base)
            if mask.isdigit() or mask == "":
                return ipaddress.ip_network(f"{base}/{int(mask or 0)}", strict=False)
            if ip.version == 4:
                m = int(ipaddress.IPv4Address(mask))
                bits = bin(m).count("1")
                if m != ((1 << 32) - 1) ^ ((1 << (32 - bits)) - 1):
                    return None  # not a contiguous mask
                return ipaddress.IPv4Network(f"{base}/{bits}", strict=False)
            return None
        if ":" not in text:
            return _ipv4_wildcard(text)
        if "*" not in text:
            return ipaddress.IPv6Network(text)
        if text.find("*") != text.rfind(":") + 1:
            return None
        base = text.replace("*", ":", 1)
        return ipaddress.IPv6Network(f"{ipaddress.IPv6Address(base)}/{16 * text.count(':')}",
                                     strict=False)
    except ValueError:
        return None


def split_entry(entry: str) -> tuple[str, str]:
    """An ALLOW/DENY entry as (user pattern, host part)."""
    first = entry.find("/")
    if first < 0:
        return (entry, "*") if "@" in entry else ("*", entry)
    if "/" in entry[first + 1:]:                      # user/net/mask
        return entry[:first], entry[first + 1:]
    at = entry.find("@")
    if (0 <= at < first) or entry.startswith("*"):   # user@domain/host, */host
        return entry[:first], entry[first + 1:]
    if parse_network(entry) is not None:              # a.b.c.d/nn, a.b.c.d/m.m.m.m
        return "*", entry
    return entry[:first], entry[first + 1:]           # user/host


def _norm_ip(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return str(addr)


def _ip_in(host_key: str, ip: str, local_ips: frozenset[str]) -> bool:
    if host_key.lower() == "{:local_ips:}":
        return ip in local_ips
    net = parse_network(host_key)
    if net is None:
        return False
    if net == "*":
        return True
    try:
        return ipaddress.ip_address(ip) in net
    except (ValueError, TypeError):
        return False


def _is_resolvable_name(host: str) -> bool:
    return not (any(c in host for c in "*/<>?:") or parse_network(host) is not None)


# ---------------------------------------------------------------- this machine's names

def _resolve(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return list(dict.fromkeys(_norm_ip(i[4][0].split("%")[0]) for i in infos))


@functools.lru_cache(maxsize=1)
def local_hosts(timeout: float = 3.0) -> dict[str, tuple[str, ...]]:
    """{lower-case name: IPs} for ``localhost`` and this machine's own names.
    Resolved once, in a helper thread bounded by ``timeout``."""
    table: dict[str, tuple[str, ...]] = {}

    def work() -> None:
        names = ["localhost"]
        hostname = socket.gethostname()
        try:
            canon, aliases, _ = socket.gethostbyname_ex(hostname)
            names += [canon, *aliases]
        except OSError:
            pass
        names.append(hostname)
        for name in dict.fromkeys(n.lower() for n in names if n):
            ips = _resolve(name)
            if ips:
                table[name] = tuple(ips)

    t = threading.Thread(target=work, name="authz-local-hosts", daemon=True)
    t.start()
    t.join(timeout)
    table.setdefault("localhost", ("127.0.0.1", "::1"))
    return dict(table)


# ---------------------------------------------------------------- the authorizer

@dataclass
class LevelPolicy:
    """What one level's ALLOW/DENY configuration boiled down to."""
    behavior: str                       # "allow" | "deny" | "only_denies" | "table"
    allow_param: str | None = None      # knob the ALLOW list came from
    deny_param: str | None = None
    allow: dict[str, list[str]] = field(default_factory=dict)   # host key -> user patterns
    deny: dict[str, list[str]] = field(default_factory=dict)


def _param_bool(get: Callable[[str], str | None], name: str, default: bool) -> bool:
    v = (get(name) or "").strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    return default


class Authorizer:
    """One daemon's ALLOW/DENY tables.  Build a new one on reconfig (that also
    drops the result cache, as the real daemon does)."""

    def __init__(self, get: Callable[[str], str | None], subsystem: str, *,
                 hosts: Mapping[str, Iterable[str]] | None = None):
        """``get(name)``: a knob's expanded value or None (SUBSYS.name already applied).
        ``hosts``: {name: IPs} to use instead of this machine's names (tests)."""
        self._get = get
        self.subsystem = subsystem.upper()
        src = local_hosts() if hosts is None else hosts
        self._hosts = {n.lower(): tuple(_norm_ip(i) for i in ips) for n, ips in src.items()}
        self._local_ips = frozenset(i for ips in self._hosts.values() for i in ips)
        self.legacy_allow_semantics = _param_bool(get, "LEGACY_ALLOW_SEMANTICS", False)
        self._pool_equiv = _param_bool(get, "USE_POOL_USERNAME_EQUIVALENT", True)
        client_only = self.subsystem in ("TOOL", "SUBMIT")
        self.levels: dict[Perm, LevelPolicy] = {}
        for perm in Perm:
            allow_param = allow = deny_param = deny = None
            if perm == Perm.CLIENT or not client_only:
                allow_param, allow = self._sec_setting("ALLOW_", perm)
                deny_param, deny = self._sec_setting("DENY_", perm)
            self.levels[perm] = self._build_level(perm, allow_param, allow, deny_param, deny)
        self._cache: dict[tuple[str, str], dict[Perm, bool]] = {}

    # -- configuration

    def _sec_setting(self, prefix: str, perm: Perm) -> tuple[str | None, str | None]:
        """First set knob along the config chain: <prefix><P>_<SUBSYS>, then <prefix><P>."""
        for p in config_chain(perm, self.legacy_allow_semantics):
            for name in (f"{prefix}{p.name}_{self.subsystem}", f"{prefix}{p.name}"):
                value = self._get(name)
                if value is not None and value.strip():
                    return name, value.strip()
        return None, None

    def _build_level(self, perm, allow_param, allow, deny_param, deny) -> LevelPolicy:
        level = LevelPolicy("table", allow_param, deny_param)
        allow_all = allow in ("*", "*/*")
        if perm == Perm.ALLOW:
            level.behavior = "allow"
        elif deny in ("*", "*/*") or (allow is None and perm not in (Perm.READ, Perm.WRITE)):
            level.behavior = "deny"
        elif allow_all:
            level.behavior = "only_denies" if deny else "allow"
            if deny:
                level.deny = self._fill(deny)
        else:
            if allow:
                level.allow = self._fill(allow)
            if deny:
                level.deny = self._fill(deny)
        return level

    def _fill(self, text: str) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for entry in text.replace(",", " ").split():
            user, host = split_entry(entry)
            users = [user]
            if self._pool_equiv:
                low = user.lower()
                if low.startswith("condor@"):
                    users.append("condor_pool@" + user[len("condor@"):])
                elif low.startswith("condor_pool@"):
                    users.append("condor@" + user[len("condor_pool@"):])
            keys = [host]
            if _is_resolvable_name(host):
                keys += self._hosts.get(host.lower(), ())
            for key in keys:
                table.setdefault(key, []).extend(users)
        return table

    # -- decisions

    def peer_hostnames(self, peer_ip: str) -> list[str]:
        """The peer's host names (only this machine's names can be known)."""
        ip = _norm_ip(peer_ip)
        return [name for name, ips in self._hosts.items() if ip in ips]

    @staticmethod
    def _users_match(patterns: list[str], who: str) -> bool:
        return any(wildcard_match(p, who) for p in patterns)

    def _match_ip(self, table: dict[str, list[str]], who: str, ip: str) -> bool:
        return any(_ip_in(h, ip, self._local_ips) and self._users_match(u, who)
                   for h, u in table.items())

    @staticmethod
    def _match_host(table: dict[str, list[str]], who: str, hostname: str) -> bool:
        return any(wildcard_match(h, hostname) and Authorizer._users_match(u, who)
                   for h, u in table.items())

    def verify(self, perm: Perm | str, user: str | None, peer_ip: str,
               limit: Iterable[Perm | str] | None = None) -> tuple[bool, str]:
        """(allowed, reason) for ``user`` at ``peer_ip`` asking for ``perm``.
        ``limit`` is the session's LimitAuthorization (token scopes); when given
        and non-empty, ``perm`` (unless ALLOW) must be in its implied closure."""
        perm = Perm.parse(perm)
        if limit and perm != Perm.ALLOW and perm not in limit_closure(limit):
            return False, R_NOT_IN_BOUNDING_SET.format(perm=perm.name)
        return self._verify(perm, user or "*", _norm_ip(peer_ip))

    def _verify(self, perm: Perm, who: str, ip: str) -> tuple[bool, str]:
        level = self.levels[perm]
        if level.behavior == "allow":
            return True, R_ALLOW_ANYONE.format(perm=perm.name)
        if level.behavior == "deny":
            return False, R_DENY_ALL.format(perm=perm.name)

        cached = self._cache.setdefault((ip, who), {})
        if perm in cached:
            return cached[perm], R_CACHED.format(perm=perm.name)

        allowed = denied = False
        allow_reason = deny_reason = ""
        if self._match_ip(level.deny, who, ip):
            denied, deny_reason = True, R_DENY_IP.format(perm=perm.name, ip=ip)
        if not denied and self._match_ip(level.allow, who, ip):
            allowed, allow_reason = True, R_ALLOW_IP.format(perm=perm.name, ip=ip)
        hostnames = [] if denied else self.peer_hostnames(ip)
        for host in hostnames:
            if not denied and self._match_host(level.deny, who, host):
                denied, deny_reason = True, R_DENY_HOST.format(perm=perm.name, host=host)
            if not (denied or allowed) and self._match_host(level.allow, who, host):
                allowed, allow_reason = True, R_ALLOW_HOST.format(perm=perm.name, host=host)
        peer = ",".join([ip, *hostnames])

        by_parent = False
        if not (allowed or denied):
            if level.behavior == "only_denies":
                allowed, allow_reason = True, R_NOT_DENIED.format(perm=perm.name)
            else:
                for parent in implied_by(perm):
                    ok, why = self._verify(parent, who, ip)
                    if ok:
                        by_parent = allowed = True
                        allow_reason = R_IMPLIED.format(perm=perm.name, parent=parent.name, reason=why)
                        break
                else:
                    denied = True
                    deny_reason = R_NO_MATCH.format(perm=perm.name, peer=peer,
                                                    n=len(hostnames), ip=ip)
        if allowed and not denied and not by_parent:
            allow_reason += R_IDENTIFIERS.format(peer=peer)

        result = not denied
        cached[perm] = result
        return result, (allow_reason if result else deny_reason)

    # -- remote configuration (DC_CONFIG_RUNTIME / DC_CONFIG_PERSIST)

    def settable_attrs(self, perm: Perm) -> list[str] | None:
        """SETTABLE_ATTRS_<P> as a list (None when unset)."""
        value = self._get(f"SETTABLE_ATTRS_{Perm(perm).name}")
        if value is None or not value.strip():
            return None
        return value.replace(",", " ").split()

    def settable(self, name: str, user: str | None, peer_ip: str,
                 limit: Iterable[Perm | str] | None = None) -> bool:
        """True when some level L other than ALLOW both grants this peer and
        lists ``name`` in SETTABLE_ATTRS_<L> (CheckConfigAttrSecurity)."""
        for perm in Perm:
            if perm == Perm.ALLOW:
                continue
            patterns = self.settable_attrs(perm)
            if patterns is None:
                continue
            if self.verify(perm, user, peer_ip, limit)[0] and \
                    any(wildcard_match(p, name) for p in patterns):
                return True
        return False
