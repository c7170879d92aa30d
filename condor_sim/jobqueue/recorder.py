"""A QMGMT peer that records a submit instead of queuing it, sans-IO.

The ``htcondor2`` bindings cannot turn a submit description into job ads without a
schedd (``Submit.jobs`` is not implemented), but they send a schedd those ads as QMGMT
SetAttribute calls.  :class:`QmgmtRecorder` answers those calls and keeps, in the order
they came, the cluster's attributes and each proc's own.  ``condor_submit -dry-run``
prints them; the schedd's job factories queue them (see
:mod:`condor_sim.daemons.private_queue` for the process that serves it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..cedar.classad_wire import encode_lines
from ..cedar.stream import MessageReader, MessageWriter
from . import qmgmt as Q


# what a recorded factory's rows are called in its digest (they are not kept)
ITEMS_FILE = "dry-run.items"


@dataclass
class Recorded:
    """One submit's ads as they were sent: the cluster ad, then each proc's attributes."""
    cluster: int = 0
    cluster_attrs: list[tuple[str, str]] = field(default_factory=list)
    procs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    committed: bool = False
    digest: str | None = None           # a factory's submit digest (late materialization)
    count: int = 0                      # procs made (also those handed on, not kept)


class QmgmtRecorder:
    """A QMGMT peer that remembers every SetAttribute and stores nothing.

    Cluster ids start at ``first_cluster`` (the real dry-run's first cluster is 1), proc
    ids at 0; NoAck SetAttributes get no reply, as from a schedd."""

    def __init__(self, first_cluster: int = 1, on_proc=None):
        self.next_cluster = first_cluster
        self.recorded = Recorded()
        self._active = -1
        self._next_proc = 0
        self.on_proc = on_proc          # (proc, attributes) of each finished proc, not kept

    def handle(self, payload: MessageReader, encrypted: bool = False) -> list[bytes]:
        """One request in, its replies out; raises :class:`Q.CloseSession` at the end."""
        r = payload
        num = r.get_int()
        reply = lambda rval, err=0: [Q.reply(rval, err, encrypted).getvalue()]  # noqa: E731
        if num == Q.CloseSocket:
            raise Q.CloseSession("CloseSocket")
        if num in (Q.InitializeConnection, Q.InitializeReadOnlyConnection):
            return []
        if num == Q.GetCapabilities:
            r.get_int()
            return [encode_lines(Q.CAPABILITIES, encrypted)]
        if num in (Q.BeginTransaction, Q.AbortTransaction, Q.SetAllowProtectedAttrChanges):
            if num == Q.SetAllowProtectedAttrChanges:
                r.get_int()
            return reply(0)
        if num == Q.SetEffectiveOwner:
            r.get_str()
            return reply(0)
        if num == Q.NewCluster:
            c = self.next_cluster
            self.next_cluster += 1
            self._active, self._next_proc = c, 0
            self.recorded = Recorded(cluster=c)
            return reply(c)
        if num == Q.NewProc:
            c = r.get_int()
            if c != self._active:
                return reply(-1, 13)
            p = self._next_proc
            self._next_proc += 1
            self._hand_on(p - 1)
            self.recorded.procs[p] = []
            self.recorded.count += 1
            return reply(p)
        if num in (Q.SetAttribute, Q.SetAttribute2):
            c, p, value, name, no_ack = Q.read_set_attribute(r, num)
            self._record(c, p, name, value)
            return [] if no_ack else reply(0)
        if num in (Q.CommitTransaction, Q.CommitTransactionNoFlags):
            if num == Q.CommitTransaction:
                r.get_int()
            self.recorded.committed = True
            self._hand_on(self._next_proc - 1)
            w = Q.reply(0, 0, encrypted)
            w.put_bytes(encode_lines([], encrypted))
            return [w.getvalue()]
        if num in (Q.DestroyCluster, Q.DestroyProc):
            return reply(0)
        if num == Q.SetJobFactory:             # a factory: its digest instead of procs
            c = r.get_int()
            r.get_int()                        # the limit
            r.get_string()
            text = r.get_string()
            if c != self._active or not text:
                return reply(-1, 1)
            self.recorded.digest = text
            return reply(0)
        if num == Q.SendMaterializeData:       # the factory's rows, kept nowhere
            c = r.get_int()
            r.get_int()
            if c != self._active:
                raise Q.CloseSession("SendMaterializeData for another cluster")
            rows = r.get_bytes(r.remaining)
            w = MessageWriter(encrypted)
            w.put_string(ITEMS_FILE)
            w.put_int(rows.count(b"\n") + (0 if not rows or rows.endswith(b"\n") else 1))
            w.put_int(0)
            return [w.getvalue()]
        if num in (Q.GetAttributeFloat, Q.GetAttributeInt, Q.GetAttributeString,
                   Q.GetAttributeExpr, Q.GetJobAd):
            return reply(-1, 2)
        raise Q.CloseSession(f"QMGMT request {num} is not served by a dry run")

    def _hand_on(self, p: int) -> None:
        """A proc is finished (the next one was made, or the submit committed): hand it
        to ``on_proc`` instead of keeping it."""
        if self.on_proc is not None and p in self.recorded.procs:
            self.on_proc(p, self.recorded.procs.pop(p))

    def _record(self, c: int, p: int, name: str, value: str) -> None:
        if p < 0:
            self.recorded.cluster_attrs.append((name, value))
        else:
            self.recorded.procs.setdefault(p, []).append((name, value))


def recorded_to_json(rec: Recorded) -> str:
    return json.dumps({"cluster": rec.cluster, "cluster_attrs": rec.cluster_attrs,
                       "procs": [[p, a] for p, a in rec.procs.items()],
                       "committed": rec.committed, "digest": rec.digest, "count": rec.count})


def recorded_from_json(text: str) -> Recorded:
    d = json.loads(text)
    return Recorded(d["cluster"], [tuple(x) for x in d["cluster_attrs"]],
                    {p: [tuple(x) for x in a] for p, a in d["procs"]}, d["committed"],
                    d.get("digest"), d.get("count", len(d["procs"])))
