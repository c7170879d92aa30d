"""The per-ad update statistics the real collector writes into every stored ad
(``CollectorDaemonStatsList::updateStats`` of ``collector_stats.cpp``), sans-IO.

Each daemon ad, by type and key, has a count of updates, of updates whose predecessor was
known (sequenced), of updates found lost from gaps in ``UpdateSequenceNumber`` within one
``DaemonStartTime``, and a ring of COLLECTOR_DAEMON_HISTORY_SIZE bits (1: lost) printed
newest first as hex: ``UpdatesTotal``, ``UpdatesSequenced``, ``UpdatesLost``,
``UpdatesHistory``.
"""
from __future__ import annotations

WORD_BITS = 32
DEFAULT_HISTORY = 128


class UpdateStats:
    """One ad's counters and its history ring (the real one's bit layout: words of 32
    bits, and a write position that wraps one bit before the end)."""

    __slots__ = ("total", "sequenced", "dropped", "bits", "bitnum", "size", "maxbit")

    def __init__(self, size: int = DEFAULT_HISTORY):
        self.total = self.sequenced = self.dropped = 0
        self.bits = 0
        self.bitnum = 0
        self.size = max(0, size)
        words = (self.size + WORD_BITS - 1) // WORD_BITS
        self.maxbit = WORD_BITS * words - 1 if self.size else 0

    def update(self, sequenced: bool, dropped: int) -> None:
        self.total += 1
        self.sequenced += dropped + (1 if sequenced else 0)
        self.dropped += dropped
        if dropped:
            self._set(True, dropped)
        self._set(False, 1)

    def _set(self, lost: bool, count: int) -> None:
        if not self.size:
            return
        if count >= self.maxbit:          # the whole ring over: every bit it writes is set
            mask = (1 << self.maxbit) - 1
            self.bits = self.bits | mask if lost else self.bits & ~mask
            self.bitnum = (self.bitnum + count) % self.maxbit
            return
        for _ in range(count):
            mask = 1 << self.bitnum
            self.bits = self.bits | mask if lost else self.bits & ~mask
            self.bitnum += 1
            if self.bitnum >= self.maxbit:
                self.bitnum = 0

    def history(self) -> str:
        """The ring newest first, four bits to a hex digit (``getHistoryString``)."""
        if not self.size:
            return ""
        if not self.bits:
            return "0" * ((self.size + 3) // 4)
        offset = self.bitnum - 1
        if offset < 0:
            offset = self.maxbit
        out = []
        digit = used = 0
        total_bits = self.maxbit + 1
        for _ in range(self.size):
            if self.bits >> offset & 1:
                digit |= 0x8 >> used
            offset = offset - 1 if offset > 0 else total_bits - 1
            used += 1
            if used == 4:
                out.append("0123456789abcdef"[digit])
                digit = used = 0
        if used:
            out.append("0123456789abcdef"[digit])
        return "".join(out)

    def lines(self) -> list[tuple[str, str]]:
        """The four attributes as (name, wire line)."""
        out = [("UpdatesTotal", f"UpdatesTotal = {self.total}"),
               ("UpdatesSequenced", f"UpdatesSequenced = {self.sequenced}"),
               ("UpdatesLost", f"UpdatesLost = {self.dropped}")]
        if self.size:
            out.append(("UpdatesHistory", f'UpdatesHistory = "{self.history()}"'))
        return out


def lost_updates(old_seq, old_start, new_seq, new_start) -> tuple[bool, int]:
    """(sequenced, dropped) of an update over a stored ad (``CollectorStats::update``)."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (old_seq, old_start, new_seq, new_start)):
        return False, 0
    expected = old_seq + 1
    if new_start == old_start and expected != new_seq:
        return True, 1 if new_seq < expected else new_seq - expected
    return True, 0


# ---------------------------------------------------------------------------- the pool's
# The class each table's updates count under (collector_engine.cpp's updateClassAd labels).
CLASS_OF_TABLE = {"Machine": "Slot", "StartD": "StartD", "MachinePrivate": "MachinePvt",
                  "Scheduler": "Schedd", "Submitter": "Submittor", "DaemonMaster": "Master"}
# Universes of the CurrentJobsRunning* / MaxJobsRunning* attributes.
UNIVERSES = ("All", "Grid", "Java", "Linda", "Local", "MPI", "PVM", "PVMD", "Parallel", "Pipe",
             "Scheduler", "Standard", "Unknown", "VM", "Vanilla")
CCB_COUNTERS = ("CCBOutboundFailed", "CCBOutboundForwarded", "CCBOutboundRequests", "CCBReconnects",
                "CCBRequests", "CCBRequestsFailed", "CCBRequestsNotFound", "CCBRequestsSucceeded",
                "CCBStreamingBytes", "CCBStreamingFailed", "CCBStreamingRequests",
                "CCBStreamingSessions", "CCBTunnelRelays", "CCBTunnelRelaysFailed")
CCB_GAUGES = ("CCBEndpointsConnected", "CCBEndpointsRegistered", "CCBStreamingActive",
              "CCBStreamingHandshakesActive")


class PoolStats:
    """The statistics the collector publishes in its own ad (``UpdatesStats::Publish`` and
    the collector's query and job counters at the DEFAULT level of STATISTICS_TO_PUBLISH):
    update counts overall and per class of ad, with their ``Recent`` values over the
    last STATISTICS_WINDOW_SECONDS; the queries served; the pool's ads and running jobs,
    with their peaks.  This pool has no CCB: those counters are published as zero."""

    def __init__(self, now: float, window: int = 1200):
        self.start = now
        self.window = max(1, window)
        self.events: list[tuple[float, str, int, int]] = []   # (time, class, initial, lost)
        self.totals: dict[str, list[int]] = {}                # class -> [total, initial, lost]
        self.lost_max = 0
        self.queries: dict[str, int] = {"NEGOTIATOR": 0, "TOOL": 0}
        self.query_events: list[tuple[float, str]] = []
        self.active_queries = self.active_peak = 0
        self.peaks: dict[str, int] = {}

    def update(self, cls: str, sequenced: bool, dropped: int, now: float) -> None:
        t = self.totals.setdefault(cls, [0, 0, 0])
        t[0] += 1
        t[1] += 0 if sequenced else 1
        t[2] += dropped
        self.lost_max = max(self.lost_max, dropped)
        self.events.append((now, cls, 0 if sequenced else 1, dropped))
        self._forget(now)

    def query_started(self, who: str, now: float) -> None:
        self.queries[who] = self.queries.get(who, 0) + 1
        self.query_events.append((now, who))
        self.active_queries += 1
        self.active_peak = max(self.active_peak, self.active_queries)
        self._forget(now)

    def query_ended(self) -> None:
        self.active_queries = max(0, self.active_queries - 1)

    def _forget(self, now: float) -> None:
        edge = now - self.window
        if self.events and self.events[0][0] < edge:
            self.events = [e for e in self.events if e[0] >= edge]
        if self.query_events and self.query_events[0][0] < edge:
            self.query_events = [e for e in self.query_events if e[0] >= edge]

    def _gauge(self, name: str, value: int, out: dict) -> None:
        self.peaks[name] = max(self.peaks.get(name, 0), value)
        out[name] = value
        out[name + "Peak"] = self.peaks[name]

    def publish(self, now: float, *, machine_ads: int, submitter_ads: int, running_jobs: int) -> dict:
        self._forget(now)
        out: dict = {}
        total = sum(t[0] for t in self.totals.values())
        lost = sum(t[2] for t in self.totals.values())
        recent: dict[str, list[int]] = {}
        for _, cls, initial, dropped in self.events:
            r = recent.setdefault(cls, [0, 0, 0])
            r[0] += 1
            r[1] += initial
            r[2] += dropped
        r_total = sum(r[0] for r in recent.values())
        r_lost = sum(r[2] for r in recent.values())
        out.update({"UpdatesTotal": total, "UpdatesInitial": sum(t[1] for t in self.totals.values()),
                    "UpdatesLost": lost, "UpdatesLostMax": self.lost_max,
                    "UpdatesLostRatio": lost / total if total else 0.0,
                    "RecentUpdatesTotal": r_total,
                    "RecentUpdatesInitial": sum(r[1] for r in recent.values()),
                    "RecentUpdatesLost": r_lost,
                    "RecentUpdatesLostMax": max((e[3] for e in self.events), default=0),
                    "RecentUpdatesLostRatio": r_lost / r_total if r_total else 0.0})
        for cls, (t_total, t_initial, t_lost) in self.totals.items():
            r = recent.get(cls, [0, 0, 0])
            out.update({f"UpdatesTotal_{cls}": t_total, f"UpdatesInitial_{cls}": t_initial,
                        f"UpdatesLost_{cls}": t_lost, f"RecentUpdatesTotal_{cls}": r[0],
                        f"RecentUpdatesInitial_{cls}": r[1], f"RecentUpdatesLost_{cls}": r[2]})
        for who, n in self.queries.items():
            out[f"ForkQueriesFrom{who}"] = n
            out[f"RecentForkQueriesFrom{who}"] = sum(1 for _, w in self.query_events if w == who)
        out["ActiveQueryWorkers"] = self.active_queries
        out["ActiveQueryWorkersPeak"] = self.active_peak
        self._gauge("PendingQueries", 0, out)
        out["DroppedQueries"] = out["RecentDroppedQueries"] = 0
        self._gauge("MachineAds", machine_ads, out)
        self._gauge("SubmitterAds", submitter_ads, out)
        for u in UNIVERSES:
            value = running_jobs if u in ("All", "Vanilla") else 0
            key = f"JobsRunning{u}"
            self.peaks[key] = max(self.peaks.get(key, 0), value)
            out[f"CurrentJobsRunning{u}"] = value
            out[f"MaxJobsRunning{u}"] = self.peaks[key]
        for name in CCB_COUNTERS:
            out[name] = out[f"Recent{name}"] = 0
        for name in CCB_GAUGES:
            out[name] = out[name + "Peak"] = 0
        lifetime = int(now - self.start)
        out["StatsLifetime"] = lifetime
        out["RecentStatsLifetime"] = min(lifetime, self.window)
        out["StatsLastUpdateTime"] = int(now)
        return out
