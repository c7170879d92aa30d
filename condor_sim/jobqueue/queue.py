"""The job queue in memory, sans-IO: cluster and proc ads, transactions, and the
job_queue.log lines each committed transaction turns into.

Ads hold attribute values as the old-ClassAd expression text clients send and the log
stores (``{"Owner": '"alice"', "JobStatus": "1"}``); a job is its cluster ad with its proc
ad on top (the real schedd chains them the same way).  Nothing is parsed unless a
constraint must be evaluated (:mod:`condor_sim.jobqueue.select`).

Changes are made through a :class:`Transaction`.  Until it commits, nothing it does is
visible in the queue: new ads live in the transaction, and changes to committed ads are
kept aside.  :meth:`JobQueue.commit` applies them and returns the log text to append; the
caller writes (and syncs) it before anyone is told the commit succeeded.
"""
from __future__ import annotations

from collections import ChainMap

from . import classad_log as L

IDLE, RUNNING, REMOVED, COMPLETED, HELD, TRANSFERRING_OUTPUT, SUSPENDED = 1, 2, 3, 4, 5, 6, 7
STATUS_NAMES = {IDLE: "Idle", RUNNING: "Running", REMOVED: "Removed", COMPLETED: "Completed",
                HELD: "Held", TRANSFERRING_OUTPUT: "TransferringOutput", SUSPENDED: "Suspended"}
HEADER_KEY = "0.0"
DELETED = object()


def quote(s: str) -> str:
    """A Python string as a ClassAd string literal (old and new syntax agree for these)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(text: str | None) -> str | None:
    """The string a literal like ``"alice"`` holds (None if ``text`` is not a plain literal)."""
    if text and len(text) >= 2 and text[0] == '"' and text[-1] == '"' and '"' not in text[1:-1]:
        return text[1:-1]
    return None


def int_value(text: str | None, default: int | None = None) -> int | None:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            return default
        return int(f) if f == f and abs(f) != float("inf") else default


class Transaction:
    """One open transaction: its log lines, the ads it creates, its changes to others."""

    def __init__(self, queue: "JobQueue"):
        self.queue = queue
        self.lines: list[str] = []
        self.new_ads: dict[str, L.Ad] = {}             # created here (key -> ad)
        self.changes: dict[str, dict] = {}             # committed key -> {name: value | DELETED}
        self.destroyed: list[str] = []
        self.new_clusters: list[int] = []
        self.new_jobs: list[tuple[int, int]] = []
        self.edited_clusters: set[int] = set()         # cluster ads a client edited after submit

    # -- primitive operations (each one log record)
    def new_ad(self, key: str, mytype: str = "Job", targettype: str = "Machine") -> None:
        self.new_ads[key] = L.Ad(mytype, targettype)
        self.lines.append(L.new_ad(key, mytype, targettype))

    def set(self, key: str, name: str, value: str) -> None:
        ad = self.new_ads.get(key)
        if ad is not None:
            ad.attrs[name] = value
        else:
            self.changes.setdefault(key, {})[name] = value
        self.lines.append(f"103 {key} {name} {value}\n")

    def delete(self, key: str, name: str) -> None:
        ad = self.new_ads.get(key)
        if ad is not None:
            ad.attrs.pop(name, None)
        else:
            self.changes.setdefault(key, {})[name] = DELETED
        self.lines.append(L.delete_attr(key, name))

    def destroy(self, key: str) -> None:
        if self.new_ads.pop(key, None) is None:
            self.destroyed.append(key)
        self.changes.pop(key, None)
        self.lines.append(L.destroy_ad(key))

    # -- reads that see this transaction's own changes
    def lookup(self, key: str, name: str) -> str | None:
        ad = self.new_ads.get(key)
        if ad is not None:
            return ad.attrs.get(name)
        ch = self.changes.get(key)
        if ch is not None and name in ch:
            v = ch[name]
            return None if v is DELETED else v
        committed = self.queue.ads.get(key)
        return committed.attrs.get(name) if committed is not None else None

    def job_lookup(self, cluster: int, proc: int, name: str) -> str | None:
        """``name`` of job c.p, falling back to its cluster ad as the chained ad does."""
        if proc >= 0:
            v = self.lookup(L.job_key(cluster, proc), name)
            if v is not None:
                return v
        return self.lookup(L.cluster_key(cluster), name)

    def exists(self, key: str) -> bool:
        return key in self.new_ads or (key in self.queue.ads and key not in self.destroyed)

    @property
    def empty(self) -> bool:
        return not self.lines


class JobQueue:
    """The table of ads (keyed as in job_queue.log) with job and cluster indexes."""

    def __init__(self, uid_domain: str = "", schedd_name: str = ""):
        self.ads: dict[str, L.Ad] = {}
        self.clusters: dict[int, dict] = {}           # cluster id -> cluster ad attrs
        self.jobs: dict[tuple[int, int], dict] = {}   # (c, p) -> proc ad attrs (own only)
        self.cluster_procs: dict[int, set] = {}
        self.uid_domain = uid_domain
        self.schedd_name = schedd_name
        self.next_cluster = 1
        self.sequence = 1
        self.created = 0
        self.users: dict[str, str] = {}               # "owner@domain" -> user record key

    # ------------------------------------------------------------------ state
    def load(self, replay: L.Replay) -> None:
        """Take over what a log replay found."""
        self.ads = replay.ads
        self.sequence = replay.sequence
        self.created = replay.created or 0
        self._reindex()

    def _reindex(self) -> None:
        self.clusters.clear()
        self.jobs.clear()
        self.cluster_procs.clear()
        self.users.clear()
        top = 0
        for key, ad in self.ads.items():
            self._index(key, ad)
            cp = L.parse_key(key)
            if cp and cp[0] > 0:
                top = max(top, cp[0])
        header = self.ads.get(HEADER_KEY)
        stored = int_value(header.attrs.get("NextClusterNum")) if header else None
        self.next_cluster = max(stored or 1, top + 1)

    def _index(self, key: str, ad: L.Ad) -> None:
        cp = L.parse_key(key)
        if cp is None:
            return
        c, p = cp
        if c > 0 and p == -1:
            self.clusters[c] = ad.attrs
            self.cluster_procs.setdefault(c, set())
        elif c > 0 and p >= 0:
            self.jobs[(c, p)] = ad.attrs
            self.cluster_procs.setdefault(c, set()).add(p)
        elif c == 0 and p > 0 and ad.mytype == "Owner":
            user = unquote(ad.attrs.get("User"))
            if user:
                self.users[user] = key

    def _unindex(self, key: str) -> None:
        cp = L.parse_key(key)
        if cp is None:
            return
        c, p = cp
        if c > 0 and p == -1:
            self.clusters.pop(c, None)
            if not self.cluster_procs.get(c):
                self.cluster_procs.pop(c, None)
        elif c > 0 and p >= 0:
            self.jobs.pop((c, p), None)
            procs = self.cluster_procs.get(c)
            if procs is not None:
                procs.discard(p)

    def job(self, cluster: int, proc: int):
        """The job's attributes as one mapping (proc ad over cluster ad), or None."""
        own = self.jobs.get((cluster, proc))
        if own is None:
            return None
        return ChainMap(own, self.clusters.get(cluster, {}))

    def job_attr(self, cluster: int, proc: int, name: str) -> str | None:
        own = self.jobs.get((cluster, proc))
        if own is None:
            return None
        v = own.get(name)
        if v is None:
            v = self.clusters.get(cluster, {}).get(name)
        return v

    def status(self, cluster: int, proc: int) -> int | None:
        return int_value(self.job_attr(cluster, proc, "JobStatus"))

    def owners(self) -> dict[str, dict[int, int]]:
        """Job counts by status, per owner (the Submitter ads; summed, the Scheduler ad's
        totals)."""
        out: dict[str, dict[int, int]] = {}
        for (c, p), own in self.jobs.items():
            cl = self.clusters.get(c, {})
            owner = unquote(cl.get("Owner")) or ""
            st = int_value(own.get("JobStatus") or cl.get("JobStatus"), 0)
            d = out.setdefault(owner, {})
            d[st] = d.get(st, 0) + 1
        return out

    # ------------------------------------------------------------------ transactions
    def begin(self) -> Transaction:
        return Transaction(self)

    def commit(self, txn: Transaction) -> str:
        """Apply ``txn`` and return its log text ("" for an empty transaction)."""
        text = self.log_text(txn)
        self.apply(txn)
        return text

    @staticmethod
    def log_text(txn: Transaction) -> str:
        return L.transaction(txn.lines) if txn.lines else ""

    def apply(self, txn: Transaction) -> None:
        """Make ``txn``'s changes in memory (after its log text is safely on disk)."""
        for key in txn.destroyed:
            if self.ads.pop(key, None) is not None:
                self._unindex(key)
        for key, changes in txn.changes.items():
            ad = self.ads.get(key)
            if ad is None:
                continue
            for name, v in changes.items():
                if v is DELETED:
                    ad.attrs.pop(name, None)
                else:
                    ad.attrs[name] = v
        for key, ad in txn.new_ads.items():
            self.ads[key] = ad
            self._index(key, ad)
        return L.transaction(txn.lines)

    def header_lines(self, now: int) -> str:
        """A new log: the sequence record, the header ad (``0.0``) and, in a transaction,
        the UID domain, as a fresh real schedd writes them."""
        self.created = self.created or now
        header = L.Ad("Job", "Machine")
        self.ads[HEADER_KEY] = header
        txn = self.begin()
        txn.set(HEADER_KEY, "UidDomain", quote(self.uid_domain))
        return L.sequence(self.sequence, self.created) + L.new_ad(HEADER_KEY) + self.commit(txn)

    def compacted(self) -> str:
        """The whole queue as a fresh log (one sequence number later)."""
        return L.snapshot(self.sequence + 1, self.created, self.ads)
