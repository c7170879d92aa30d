"""condor_collector: stores the ads daemons advertise and answers queries and locates.

Per ``condor_collector.V6`` behaviour (commands.md §4): one table per ad type keyed as
the real hash keys are; UPDATE_* stores or replaces an ad wholesale and keeps reading
``[cmd][ad]`` messages from the same socket until DC_NOP or EOF; INVALIDATE_* removes by
key or by Requirements; QUERY_* evaluates Requirements with the stored ad as MY and
answers ``[1][ad]... [0]`` in one message; the collector inserts its own ad.

Also as the real one (``offline_plugin.cpp``, ``collector_engine.cpp``): startd ads
advertised with ``Offline = true`` are kept in ``COLLECTOR_PERSISTENT_AD_LOG`` (the
ClassAd-log format of :mod:`condor_sim.jobqueue.classad_log`) and read back at start-up;
with ``ABSENT_REQUIREMENTS`` an expiring startd ad that matches is kept as ``Absent``;
startd private ads are kept apart and sent only to NEGOTIATOR-level queries;
``COLLECTOR_REQUIREMENTS`` refuses updates.

Ads are stored as their wire lines (:mod:`.ads`) and carry the real collector's update
statistics (:mod:`.stats`).
"""
from __future__ import annotations

import struct
import time

import classad2

from ... import texts as T
from ...cedar import ProtocolError
from ...cedar.commands import Cmd, command_name
from ...cedar.classad_wire import format_line, get_ad
from ...command_table import command
from ...connection import ConnectionClosed
from ...jobqueue import classad_log as L
from ...jobqueue.store import QueueStore
from ...security.perms import Perm
from ..base import Daemon, valid_daemon_name
from .ads import Constraint, StoredAd, evaluates_true, read_ad
from .stats import CLASS_OF_TABLE, DEFAULT_HISTORY, PoolStats, UpdateStats, lost_updates

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


_INT = struct.Struct(">q")
SEQUENCE_ATTRS = ("UpdateSequenceNumber", "DaemonStartTime")
# What the keys (hashkey.cpp) and the update statistics read of an ad.
KEY_ATTRS = ("Name", "Machine", "SlotID", "MyAddress", "ScheddName", "NegotiatorName") + SEQUENCE_ATTRS

# Bounds on one stored ad (ours; the real collector has none).  Real startd ads carry
# about 150 attributes and a few KiB.
MAX_AD_ATTRIBUTES = 4000
MAX_AD_BYTES = 1 << 20

# The table of startd private ads (STARTD_PVT_ADTYPE); never scanned by public queries.
PRIVATE = "MachinePrivate"
# Absent ads live a month unless ABSENT_EXPIRE_ADS_AFTER says otherwise (0: forever).
ABSENT_LIFETIME = 60 * 60 * 24 * 30
INT_MAX = 2**31 - 1

# The attribute that must repeat MyAddress when COLLECTOR_REQUIREMENTS is set.
IP_ATTRS = {Cmd.UPDATE_STARTD_AD: "StartdIpAddr", Cmd.UPDATE_SCHEDD_AD: "ScheddIpAddr",
            Cmd.UPDATE_SUBMITTOR_AD: "ScheddIpAddr", Cmd.UPDATE_MASTER_AD: "MasterIpAddr",
            Cmd.UPDATE_NEGOTIATOR_AD: "NegotiatorIpAddr", Cmd.UPDATE_COLLECTOR_AD: "CollectorIpAddr"}

LABELS = {"Machine": "StartdAd", "Scheduler": "ScheddAd", "DaemonMaster": "MasterAd",
          "Submitter": "SubmittorAd", "Collector": "CollectorAd", "Negotiator": "NegotiatorAd"}


def _s(ad, name: str) -> str | None:
    v = ad.get(name)
    return v if isinstance(v, str) else None


def hash_key(table: str, ad) -> str | None:
    """The real collector's key for an ad (hashkey.cpp); None when the ad is malformed."""
    name = _s(ad, "Name")
    if table in ("Machine", "StartD", PRIVATE) and not name:
        name = startd_name(ad)
    if table in ("Machine", "StartD", "Scheduler", "Submitter", PRIVATE):
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


def startd_name(ad) -> str | None:
    """The name part of a startd key: Name, else Machine and ``:SlotID`` (hashkey.cpp)."""
    name = _s(ad, "Name")
    if name:
        return name
    name = _s(ad, "Machine")
    if not name:
        return None
    slot = ad.get("SlotID")
    if isinstance(slot, int) and not isinstance(slot, bool):
        name += f":{slot}"
    return name


def offline_key(ad) -> str | None:
    """The persistent store's key: the printed startd hash key without whitespace."""
    name = startd_name(ad)
    return None if name is None else "".join(f"<{name}>".split())


class OfflineAds:
    """The offline plug-in's ClassAd collection, sans-IO: the table of ads and the log
    records each change writes.  Shaped as :class:`~condor_sim.jobqueue.store.QueueStore`
    expects of a table (``load``, ``header_lines``, ``compacted``, ``sequence``)."""

    def __init__(self) -> None:
        self.ads: dict[str, L.Ad] = {}
        self.sequence = 1
        self.created = 0

    def load(self, replay: L.Replay) -> None:
        self.ads = replay.ads
        self.sequence = replay.sequence
        self.created = replay.created or 0

    def header_lines(self, now: int) -> str:
        self.created = self.created or now
        return L.sequence(self.sequence, self.created)

    def compacted(self) -> str:
        return L.snapshot(self.sequence + 1, self.created, self.ads)

    def store(self, key: str, ad) -> str:
        """Replace ``key`` by ``ad`` in one transaction (``persistentStoreAd``)."""
        lines = [L.destroy_ad(key)] if key in self.ads else []
        attrs = ad.attribute_texts() if isinstance(ad, StoredAd) else {name: str(ad.lookup(name)) for name in ad}
        stored = L.Ad(_s(ad, "MyType") or "", _s(ad, "TargetType") or "", attrs)
        self.ads[key] = stored
        lines.append(L.new_ad(key, stored.mytype, stored.targettype))
        lines.extend(L.set_attr(key, k, v) for k, v in stored.attrs.items())
        return L.transaction(lines)

    def remove(self, key: str) -> str:
        """The DestroyClassAd record, or nothing if ``key`` is not stored."""
        if self.ads.pop(key, None) is None:
            return ""
        return L.destroy_ad(key)

    def classads(self) -> list:
        out = []
        for stored in self.ads.values():
            ad = classad2.ClassAd()
            for name, text in stored.attrs.items():
                try:
                    ad[name] = classad2.ExprTree(text)
                except Exception:
                    continue
            out.append(ad)
        return out


class Collector(Daemon):
    SUBSYS = "COLLECTOR"
    MY_TYPE = "Collector"
    ADDRESS_KNOBS = ("COLLECTOR_ADDRESS_FILE", "COLLECTOR_SUPER_ADDRESS_FILE")

    def __init__(self, config, log, **kw):
        super().__init__(config, log, **kw)
        self.tables: dict[str, dict[str, StoredAd]] = {}
        self.update_stats: dict[tuple[str, str], UpdateStats] = {}
        self.offline = OfflineAds()
        self.offline_store: QueueStore | None = None
        self.pool_stats = PoolStats(time.time(), self.config.get_int("STATISTICS_WINDOW_SECONDS", 1200))
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
        ad.update(self.pool_stats.publish(time.time(), machine_ads=len(slots),
                                          submitter_ads=len(self.tables.get("Submitter", {})),
                                          running_jobs=ad["RunningJobs"]))
        if self.config.get("CONDOR_ADMIN"):
            ad["CondorAdmin"] = self.config.get("CONDOR_ADMIN")
        return ad

    def update_interval(self) -> float:
        return max(1, self.config.get_int("COLLECTOR_UPDATE_INTERVAL", 900))

    async def advertise(self) -> None:
        """The collector inserts its own ad into its own table (each insertion one more
        in its UpdateSequenceNumber, as each of its updates to itself is)."""
        self._seq = getattr(self, "_seq", 0) + 1
        ad = classad2.ClassAd(self.ad())
        ad["LastHeardFrom"] = int(time.time())
        self._store("Collector", StoredAd.from_classad(ad), Cmd.UPDATE_COLLECTOR_AD)

    async def invalidate(self) -> None:
        return None

    async def setup(self) -> None:
        from ...security import tokens
        key = self.config.get("SEC_TOKEN_POOL_SIGNING_KEY_FILE") or (
            (self.config.get("SEC_PASSWORD_DIRECTORY") or "") + "/POOL")
        if key and key != "/POOL":
            tokens.ensure_pool_signing_key(key)
        self.open_offline_store()
        await self.advertise()
        await super().setup()
        self.core.every(lambda: max(1, self.config.get_int("CLASSAD_LIFETIME", 900) // 4 or 1),
                        self.housekeep, first=5)

    # ------------------------------------------------------------------ offline ads
    def open_offline_store(self) -> None:
        """Open COLLECTOR_PERSISTENT_AD_LOG (or OFFLINE_LOG) and put its ads back in the
        startd table, as the real collector does at start-up."""
        absent = self.config.get("ABSENT_REQUIREMENTS")
        self.log.log(f"ABSENT_REQUIREMENTS = {absent or 'None'}")
        path = self.config.get("COLLECTOR_PERSISTENT_AD_LOG") or self.config.get("OFFLINE_LOG")
        if not path:
            self.log.log("OfflineCollectorPlugin::configure: no persistent store was defined for off-line ads.")
            return
        self.log.log(f"OfflineCollectorPlugin::configure: off-line ad persistent store: '{path}'.")
        self.offline_store = QueueStore(path, self.log.log, historical=2)
        self.offline_store.open(self.offline)
        for classad in self.offline.classads():
            classad["LastHeardFrom"] = int(time.time())
            ad = StoredAd.from_classad(classad)
            if self._store("Machine", ad, Cmd.UPDATE_STARTD_AD) is None:
                self.log.log("Received malformed ad. Ignoring.")

    def _persist(self, text: str) -> None:
        if text and self.offline_store is not None:
            self.offline_store.append(text)

    def offline_update(self, cmd: int, ad) -> None:
        """The offline plug-in's view of a stored startd update: keep it if Offline,
        drop it from the store otherwise."""
        if self.offline_store is None or cmd != Cmd.UPDATE_STARTD_AD:
            return
        key = offline_key(ad)
        if key is None:
            return
        if ad.get("Offline") is True:
            self._persist(self.offline.store(key, ad))
            self.log.log(f"Added ad to persistent store key={key}")
        elif key in self.offline.ads:
            self._persist(self.offline.remove(key))
            self.log.log(f"Removed ad from persistent store key={key}")

    def offline_invalidate(self, ad) -> None:
        key = offline_key(ad) if self.offline_store is not None else None
        if key is not None and key in self.offline.ads:
            self._persist(self.offline.remove(key))
            self.log.log(f"Removed ad from persistent store key={key}")

    def expire_to_absent(self, table: str, ad) -> bool:
        """Whether an expiring ad stays, marked Absent (``OfflineCollectorPlugin::expire``)."""
        text = self.config.get("ABSENT_REQUIREMENTS")
        if self.offline_store is None or not text or table != "Machine":
            return False
        if ("ClaimId" in ad or "Capability" in ad) and "State" not in ad:
            return False
        key = offline_key(ad)
        if ad.get("Absent") is True:
            if key is not None and key in self.offline.ads:
                self._persist(self.offline.remove(key))
                self.log.log(f"Removed ad from persistent store key={key}")
            return False
        try:
            absent = classad2.ExprTree(text).eval(ad.classad()) is True
        except Exception:
            absent = False
        if not absent:
            return False
        life = self.config.get_int("ABSENT_EXPIRE_ADS_AFTER", ABSENT_LIFETIME)
        now = int(time.time())
        ad.update({"Absent": True, "ClassAdLifetime": life if life else INT_MAX,
                   "LastHeardFrom": now, "MyCurrentTime": now})
        if key is not None:
            self._persist(self.offline.store(key, ad))
            self.log.log(f"Added ad to persistent store key={key}")
        return True

    # ------------------------------------------------------------------ tables
    def _store(self, table: str, ad: StoredAd, cmd: int, extra: list | None = None) -> str | None:
        """Store ``ad`` (with ``extra`` (name, line) pairs set) under its key; the key,
        or None when the ad has none."""
        fields = ad.values(KEY_ATTRS)        # one parse for the key and the statistics
        key = hash_key(table, fields)
        if key is None:
            if table in ("Machine", "StartD"):
                self.log.log("StartAd Error: Neither 'Name' nor 'Machine' found in ad")
            self.log.log("Could not make hashkey --- ignoring ad")
            self.log.log(T.MALFORMED_AD.format(cmd=cmd))
            return None
        t = self.tables.setdefault(table, {})
        label = LABELS.get(table, f"{table}Ad")
        old = t.get(key)
        verb = "Updating ... " if old is not None else "Inserting ** "
        self.log.log(T.STORING_AD.format(label=label, verb=verb, key=key), "D_FULLDEBUG")
        extra = list(extra or ())
        self.count_pool_update(table, old, fields)
        if table != PRIVATE and self.daemon_stats and not (table == "Collector" and key == self.name()):
            # (self.name() only for the Collector table: it reads the configuration)
            extra += self.count_update(table, key, old, fields)
        t[key] = ad.with_lines(extra) if extra else ad
        return key

    @property
    def daemon_stats(self) -> bool:
        return self.config.get_bool("COLLECTOR_DAEMON_STATS", True)

    def count_pool_update(self, table: str, old: StoredAd | None, new: dict) -> None:
        """The pool-wide update counters of the collector's own ad (``CollectorStats::update``)."""
        if old is None:
            sequenced, dropped = False, 0
        else:
            before = old.values(SEQUENCE_ATTRS)
            sequenced, dropped = lost_updates(before.get("UpdateSequenceNumber"), before.get("DaemonStartTime"),
                                              new.get("UpdateSequenceNumber"), new.get("DaemonStartTime"))
        self.pool_stats.update(CLASS_OF_TABLE.get(table, table), sequenced, dropped, time.time())

    def count_update(self, table: str, key: str, old: StoredAd | None, new: dict) -> list:
        """The update statistics of ``key`` advanced by an ad whose KEY_ATTRS are ``new``,
        as the lines to write into it (``CollectorStats::update``): lost updates are gaps
        in UpdateSequenceNumber between two ads of one DaemonStartTime."""
        if not (_s(new, "Name") or _s(new, "Machine")) or not _s(new, "MyAddress"):
            return []             # no statistics without a name and an address (as real)
        stats = self.update_stats.get((table, key))
        if stats is None:
            size = self.config.get_int("COLLECTOR_DAEMON_HISTORY_SIZE", DEFAULT_HISTORY)
            stats = self.update_stats[(table, key)] = UpdateStats(size)
        if old is None:
            stats.update(False, 0)
        else:
            before = old.values(SEQUENCE_ATTRS)
            stats.update(*lost_updates(before.get("UpdateSequenceNumber"), before.get("DaemonStartTime"),
                                       new.get("UpdateSequenceNumber"), new.get("DaemonStartTime")))
        return stats.lines()

    async def housekeep(self) -> None:
        now = time.time()
        default = self.config.get_int("CLASSAD_LIFETIME", 900)
        for table, ads in self.tables.items():
            for key in list(ads):
                ad = ads[key]
                times = ad.values(("ClassAdLifetime", "LastHeardFrom"))
                life = times.get("ClassAdLifetime")
                life = life if isinstance(life, int) and not isinstance(life, bool) else default
                heard = times.get("LastHeardFrom")
                if isinstance(heard, int) and now - heard > life and not (
                        table == "Collector" and key == self.name()):
                    self.log.log(T.STALE_AD.format(key=key))
                    if self.expire_to_absent(table, ad):
                        continue
                    del ads[key]
                    if table == "Machine":
                        self.tables.get(PRIVATE, {}).pop(key, None)
        for table, key in list(self.update_stats):       # statistics of ads no longer kept
            if key not in self.tables.get(table, {}):
                del self.update_stats[(table, key)]

    # ------------------------------------------------------------------ updates
    @_per_table(1)
    async def receive_update(self, req) -> None:
        cmd = req.cmd
        r = await req.read()
        max_attrs = self.config.get_int("COLLECTOR_MAX_AD_ATTRIBUTES", MAX_AD_ATTRIBUTES)
        max_bytes = self.config.get_int("COLLECTOR_MAX_AD_BYTES", MAX_AD_BYTES)
        idle = self.config.get_int("COLLECTOR_TCP_IDLE", 300)
        while True:
            before = r.remaining
            try:
                ad = read_ad(r, max_attrs)
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
            private = None
            if table == "Machine" and _s(ad, "MyType") == "StartD":
                table = "StartD"       # the startd's daemon ad: its own table, as real
            elif table == "Machine" and not r.at_end():
                try:                   # the startd's private ad, kept for NEGOTIATOR queries
                    private = read_ad(r, max_attrs)
                except ProtocolError as e:
                    self.log.log(T.AD_TOO_LARGE.format(
                        name=command_name(cmd), peer=req.chan.peer_description, reason=str(e)))
                    return
            self._collect(req, cmd, table, ad, private)
            # The real collector keeps the socket and serves further [cmd][ad] messages.
            try:
                r = await req.chan.read_message(timeout=idle)
            except ConnectionClosed:
                return
            cmd = r.get_int()
            if cmd == Cmd.DC_NOP or cmd not in UPDATES:
                return

    def _collect(self, req, cmd: int, table: str | None, ad, private) -> None:
        """One received update: validated, stored, then shown to the offline plug-in."""
        if not self.validate(cmd, ad, req.chan.peer_description):
            return
        if table is None:
            table = _s(ad, "MyType")
            if not table:
                self.log.log("collect: UPDATE_AD_GENERIC: ad has no type")
                self.log.log(T.MALFORMED_AD.format(cmd=cmd))
                return
        own = [("LastHeardFrom", f"LastHeardFrom = {int(time.time())}")]
        if req.authenticated:
            own.append(("AuthenticatedIdentity", _string_line("AuthenticatedIdentity", req.user)))
            if req.policy.get("AuthMethods"):
                own.append(("AuthenticationMethod",
                            _string_line("AuthenticationMethod", req.policy["AuthMethods"])))
        key = self._store(table, ad, cmd, own)
        if key is None:
            return
        ad = self.tables[table][key]
        if private is not None:
            private = private.with_lines([(name, ad.line_of(name)) for name in ("MyType", "MyAddress", "Name")
                                          if name in ad])
            self.tables.setdefault(PRIVATE, {})[key] = private
            self.log.log(T.STORING_AD.format(label="MachinePvtAd ", verb="Updating ... ", key=key),
                         "D_FULLDEBUG")
        self.offline_update(cmd, ad)

    def validate(self, cmd: int, ad, peer: str) -> bool:
        """COLLECTOR_REQUIREMENTS (``CollectorEngine::ValidateClassAd``): with it set, an
        ad whose ``<Subsys>IpAddr`` differs from MyAddress, or that the expression does not
        accept, is refused.  The expression sees the ad's attributes unqualified or as
        ``TARGET.``."""
        text = self.config.get("COLLECTOR_REQUIREMENTS")
        if not text:
            return True
        ipattr = IP_ATTRS.get(cmd)
        if ipattr and isinstance(ad.get(ipattr), str):
            mine = _s(ad, "MyAddress") or ""
            if mine != ad[ipattr]:
                self.log.log(f"COLLECTOR_REQUIREMENTS VIOLATION: ClassAd from {peer} advertises "
                             f"inconsistent IP addresses: {ipattr}={ad[ipattr]}, MyAddress={mine}")
                return False
        try:
            whole = ad.classad()
            ok = classad2.ExprTree(text).eval(whole, whole)
        except Exception:
            ok = None
        if not isinstance(ok, bool):
            self.log.log("WARNING: COLLECTOR_REQUIREMENTS did not evaluate to a boolean result.")
            ok = False
        if not ok:
            self.log.log(f"COLLECTOR_REQUIREMENTS VIOLATION: requirements do not match ad from {peer}.",
                         "D_MACHINE")
        return ok

    @_per_table(2)
    async def receive_invalidation(self, req) -> None:
        ad = get_ad(await req.read())
        table, _ = INVALIDATES[req.cmd]
        if table is None:
            table = _s(ad, "TargetType") or "Generic"
        elif table == "Machine" and _s(ad, "TargetType") == "StartD":
            table = "StartD"          # the startd's daemon ad, in its own table
        ads = self.tables.get(table, {})
        private = self.tables.get(PRIVATE, {}) if table == "Machine" else {}
        key = hash_key(table, ad) if _s(ad, "Name") else None
        removed = 0
        if key is not None and key in ads:
            del ads[key]
            private.pop(key, None)
            removed = 1
        elif "Requirements" in ad:
            req_expr = ad.lookup("Requirements")
            for k in list(ads):
                if _half_match(req_expr, ad, ads[k]):
                    del ads[k]
                    removed += 1
            for k in list(private):
                if _half_match(req_expr, ad, private[k]):
                    del private[k]
        self.log.log(T.INVALIDATED.format(count=removed, table=table), "D_FULLDEBUG")
        if req.cmd == Cmd.INVALIDATE_STARTD_ADS:
            self.offline_invalidate(ad)

    # ------------------------------------------------------------------ queries
    @command(*QUERIES, perm=Perm.READ)
    @command(Cmd.QUERY_STARTD_PVT_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS, perm=Perm.NEGOTIATOR)
    async def receive_query(self, req) -> None:
        who = "NEGOTIATOR" if req.cmd in (Cmd.QUERY_STARTD_PVT_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS) else "TOOL"
        self.pool_stats.query_started(who, time.time())
        try:
            await self.serve_query(req)
        finally:
            self.pool_stats.query_ended()

    async def serve_query(self, req) -> None:
        q = get_ad(await req.read())
        self.log.log(f"Got {command_name(req.cmd)}", "D_FULLDEBUG")
        scans = self.query_scans(req.cmd, q)
        if scans is None:
            return            # refused: the real collector closes without a reply
        msg = req.message()
        if any(t == "Collector" for t, *_ in scans):
            await self.advertise()    # fresh statistics for our own ad
        send_private = req.cmd in (Cmd.QUERY_STARTD_PVT_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS)
        multi = req.cmd in (Cmd.QUERY_MULTIPLE_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS)
        count = 0             # one limit over all tables, except QUERY_MULTIPLE's per type
        one = _INT.pack(1)
        encrypted = msg.encrypted
        for table, requirements, projection, limit, skip_absent in scans:
            if multi:
                count = 0
            elif limit and count >= limit:
                break
            constraint = None if requirements is None else Constraint(requirements)
            with_private = send_private and table == PRIVATE
            put = msg.put_bytes        # straight into the reply: no list of 10,000 copies
            for ad in list(self.tables.get(_table_name(self.tables, table), {}).values()):
                if skip_absent and "Absent" in ad and ad.get("Absent") is True:
                    continue
                if constraint is not None and not constraint.matches(ad):
                    continue
                put(one)
                put(ad.encode(encrypted, with_private) if projection is None
                    else ad.encode_projection(projection, encrypted, with_private))
                count += 1
                if limit and count >= limit:
                    break
        msg.put_int(0)
        await req.send(msg)

    def query_scans(self, cmd: int, q) -> list | None:
        """What a query reads (``make_query_entry``): one (table, Requirements,
        projection, limit, skip-absent) per table, or None when the query is refused.
        QUERY_MULTIPLE takes ``<Type>Requirements``, ``<Type>Projection`` and
        ``<Type>LimitResults`` for each listed type."""
        target = _s(q, "TargetType") or ""
        private_ok = cmd in (Cmd.QUERY_STARTD_PVT_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS)
        multi = False
        if cmd == Cmd.QUERY_GENERIC_ADS:
            if not target:
                self.log.log("Failed to find TargetType attribute in query ad of QUERY_GENERIC_ADS.")
                return None
            tables = [target]
        elif cmd == Cmd.QUERY_ANY_ADS or (cmd in (Cmd.QUERY_MULTIPLE_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS)
                                          and target in ("", "Any")):
            tables = [t for t in self.tables if t != PRIVATE]
        elif cmd in (Cmd.QUERY_MULTIPLE_ADS, Cmd.QUERY_MULTIPLE_PVT_ADS):
            tables = [t.strip() for t in target.split(",") if t.strip()]
            multi = True
            if any(t.lower() == PRIVATE.lower() for t in tables) and not private_ok:
                self.log.log("Query of STARTD_PVT_ADS not authorized.")
                return None
        elif cmd == Cmd.QUERY_STARTD_PVT_ADS:
            tables = [PRIVATE]
        elif cmd == Cmd.QUERY_STARTD_ADS:
            tables = ["StartD"] if target.lower() == "startd" else ["Machine"]
            if "LocationQuery" in q and target.lower() != "startd":
                tables = ["StartD", "Machine"]
        else:
            tables = [QUERIES.get(cmd, "Machine")]
        absent_filter = bool(self.config.get("ABSENT_REQUIREMENTS"))
        requirements, skip = _filter(q, "Requirements", absent_filter)
        projection = _projection(_s(q, "Projection"))
        limit = _limit(q.get("LimitResults"))
        scans = []
        for t in tables:
            req_t, skip_t, proj_t, limit_t = requirements, skip, projection, limit
            if multi:
                if f"{t}Requirements" in q:
                    req_t, skip_t = _filter(q, f"{t}Requirements", absent_filter)
                if isinstance(q.get(f"{t}Projection"), str):
                    proj_t = _projection(q.get(f"{t}Projection"))
                limit_t = _limit(q.get(f"{t}LimitResults")) or limit
            scans.append((t, req_t, proj_t, limit_t, skip_t))
        return scans


def _filter(q, attr: str, absent_filter: bool):
    """A query's constraint and whether Absent ads are left out: they are when
    ABSENT_REQUIREMENTS is set and the constraint does not mention Absent."""
    expr = q.lookup(attr) if attr in q else None
    if not absent_filter:
        return expr, False
    refs = ()
    if expr is not None:
        try:
            refs = q.externalRefs(expr)
        except Exception:
            refs = ()
    return expr, not any(r.lower() == "absent" for r in refs)


def _projection(text) -> list | None:
    if isinstance(text, str) and text.strip():
        return text.replace(",", " ").split()
    return None


def _limit(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


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
    """Requirements evaluated with the (parsed) ad as MY (no TARGET)."""
    return evaluates_true(expr, ad)


def _string_line(name: str, value: str) -> str:
    return format_line(name, value)


def _half_match(expr, query, stored) -> bool:
    """An invalidation's Requirements in its own ad, with the stored ad as TARGET (the
    real collector's half match; invalidations are rare, the stored ad is parsed)."""
    return evaluates_true(expr, query, stored.classad() if hasattr(stored, "classad") else stored)


def main() -> None:
    Collector.from_process().start()


if __name__ == "__main__":
    main()
