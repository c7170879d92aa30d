"""The QMGMT remote procedure calls (``qmgmt_receivers.cpp``), sans-IO.

After QMGMT_WRITE_CMD (1112) or QMGMT_READ_CMD (1111) a client sends requests, one
message each: ``[int request][args...]``.  :meth:`QmgmtSession.handle` takes one request
message and returns the reply messages' payloads (often none: SetAttribute with NoAck is
answered only at commit).  Committing is the caller's: the session hands it the
transaction through ``commit(txn) -> error | None`` and replies after it returns, so the
caller can write and sync the log first.

Only one session at a time may change the queue (the real schedd serves a QMGMT
connection to its end before any other); the caller serializes sessions that have
started a transaction.
"""
from __future__ import annotations

import errno as E
import time
from typing import Callable

from ..cedar.classad_wire import encode_lines
from ..cedar.stream import MessageReader, MessageWriter
from . import classad_log as L
from . import factory as F
from . import rules
from .queue import Transaction, int_value, quote, unquote
from .select import select_clusters

InitializeConnection = 10001
NewCluster = 10002
NewProc = 10003
DestroyCluster = 10004
DestroyProc = 10005
SetAttribute = 10006
CommitTransactionNoFlags = 10007
GetAttributeFloat = 10008
GetAttributeInt = 10009
GetAttributeString = 10010
GetAttributeExpr = 10011
DeleteAttribute = 10012
GetJobAd = 10018
SetAttributeByConstraint = 10021
InitializeReadOnlyConnection = 10022
BeginTransaction = 10023
AbortTransaction = 10024
GetAllJobsByConstraint = 10026
SetAttribute2 = 10027
CloseSocket = 10028
SetEffectiveOwner = 10030
CommitTransaction = 10031
SetAttributeByConstraint2 = 10032
SetAllowProtectedAttrChanges = 10035
GetCapabilities = 10036
SetJobFactory = 10037
SendMaterializeData = 10039

NO_ACK = 0x02
ONLY_MY_JOBS = 0x10
QUERY_ONLY = 0x20
POST_SUBMIT_CLUSTER_CHANGE = 0x80
NEWJOB_ERR_MAX_JOBS_SUBMITTED, NEWJOB_ERR_MAX_JOBS_PER_OWNER, NEWJOB_ERR_MAX_JOBS_PER_SUBMISSION = -2, -3, -4


# what GetCapabilities answers
CAPABILITIES = ["LateMaterialize = true", "LateMaterializeVersion = 2", "UseJobsets = false"]


def reply(rval: int, err: int = 0, encrypted: bool = False) -> MessageWriter:
    """A request's answer: the return value, and the errno when it is negative."""
    w = MessageWriter(encrypted)
    w.put_int(rval)
    if rval < 0:
        w.put_int(err)
    return w


def read_set_attribute(r: MessageReader, num: int) -> tuple[int, int, str, str, bool]:
    """A SetAttribute(2) request's ``(cluster, proc, value, name, no_ack)``."""
    c = r.get_int()
    p = r.get_int()
    value = r.get_str()
    name = r.get_str()
    flags = r.get_bytes(1)[0] if num == SetAttribute2 and r.remaining else 0
    return c, p, value, name, bool(flags & NO_ACK)


class CloseSession(Exception):
    """The request ends the session (CloseSocket, or a request that cannot be served)."""


class QmgmtSession:
    """One QMGMT connection: who the peer is, its open transaction, its active cluster."""

    def __init__(self, queue, policy: rules.QueuePolicy, user: str, authenticated: bool, *,
                 write: bool, commit: Callable, select=None, now=time.time, log=None,
                 encrypted: bool = False):
        self.queue = queue
        self.policy = policy
        self.user = user
        self.authenticated = authenticated
        self.write = write
        self._commit = commit
        self.select = select            # callable(constraint_text) -> list[(c, p)]
        self.now = now
        self.log = log or (lambda msg: None)
        self.txn: Transaction | None = None
        self.errors: list[tuple[int, str]] = []
        self.active_cluster = -1
        self.next_proc = 0
        self.submitted: dict[int, int] = {}     # cluster -> procs, in the open transaction
        self.factories: dict[int, F.Pending] = {}   # cluster -> its factory, in the transaction
        self._last_num = 0
        self.encrypted = encrypted

    def _reply(self, rval: int, err: int = 0) -> MessageWriter:
        return reply(rval, err, self.encrypted)

    def _ad_lines(self, lines: list[str]) -> bytes:
        return encode_lines(lines, self.encrypted)

    # ------------------------------------------------------------------ plumbing
    @property
    def in_transaction(self) -> bool:
        return self.txn is not None

    def _txn(self) -> Transaction:
        if self.txn is None:
            self.txn = self.queue.begin()
        return self.txn

    def abort(self) -> None:
        self.txn = None
        self.errors = []
        self.active_cluster = -1
        self.next_proc = 0
        self.submitted = {}
        self.factories = {}

    async def handle(self, r: MessageReader) -> list[bytes]:
        """One request in, its replies out; raises CloseSession to end the session."""
        num = r.get_int()
        fn = REQUESTS.get(num)
        if fn is None:
            raise CloseSession(f"unknown QMGMT request {num}")
        if num in WRITES and not self.write:
            return [self._reply(-1, E.EACCES).getvalue()]
        self._last_num = num          # a handler serving two numbers tells them apart by it
        out = fn(self, r)
        if hasattr(out, "__await__"):
            out = await out
        return [m.getvalue() if isinstance(m, MessageWriter) else m for m in (out or [])]

    # ------------------------------------------------------------------ requests
    def noop(self, r):
        return []

    def close(self, r):
        raise CloseSession("CloseSocket")

    def capabilities(self, r):
        r.get_int()
        return [self._ad_lines(CAPABILITIES)]

    def begin(self, r):
        self.errors = []
        self._txn()
        return [self._reply(0)]

    def abort_request(self, r):
        self.abort()
        return [self._reply(0)]

    def new_cluster(self, r):
        txn = self._txn()
        q = self.queue
        err = None
        if not self.authenticated:
            err = (E.EACCES, "Cannot allocate a cluster id")
        elif q.next_cluster > rules.MAX_ID - 1:
            err = (E.EINVAL, "Cannot allocate a cluster id")
        if err:
            w = self._reply(-1, err[0])
            w.put_bytes(self._ad_lines([f"ErrorCode = {err[0]}", f"ErrorReason = {quote(err[1])}"]))
            return [w]
        c = q.next_cluster
        q.next_cluster = c + 1
        txn.set("0.0", "NextClusterNum", str(c + 1))
        txn.new_ad(L.cluster_key(c))
        txn.new_ad(f"{c}.-2", "ClusterPvt", "")
        self.active_cluster = c
        self.next_proc = 0
        self.submitted[c] = 0
        return [self._reply(c)]

    def new_proc(self, r):
        c = r.get_int()
        txn = self._txn()
        if c != self.active_cluster or c <= 0:
            return [self._reply(-1, E.EACCES)]
        added = sum(self.submitted.values())
        pol = self.policy
        if len(self.queue.jobs) + added >= pol.max_jobs_submitted:
            self.log("NewProc(): MAX_JOBS_SUBMITTED exceeded, submit failed")
            return [self._reply(NEWJOB_ERR_MAX_JOBS_SUBMITTED, E.EINVAL)]
        owner = self.user.split("@", 1)[0]
        mine = self.queue.owners().get(owner, {}) if pol.max_jobs_per_owner < len(self.queue.jobs) + added + 1 else {}
        if sum(mine.values()) + added >= pol.max_jobs_per_owner:
            self.log(f"NewProc(): MAX_JOBS_PER_OWNER exceeded for {owner}, submit failed.  "
                     f"Current total is {sum(mine.values()) + added}.  Limit is {pol.max_jobs_per_owner}.")
            return [self._reply(NEWJOB_ERR_MAX_JOBS_PER_OWNER, E.EINVAL)]
        if added >= pol.max_jobs_per_submission:
            self.log(f"NewProc(): MAX_JOBS_PER_SUBMISSION exceeded, submit failed.  "
                     f"Current total is {added}.  Limit is {pol.max_jobs_per_submission}.")
            return [self._reply(NEWJOB_ERR_MAX_JOBS_PER_SUBMISSION, E.EINVAL)]
        p = self.next_proc
        self.next_proc += 1
        key = L.job_key(c, p)
        txn.new_ad(key)
        gid = f"{self.policy.schedd_name}#{c}.{p}"
        if self.policy.global_id_with_time:
            gid += f"#{int(self.now())}"
        txn.set(key, "GlobalJobId", quote(gid))
        self.submitted[c] = self.next_proc
        return [self._reply(p)]

    def set_attribute(self, r):
        c, p, value, name, no_ack = read_set_attribute(r, self._last_num)
        if not value:
            if no_ack:
                raise CloseSession(f"SetAttribute got NULL value for {name}")
            return [self._reply(-1, E.EINVAL)]
        if self.errors and no_ack:
            return []
        err = rules.set_attribute(self._txn(), self, c, p, name, value)
        if err is not None:
            self.log(f"SetAttribute({c}.{p}, {name}) refused: {err[1]}")
            if no_ack:
                self.errors.append(err)
                return []
            return [self._reply(-1, err[0])]
        return [] if no_ack else [self._reply(0)]

    def set_by_constraint(self, r):
        """SetAttributeByConstraint: the attribute on every job that matches; the reply is
        the number of jobs matched, or -1 if none did or any change was refused (then
        the client does not commit).  OnlyMyJobs narrows to the caller's jobs unless it
        is a queue super user; QueryOnly checks without changing."""
        num2 = self._last_num == SetAttributeByConstraint2
        constraint = r.get_str()
        value = r.get_str()
        name = r.get_str()
        flags = r.get_bytes(1)[0] if num2 and r.remaining else 0
        if not self.authenticated:
            return [self._reply(-1, E.EACCES)]
        mine = bool(flags & ONLY_MY_JOBS) and not self.policy.is_super(self.user)
        try:
            ids = self.select(constraint) if self.select else []
        except ValueError:
            return [self._reply(-1, E.EINVAL)]
        txn = self.queue.begin() if flags & QUERY_ONLY else self._txn()
        matched, error = 0, 0
        for c, p in ids:
            if mine and not rules.may_touch(txn, c, self.user, self.policy, p):
                continue
            matched += 1
            refused = rules.set_attribute(txn, self, c, p, name, value)
            if refused is not None:
                error = refused[0]
        clusters = 0
        if flags & POST_SUBMIT_CLUSTER_CHANGE:      # condor_qedit of whole clusters: their ads too
            for c in select_clusters(self.queue, constraint):
                if mine and not rules.may_touch(txn, c, self.user, self.policy, -1):
                    continue
                clusters += 1
                refused = rules.set_attribute(txn, self, c, -1, name, value)
                if refused is not None:
                    error = refused[0]
                elif not flags & QUERY_ONLY:
                    txn.edited_clusters.add(c)
        if error:
            return [self._reply(-1, error)]
        matched = matched or clusters
        return [self._reply(matched) if matched else self._reply(-1, E.ENOENT)]

    def delete_attribute(self, r):
        c, p = r.get_int(), r.get_int()
        name = r.get_str()
        txn = self._txn()
        key = L.job_key(c, p)
        if not txn.exists(key) or txn.lookup(key, name) is None:
            return [self._reply(-1, E.ENOENT)]
        if key in self.queue.ads and (name in self.policy.immutable or
                                      not rules.may_touch(txn, c, self.user, self.policy, p)):
            return [self._reply(-1, E.EACCES)]
        txn.delete(key, name)
        return [self._reply(0)]

    def get_attribute(self, r):
        num = self._last_num
        c, p = r.get_int(), r.get_int()
        name = r.get_str()
        txn = self.txn
        v = (txn.job_lookup(c, p, name) if txn else
             (self.queue.job_attr(c, p, name) if p >= 0 else self.queue.clusters.get(c, {}).get(name)))
        if v is None or name.lower().startswith("_condor_priv"):
            return [self._reply(-1, E.ENOENT if v is None else E.EACCES)]
        w = self._reply(0)
        if num == GetAttributeInt:
            iv = int_value(v)
            if iv is None:
                return [self._reply(-1, E.EINVAL)]
            w.put_int(iv)
        elif num == GetAttributeFloat:
            try:
                w.put_double(float(v))
            except ValueError:
                return [self._reply(-1, E.EINVAL)]
        elif num == GetAttributeString:
            s = unquote(v)
            if s is None:
                return [self._reply(-1, E.EINVAL)]
            w.put_string(s)
        else:
            w.put_string(v)
        return [w]

    def get_job_ad(self, r):
        c, p = r.get_int(), r.get_int()
        ad = self.queue.job(c, p) if p >= 0 else self.queue.clusters.get(c)
        if ad is None:
            return [self._reply(-1, E.ENOENT)]
        w = self._reply(0)
        lines = [f"{k} = {v}" for k, v in dict(ad).items() if not k.lower().startswith("_condor_priv")]
        w.put_bytes(self._ad_lines(lines))
        return [w]

    def set_job_factory(self, r):
        """SetJobFactory: the submit digest of the active cluster, which the schedd will
        materialize (at most ``num`` jobs at a time); the file form is obsolete."""
        c, num = r.get_int(), r.get_int()
        filename = r.get_string()
        text = r.get_string()
        if c != self.active_cluster or c <= 0 or not self.policy.allow_late_materialize:
            if not self.policy.allow_late_materialize:
                self.log(f"Failing remote SetJobFactory {c} because SCHEDD_ALLOW_LATE_MATERIALIZE is false")
            return [self._reply(-1, E.EPERM)]
        if not text:
            return [self._reply(-1, E.EINVAL if filename else E.EPERM)]
        problem = F.digest_problem(text, F.items_path(self.policy.spool, c))
        if problem:
            self.log(f"Failing remote SetJobFactory {c} because MakeJobFactory failed : {problem}")
            return [self._reply(-1, E.EINVAL)]
        txn = self._txn()
        ckey = L.cluster_key(c)
        txn.set(ckey, "JobMaterializeLimit", str(num))
        txn.set(ckey, "JobMaterializeDigestFile", quote(F.digest_path(self.policy.spool, c)))
        txn.set(ckey, "JobMaterializeNextProcId", "0")
        pending = self.factories.setdefault(c, F.Pending())
        pending.limit, pending.digest = num, text
        return [self._reply(0)]

    def send_materialize_data(self, r):
        """SendMaterializeData: the item rows of the active cluster's factory, raw bytes to
        the end of the message; the reply is the file they are kept in and their count."""
        c = r.get_int()
        r.get_int()                                   # flags
        if c != self.active_cluster or c <= 0:
            raise CloseSession(f"SendMaterializeData for cluster {c}, not the active cluster")
        data = r.get_bytes(r.remaining)
        if not self.policy.allow_late_materialize:
            w = self._reply(-1, E.EPERM)
            return [w]
        path = F.items_path(self.policy.spool, c)
        rows = F.count_rows(data)
        self._txn().set(L.cluster_key(c), "JobMaterializeItemsFile", quote(path))
        self.factories.setdefault(c, F.Pending()).items = data
        w = MessageWriter(self.encrypted)
        w.put_string(path)
        w.put_int(rows)
        w.put_int(0)
        return [w]

    async def commit(self, r):
        if self._last_num == CommitTransaction:
            r.get_int()
        txn = self.txn
        if self.errors:
            code, msg = self.errors[0]
            self.abort()
            w = self._reply(-1, code)
            w.put_bytes(self._ad_lines(["ErrorCode = 2", f"ErrorReason = {quote(msg)}"]))
            return [w]
        if txn is None or txn.empty:
            self.abort()
            w = self._reply(0)
            w.put_bytes(self._ad_lines([]))
            return [w]
        factories = {c: f for c, f in self.factories.items() if f.digest}
        if self.submitted:
            rules.finish_submit(txn, self, {c: n for c, n in self.submitted.items() if n > 0})
            for c, n in self.submitted.items():
                if c in factories:
                    rules.finish_factory_submit(txn, self, c)
                elif n == 0:
                    txn.destroy(L.cluster_key(c))
                    txn.destroy(f"{c}.-2")
        if factories:
            err = await self._commit(txn, dict(self.submitted), factories)
        else:
            err = await self._commit(txn, dict(self.submitted))
        self.abort()
        if err:
            w = self._reply(-1, err[0])
            w.put_bytes(self._ad_lines(["ErrorCode = 2", f"ErrorReason = {quote(err[1])}"]))
            return [w]
        w = self._reply(0)
        w.put_bytes(self._ad_lines([]))
        return [w]

    def set_effective_owner(self, r):
        owner = r.get_str()
        me = self.user.split("@", 1)[0]
        if owner in ("", me) or self.policy.is_super(self.user):
            if owner and owner != me:
                self.user = f"{owner}@{self.policy.uid_domain}"
            return [self._reply(0)]
        return [self._reply(-1, E.EACCES)]

    def set_allow_protected(self, r):
        r.get_int()
        return [self._reply(0)]


# The request number -> the method that serves it ("the code for request N" in one hop).
REQUESTS: dict[int, Callable] = {
    InitializeConnection: QmgmtSession.noop,
    InitializeReadOnlyConnection: QmgmtSession.noop,
    CloseSocket: QmgmtSession.close,
    GetCapabilities: QmgmtSession.capabilities,
    BeginTransaction: QmgmtSession.begin,
    AbortTransaction: QmgmtSession.abort_request,
    NewCluster: QmgmtSession.new_cluster,
    NewProc: QmgmtSession.new_proc,
    SetAttribute: QmgmtSession.set_attribute,
    SetAttribute2: QmgmtSession.set_attribute,
    SetAttributeByConstraint: QmgmtSession.set_by_constraint,
    SetAttributeByConstraint2: QmgmtSession.set_by_constraint,
    DeleteAttribute: QmgmtSession.delete_attribute,
    GetAttributeFloat: QmgmtSession.get_attribute,
    GetAttributeInt: QmgmtSession.get_attribute,
    GetAttributeString: QmgmtSession.get_attribute,
    GetAttributeExpr: QmgmtSession.get_attribute,
    GetJobAd: QmgmtSession.get_job_ad,
    CommitTransaction: QmgmtSession.commit,
    CommitTransactionNoFlags: QmgmtSession.commit,
    SetEffectiveOwner: QmgmtSession.set_effective_owner,
    SetAllowProtectedAttrChanges: QmgmtSession.set_allow_protected,
    SetJobFactory: QmgmtSession.set_job_factory,
    SendMaterializeData: QmgmtSession.send_materialize_data,
}
# The requests that change the queue: refused on QMGMT_READ_CMD, and the ones that make a
# session wait for its turn to change the queue.
WRITES = {NewCluster, NewProc, SetAttribute, SetAttribute2, SetAttributeByConstraint,
          SetAttributeByConstraint2, DeleteAttribute, CommitTransaction, CommitTransactionNoFlags,
          BeginTransaction, DestroyCluster, DestroyProc, SetJobFactory, SendMaterializeData}
