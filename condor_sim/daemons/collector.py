"""condor_collector: stores the ads daemons advertise and answers queries and locates.

Per ``condor_collector.V6`` behaviour (commands.md §4): one table per ad type keyed as
the real hash keys are; UPDATE_* stores or replaces an ad wholesale and keeps reading
``[cmd][ad]`` messages from the same socket until DC_NOP or EOF; INVALIDATE_* removes by
key or by Requirements; QUERY_* evaluates Requirements with the stored ad as MY and
answers ``[1][ad]... [0]`` in one message; the collector inserts its own ad.
"""
from __future__ import annotations

import time

import classad2

from .. import texts as T
from ..cedar import ProtocolError
from ..cedar.commands import Cmd, command_name
from ..cedar.classad_wire import get_ad, put_ad
from ..command_table import command
from ..connection import ConnectionClosed
from ..security.perms import Perm
from .base import Daemon, valid_daemon_name

# One row per ad type: its table (None: the generic table, keyed by MyType), the commands
# that update and invalidate it, and the permission both need (collector_engine.cpp).
AD_TYPES = (
    ("Machine", Cmd.UPDATE_STARTD_AD, Cmd.INVALIDATE_STARTD_ADS, Perm.ADVERTISE_STARTD),
    ("Scheduler", Cmd.UPDATE_SCHEDD_AD, Cmd.INVALIDATE_SCHEDD_ADS, Perm.ADVERTISE_SCHEDD),
    ("Submitter", Cmd.UPDATE_SUBMITTOR_AD, Cmd.INVALIDATE_SUBMITTOR_ADS, Perm.ADVERTISE_SCHEDD),
    ("DaemonMaster", Cmd.UPDATE_MASTER_AD, Cmd.INVALIDATE_MASTER_ADS, Perm.ADVERTISE_MASTER),
    ("Collector", Cmd.UPDATE_COLLECTOR_AD, Cmd.INVALIDATE_COLLECTOR_ADS, Perm.DAEMON),
    ("Negotiator", Cmd.UPDATE_NEGOTIATOR_AD, Cmd.INVALIDATE_NEGOTIATOR_ADS, Perm.NEGOTIATOR),
    ("Accounting", Cmd.UPDATE_ACCOUNTING_AD, Cmd.INVALIDATE_ACCOUNTING_ADS, Perm.NEGOTIATOR),
    ("License", Cmd.UPDATE_LICENSE_AD, Cmd.INVALIDATE_LICENSE_ADS, Perm.DAEMON),
    ("HAD", Cmd.UPDATE_HAD_AD, Cmd.INVALIDATE_HAD_ADS, Perm.DAEMON),
    ("Grid", Cmd.UPDATE_GRID_AD, Cmd.INVALIDATE_GRID_ADS, Perm.DAEMON),
    (None, Cmd.UPDATE_AD_GENERIC, Cmd.INVALIDATE_ADS_GENERIC, Perm.DAEMON),
)
UPDATES = {update: (table, perm) for table, update, _, perm in AD_TYPES}
INVALIDATES = {invalidate: (table, perm) for table, _, invalidate, perm in AD_TYPES}
# query command -> table
QUERIES = {
    Cmd.QUERY_STARTD_ADS: "Machine", Cmd.QUERY_SCHEDD_ADS: "Scheduler", Cmd.QUERY_MASTER_ADS: "DaemonMaster",
    Cmd.QUERY_SUBMITTOR_ADS: "Submitter", Cmd.QUERY_COLLECTOR_ADS: "Collector",
    Cmd.QUERY_LICENSE_ADS: "License", Cmd.QUERY_NEGOTIATOR_ADS: "Negotiator", Cmd.QUERY_HAD_ADS: "HAD",
    Cmd.QUERY_GRID_ADS: "Grid", Cmd.QUERY_ACCOUNTING_ADS: "Accounting", Cmd.QUERY_ANY_ADS: None,
    Cmd.QUERY_GENERIC_ADS: None, Cmd.QUERY_MULTIPLE_ADS: None,
}


def _per_table(column: int):
    """@command for every UPDATE (column 1) or INVALIDATE (column 2) number of AD_TYPES,
    each at its own permission level."""
    def mark(fn):
        for row in AD_TYPES:
            fn = command(row[column], perm=row[3])(fn)
        return fn
    return mark


# Bounds on one stored ad (ours; the real collector has none).  Real startd ads carry
# about 150 attributes and a few KiB.
MAX_AD_ATTRIBUTES = 4000
MAX_AD_BYTES = 1 << 20

LABELS = {"Machine": "StartdAd", "Scheduler": "ScheddAd", "DaemonMaster": "MasterAd",
          "Submitter": "SubmittorAd", "Collector": "CollectorAd", "Negotiator": "NegotiatorAd"}


def _s(ad, name: str) -> str | None:
    v = ad.get(name)
    return v if isinstance(v, str) else None


def hash_key(table: str, ad) -> str | None:
    """The real collector's key for an ad (hashkey.cpp); None when the ad is malformed."""
    name = _s(ad, "Name")
    if table in ("Machine", "StartD", "Scheduler", "Submitter"):
        if table in ("Scheduler", "Submitter"):
            name = name or _s(ad, "Machine")
            if name and _s(ad, "ScheddName"):
                name += _s(ad, "ScheddName")
        if not name:
            return None
        addr = _s(ad, "MyAddress") or ""
        host = addr[1:].split(":")[0] if addr.startswith("<") else ""
        if table in ("Scheduler", "Submitter") and not host:
            return None
        return f"{name}{host}"
    if table in ("DaemonMaster", "Collector"):
        return name or _s(ad, "Machine")
    if table == "Accounting":
        return (name or "") + (_s(ad, "NegotiatorName") or "") if name else None
    return name


class Collector(Daemon):
    SUBSYS = "COLLECTOR"
    MY_TYPE = "Collector"
    ADDRESS_KNOBS = ("COLLECTOR_ADDRESS_FILE", "COLLECTOR_SUPER_ADDRESS_FILE")

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.tables: dict[str, dict[str, classad2.ClassAd]] = {}
        self.log.log(T.COLLECTOR_INIT)

    # ------------------------------------------------------------------ own ad
    def name(self) -> str:
        return valid_daemon_name(self.config.get("COLLECTOR_NAME"), self.fqdn)

    def ad(self) -> dict:
        ad = super().ad()
        slots = list(self.tables.get("Machine", {}).values())
        states = [str(s.get("State", ""))[:1] for s in slots]
        subs = self.tables.get("Submitter", {}).values()
        ad.update({
            "CollectorIpAddr": self.core.sinful,
            "UpdateInterval": 24 * self.update_interval(),
            "RunningJobs": sum(int(s.get("RunningJobs", 0) or 0) for s in subs),
            "IdleJobs": sum(int(s.get("IdleJobs", 0) or 0) for s in subs),
            "HostsTotal": len(slots), "HostsClaimed": states.count("C"),
            "HostsUnclaimed": states.count("U"), "HostsOwner": states.count("O"),
        })
        if self.config.get("CONDOR_ADMIN"):
            ad["CondorAdmin"] = self.config.get("CONDOR_ADMIN")
        return ad

    def update_interval(self) -> float:
        return max(1, self.config.get_int("COLLECTOR_UPDATE_INTERVAL", 900))

    async def advertise(self) -> None:
        """The collector inserts its own ad into its own table."""
        ad = classad2.ClassAd(self.ad())
        ad["LastHeardFrom"] = int(time.time())
        self._store("Collector", ad, Cmd.UPDATE_COLLECTOR_AD)

    async def invalidate(self) -> None:
        return None

    async def setup(self) -> None:
        from ..security import tokens
        key = self.config.get("SEC_TOKEN_POOL_SIGNING_KEY_FILE") or (
            (self.config.get("SEC_PASSWORD_DIRECTORY") or "") + "/POOL")
        if key and key != "/POOL":
            tokens.ensure_pool_signing_key(key)
        await self.advertise()
        await super().setup()
        self.core.every(lambda: max(1, self.config.get_int("CLASSAD_LIFETIME", 900) // 4 or 1),
                        self.housekeep, first=5)

    # ------------------------------------------------------------------ tables
    def _store(self, table: str, ad, cmd: int) -> bool:
        key = hash_key(table, ad)
        if key is None:
            self.log.log(T.MALFORMED_AD.format(cmd=cmd))
            return False
        t = self.tables.setdefault(table, {})
        label = LABELS.get(table, f"{table}Ad")
        verb = "Updating ... " if key in t else "Inserting ** "
        self.log.log(T.STORING_AD.format(label=label, verb=verb, key=key), "D_FULLDEBUG")
        t[key] = ad
        return True

    async def housekeep(self) -> None:
        now = time.time()
        default = self.config.get_int("CLASSAD_LIFETIME", 900)
        for table, ads in self.tables.items():
            for key in list(ads):
                ad = ads[key]
                life = ad.get("ClassAdLifetime")
                life = life if isinstance(life, int) and not isinstance(life, bool) else default
                heard = ad.get("LastHeardFrom")
                if isinstance(heard, int) and now - heard > life and not (
                        table == "Collector" and key == self.name()):
                    self.log.log(T.STALE_AD.format(key=key))
                    del ads[key]

    # ------------------------------------------------------------------ updates
    @_per_table(1)
    async def receive_update(self, req) -> None:
        cmd = req.cmd
        r = await req.read()
        max_attrs = self.config.get_int("COLLECTOR_MAX_AD_ATTRIBUTES", MAX_AD_ATTRIBUTES)
        max_bytes = self.config.get_int("COLLECTOR_MAX_AD_BYTES", MAX_AD_BYTES)
        while True:
            before = r.remaining
            try:
                ad = get_ad(r, max_attrs=max_attrs)
            except ProtocolError as e:
                self.log.log(T.AD_TOO_LARGE.format(
                    name=command_name(cmd), peer=req.chan.peer_description,
                    reason=f"{e} (COLLECTOR_MAX_AD_ATTRIBUTES = {max_attrs})"))
                return
            if before - r.remaining > max_bytes:
                self.log.log(T.AD_TOO_LARGE.format(
                    name=command_name(cmd), peer=req.chan.peer_description,
                    reason=f"the ad is {before - r.remaining} bytes (COLLECTOR_MAX_AD_BYTES = {max_bytes})"))
                return
            table, _ = UPDATES[cmd]
            if table is None:
                table = _s(ad, "MyType") or "Generic"
            if table == "Machine" and not r.at_end():
                get_ad(r)     # the private ad of a startd update (kept out of public queries)
            ad["LastHeardFrom"] = int(time.time())
            if req.authenticated:
                ad["AuthenticatedIdentity"] = req.user
                if req.policy.get("AuthMethods"):
                    ad["AuthenticationMethod"] = req.policy["AuthMethods"]
            self._store(table, ad, cmd)
            # The real collector keeps the socket and serves further [cmd][ad] messages.
            try:
                r = await req.chan.read_message(timeout=self.config.get_int("COLLECTOR_TCP_IDLE", 300))
            except ConnectionClosed:
                return
            cmd = r.get_int()
            if cmd == Cmd.DC_NOP or cmd not in UPDATES:
                return

    @_per_table(2)
    async def receive_invalidation(self, req) -> None:
        ad = get_ad(await req.read())
        table, _ = INVALIDATES[req.cmd]
        if table is None:
            table = _s(ad, "TargetType") or "Generic"
        ads = self.tables.get(table, {})
        key = hash_key(table, ad) if _s(ad, "Name") else None
        removed = 0
        if key is not None and key in ads:
            del ads[key]
            removed = 1
        else:
            req_expr = ad.lookup("Requirements") if "Requirements" in ad else None
            for k in list(ads):
                if req_expr is not None and _matches(req_expr, ads[k]):
                    del ads[k]
                    removed += 1
        self.log.log(T.INVALIDATED.format(count=removed, table=table), "D_FULLDEBUG")

    # ------------------------------------------------------------------ queries
    @command(*QUERIES, perm=Perm.READ)
    @command(Cmd.QUERY_STARTD_PVT_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS, perm=Perm.NEGOTIATOR)
    async def receive_query(self, req) -> None:
        q = get_ad(await req.read())
        self.log.log(f"Got {command_name(req.cmd)}", "D_FULLDEBUG")
        table = QUERIES.get(req.cmd, "Machine")
        target = _s(q, "TargetType") or ""
        if req.cmd == Cmd.QUERY_GENERIC_ADS:
            tables = [target] if target else []
        elif req.cmd in (Cmd.QUERY_ANY_ADS,) or (req.cmd == Cmd.QUERY_MULTIPLE_ADS and target in ("", "Any")):
            tables = list(self.tables)
        elif req.cmd in (Cmd.QUERY_MULTIPLE_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS):
            tables = [t.strip() for t in target.split(",") if t.strip()]
        elif req.cmd in (Cmd.QUERY_STARTD_ADS, Cmd.QUERY_STARTD_PVT_ADS):
            tables = ["StartD"] if target.lower() == "startd" else ["Machine"]
            if "LocationQuery" in q and target.lower() != "startd":
                tables = ["StartD", "Machine"]
        else:
            tables = [table]
        requirements = q.lookup("Requirements") if "Requirements" in q else None
        projection = None
        proj = _s(q, "Projection")
        if proj and proj.strip():
            projection = proj.replace(",", " ").split()
        limit = q.get("LimitResults")
        limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None
        msg = req.message()
        count = 0
        if "Collector" in tables:
            await self.advertise()    # fresh statistics for our own ad
        for t in tables:
            for ad in list(self.tables.get(_table_name(self.tables, t), {}).values()):
                if requirements is not None and not _matches(requirements, ad):
                    continue
                msg.put_int(1)
                put_ad(msg, ad if projection is None else project(ad, projection),
                       include_private=False)
                count += 1
                if limit and count >= limit:
                    break
            if limit and count >= limit:
                break
        msg.put_int(0)
        await req.send(msg)


def project(ad, names) -> classad2.ClassAd:
    """The part of ``ad`` a projected query sends, built without printing the rest: what
    putClassAd sends for a whitelist.  Each listed attribute the ad has, named as the
    query spelled it (names compare without case), and, for a listed attribute that is an
    expression, the attributes of the ad it refers to."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(name.lower(), name)
    for name in list(wanted.values()):
        if name in ad:
            try:
                refs = ad.internalRefs(ad.lookup(name))
            except Exception:
                refs = ()
            for ref in refs:
                wanted.setdefault(ref.lower(), ref)
    out = classad2.ClassAd()
    for name in wanted.values():
        if name in ad:
            out[name] = ad.lookup(name)
    return out


def _table_name(tables: dict, name: str) -> str:
    if name in tables:
        return name
    low = name.lower()
    return next((t for t in tables if t.lower() == low), name)


def _matches(expr, ad) -> bool:
    """Requirements evaluated with the stored ad as MY (no TARGET)."""
    try:
        v = expr.eval(ad)
    except Exception:
        return False
    if isinstance(v, classad2.Value):      # undefined or error (an IntEnum: test it first)
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    return False


def main() -> None:
    Collector.from_process().start()


if __name__ == "__main__":
    main()
