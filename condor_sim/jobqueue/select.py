"""Choosing jobs by constraint and shaping them for QUERY_JOB_ADS (``command_query_job_ads``),
sans-IO.

A constraint is evaluated by the real ClassAd library, but against a small ad: only the
attributes it can reach (the names it mentions, and the names their values mention, in
turn) are parsed, so a query over 10,000 jobs does not parse 10,000 whole ads.
"""
from __future__ import annotations

import re
import struct

import classad2

from ..cedar.classad_wire import is_private, wire_string
from .queue import COMPLETED, HELD, IDLE, REMOVED, RUNNING, SUSPENDED, TRANSFERRING_OUTPUT, int_value

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_TRUE = re.compile(r"[\s(]*true[\s)]*\Z", re.IGNORECASE)
SCHEDULER_UNIVERSE = 7
_INT = struct.Struct(">q")


def names_in(text: str) -> set[str]:
    """Lower-cased identifiers of an expression's text (string literals left out)."""
    return {m.lower() for m in _NAME.findall(_STRING.sub(" ", text))}


class Matcher:
    """A job constraint, evaluated as the schedd does (true only when it is ``true``)."""

    def __init__(self, text: str | None):
        text = (text or "").strip()
        self.always = not text or bool(_TRUE.match(text))
        self.text = text
        if not self.always:
            try:
                self.expr = classad2.ExprTree(text)
            except Exception:
                raise ValueError(f"cannot parse constraint {text[:200]!r}") from None
            self.refs = names_in(text)
        self._cluster_cache: dict = {}

    def _closure(self, cluster: dict, own: dict, seen: set | None = None) -> list[str]:
        lower = {k.lower(): k for k in cluster}
        lower.update({k.lower(): k for k in own})
        seen = set() if seen is None else seen
        todo = list(self.refs)
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            real = lower.get(n)
            if real is None:
                continue
            v = own.get(real)
            if v is None:
                v = cluster.get(real)
            todo.extend(names_in(v) - seen)
        return [lower[n] for n in seen if n in lower]

    def matches(self, cluster_id: int, cluster: dict, own: dict) -> bool:
        if self.always:
            return True
        names = self._names(cluster_id, cluster, own)
        lines = []
        for k in names:
            v = own.get(k)
            if v is None:
                v = cluster.get(k)
            if v is not None:
                lines.append(f"{k} = {v}")
        try:
            ad = classad2.parseNext("\n".join(lines), parser=classad2.ParserType.Old) if lines \
                else classad2.ClassAd()
            return self.expr.eval(ad) is True
        except Exception:
            return False

    def _names(self, cluster_id: int, cluster: dict, own: dict) -> list[str]:
        """The attributes the constraint can reach for this job.  What the cluster ad
        reaches is worked out once per cluster; a proc's own attributes join it when
        named, and only an own value that names something new needs the whole walk."""
        cached = self._cluster_cache.get(cluster_id)
        if cached is None:
            reach: set[str] = set()
            names = self._closure(cluster, {}, reach)
            cached = (names, reach)
            self._cluster_cache[cluster_id] = cached
        names, reach = cached
        extra = []
        for k, v in own.items():
            low = k.lower()
            if low in reach or low in self.refs:
                if names_in(v) - reach:
                    return self._closure(cluster, own)
                if k not in cluster:
                    extra.append(k)
        return names + extra if extra else names


def select(queue, constraint: str | None, *, owner: str | None = None, limit: int = -1):
    """(c, p) of the committed jobs that match, in queue order."""
    m = Matcher(constraint)
    out = []
    clusters = queue.clusters
    for (c, p), own in queue.jobs.items():
        cl = clusters.get(c, {})
        if owner is not None and cl.get("Owner") != f'"{owner}"':
            continue
        if m.matches(c, cl, own):
            out.append((c, p))
            if 0 <= limit <= len(out):
                break
    return out


def select_clusters(queue, constraint: str, among=None) -> list[int]:
    """The committed clusters whose own ad (no proc's) the constraint is true of: in queue
    order, or of ``among`` only, in id order."""
    m = Matcher(constraint)
    ids = sorted(c for c in among if c in queue.clusters) if among is not None else list(queue.clusters)
    return [c for c in ids if m.matches(c, queue.clusters[c], {})]


def projection_list(value) -> list[str]:
    """The request's Projection: a list, or a string of names separated by commas, spaces
    or newlines."""
    if value is None:
        return []
    if isinstance(value, str):
        return [n for n in re.split(r"[\s,]+", value) if n]
    try:
        return [str(n) for n in value if isinstance(n, str) and n]
    except TypeError:
        return []


def job_lines(cluster: dict, own: dict, projection: list[str] | None,
              cluster_names: dict | None = None) -> list[str]:
    """The job's attributes as wire lines (private ones never); ``projection`` is in output
    order.  Names match case-insensitively, as in ClassAds; ``cluster_names`` (lower-cased
    name -> name of the cluster ad) spares building that index for every proc."""
    if projection:
        if cluster_names is None:
            cluster_names = {k.lower(): k for k in cluster}
        own_names = None
        out = []
        for name in projection:
            v = own.get(name)
            if v is None:
                v = cluster.get(name)
            if v is None:
                low = name.lower()
                if own_names is None:
                    own_names = {k.lower(): k for k in own}
                real = own_names.get(low)
                if real is not None:
                    v, name = own[real], real
                else:
                    real = cluster_names.get(low)
                    if real is not None:
                        v, name = cluster[real], real
            if v is not None and not is_private(name):
                out.append(f"{name} = {v}")
        return out
    merged = dict(cluster)
    merged.update(own)
    return [f"{k} = {v}" for k, v in merged.items() if not is_private(k)]


COUNTERS = (("Jobs", None), ("Idle", IDLE), ("Running", RUNNING), ("Removed", REMOVED),
            ("Completed", COMPLETED), ("Held", HELD), ("Suspended", SUSPENDED))


class Tally:
    """LiveJobCounters: jobs by state, and scheduler-universe jobs apart."""

    def __init__(self):
        self.n = {name: 0 for name, _ in COUNTERS}
        self.sched = {name: 0 for name, _ in COUNTERS}

    def add(self, status: int, universe: int) -> None:
        bucket = self.sched if universe == SCHEDULER_UNIVERSE else self.n
        bucket["Jobs"] += 1
        if status == TRANSFERRING_OUTPUT:
            status = RUNNING
        for name, st in COUNTERS[1:]:
            if st == status:
                bucket[name] += 1

    def lines(self, prefix: str = "") -> list[str]:
        out = [f"{prefix}{k} = {v}" for k, v in self.n.items()]
        out += [f"{prefix}Scheduler{k} = {v}" for k, v in self.sched.items() if k != "Suspended"]
        return out


def tally(queue, jobs=None) -> Tally:
    t = Tally()
    clusters = queue.clusters
    items = queue.jobs.items() if jobs is None else ((j, queue.jobs[j]) for j in jobs if j in queue.jobs)
    for (c, p), own in items:
        cl = clusters.get(c, {})
        st = int_value(own.get("JobStatus") or cl.get("JobStatus"), 0)
        uni = int_value(own.get("JobUniverse") or cl.get("JobUniverse"), 5)
        t.add(st, uni)
    return t


def summary_lines(mine: Tally, everyone: Tally, server_time: int | None) -> list[str]:
    lines = ["Owner = 0", 'MyType = "Summary"', "ErrorCode = 0"]
    if server_time is not None:
        lines.append(f"ServerTime = {server_time}")
    lines += mine.lines()
    lines += everyone.lines("Allusers")
    return lines


class AdEncoder:
    """Job ads straight to message payloads (``[int N][N strings]["" ""]``), for queries
    over many jobs: a cluster's lines are encoded once per query and shared by its procs."""

    def __init__(self, encrypted: bool, projection: list[str] | None = None,
                 server_time: int | None = None):
        self.encrypted = encrypted
        self.projection = sorted(set(projection), key=str.lower) if projection else None
        self._clusters: dict[int, list] = {}
        self._names: dict[int, dict] = {}
        extra = [f"ServerTime = {server_time}"] if server_time is not None else []
        self._extra_count = len(extra)
        self._tail = b"".join(self.string(x) for x in extra + ["", ""])

    def string(self, text: str) -> bytes:
        return wire_string(text, self.encrypted)

    def payload(self, cluster_id: int, cluster: dict, own: dict) -> bytes:
        if self.projection is not None:
            names = self._names.get(cluster_id)
            if names is None:
                names = self._names[cluster_id] = {k.lower(): k for k in cluster}
            lines = [self.string(x) for x in job_lines(cluster, own, self.projection, names)]
        else:
            parts = self._clusters.get(cluster_id)
            if parts is None:
                parts = [(k, self.string(f"{k} = {v}")) for k, v in cluster.items() if not is_private(k)]
                self._clusters[cluster_id] = parts
            lines = [b for k, b in parts if k not in own]
            lines += [self.string(f"{k} = {v}") for k, v in own.items() if not is_private(k)]
        return _INT.pack(len(lines) + self._extra_count) + b"".join(lines) + self._tail
