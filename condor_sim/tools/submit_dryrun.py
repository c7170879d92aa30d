"""condor_submit -dry-run and -dump: the job ads the bindings would send, never queued.

The real tool builds its job ads in C++ and hands them to a simulated queue that writes
each SetAttribute as ``Name=value`` (``SimScheddQ`` in ``submit_simulate.cpp``).  The
``htcondor2`` bindings cannot build ads without a schedd (``Submit.jobs`` is not
implemented), but they send the ads to a schedd as QMGMT SetAttribute calls in the same
order.  So this module runs a private, throw-away queue on 127.0.0.1 in a process of
its own, lets ``Schedd.submit`` talk to it, and records the stream instead of storing jobs.

Three layers:

* :class:`QmgmtRecorder` (sans-IO): QMGMT request payloads in, reply payloads out; it
  keeps the cluster and per-proc attributes in the order they arrived.
* :func:`render_stream` (pure): what the real ``SimScheddQ`` writes for those ads, and
  :func:`dry_run_output` the tool's whole stdout around it.
* :class:`PrivateSchedd` (thin IO): a DaemonCore with one QMGMT_WRITE_CMD handler in a
  child process (the bindings hold the interpreter lock while they submit, so a thread
  of this process could not answer); one connection, a timeout, reaped after use.
  It authenticates with FS (in every Unix client's default list, so it works with any
  pool's config or none) and takes writes from the user running the tool only: another
  local user who connects first is refused and cannot feed the tool a queue of its own.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass, field

from .. import CONDOR_PLATFORM, CONDOR_VERSION
from ..cedar.classad_wire import encode_lines
from ..cedar.commands import Cmd
from ..cedar.stream import MessageReader
from ..config import ConfigSnapshot
from ..connection import ConnectionClosed
from ..jobqueue import qmgmt as Q
from ..security.perms import Perm

# The real dry-run has no schedd to name the owner: its ads carry Owner=undefined.
DRY_RUN_OWNER = "undefined"
# How long the private queue waits for the client's next request.
REQUEST_TIMEOUT = 30.0

# The private queue's security: FS (every Unix client's defaults offer it), and only the
# user running the tool may write; encryption and integrity as the client wants them.
def private_policy(user: str) -> dict[str, str]:
    return {
        "SEC_DEFAULT_NEGOTIATION": "OPTIONAL", "SEC_DEFAULT_AUTHENTICATION": "REQUIRED",
        "SEC_DEFAULT_ENCRYPTION": "OPTIONAL", "SEC_DEFAULT_INTEGRITY": "OPTIONAL",
        "SEC_DEFAULT_AUTHENTICATION_METHODS": "FS",
        "SEC_DEFAULT_CRYPTO_METHODS": "AES",
        "ALLOW_READ": f"{user}@*", "ALLOW_WRITE": f"{user}@*",
        "FULL_HOSTNAME": "localhost", "UID_DOMAIN": "localhost", "USE_SHARED_PORT": "false",
    }


# ---------------------------------------------------------------------- the recorder
@dataclass
class Recorded:
    """One submit's ads as they were sent: the cluster ad, then each proc's attributes."""
    cluster: int = 0
    cluster_attrs: list[tuple[str, str]] = field(default_factory=list)
    procs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    committed: bool = False


class QmgmtRecorder:
    """A QMGMT peer that remembers every SetAttribute and stores nothing.

    Cluster ids start at ``first_cluster`` (the real dry-run's first cluster is 1), proc
    ids at 0; NoAck SetAttributes get no reply, as from a schedd."""

    def __init__(self, first_cluster: int = 1):
        self.next_cluster = first_cluster
        self.recorded = Recorded()
        self._active = -1
        self._next_proc = 0

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
            self.recorded.procs[p] = []
            return reply(p)
        if num in (Q.SetAttribute, Q.SetAttribute2):
            c, p, value, name, no_ack = Q.read_set_attribute(r, num)
            self._record(c, p, name, value)
            return [] if no_ack else reply(0)
        if num in (Q.CommitTransaction, Q.CommitTransactionNoFlags):
            if num == Q.CommitTransaction:
                r.get_int()
            self.recorded.committed = True
            w = Q.reply(0, 0, encrypted)
            w.put_bytes(encode_lines([], encrypted))
            return [w.getvalue()]
        if num in (Q.DestroyCluster, Q.DestroyProc):
            return reply(0)
        if num in (Q.GetAttributeFloat, Q.GetAttributeInt, Q.GetAttributeString,
                   Q.GetAttributeExpr, Q.GetJobAd):
            return reply(-1, 2)
        raise Q.CloseSession(f"QMGMT request {num} is not served by a dry run")

    def _record(self, c: int, p: int, name: str, value: str) -> None:
        if p < 0:
            self.recorded.cluster_attrs.append((name, value))
        else:
            self.recorded.procs.setdefault(p, []).append((name, value))


# ---------------------------------------------------------------------- what is printed
def _value(name: str, value: str) -> str:
    return DRY_RUN_OWNER if name == "Owner" else value


def proc_blocks(rec: Recorded) -> list[str]:
    """Per proc, the text ``SimScheddQ`` writes: a new line when the proc is made, then
    ``Name=value`` per SetAttribute (the cluster ad goes before proc 0's attributes)."""
    blocks = []
    for p in sorted(rec.procs):
        attrs = (rec.cluster_attrs if p == 0 else []) + rec.procs[p]
        blocks.append("\n" + "".join(f"{k}={_value(k, v)}\n" for k, v in attrs))
    return blocks


def render_stream(rec: Recorded) -> str:
    """The whole stream as written to a file (``-dry-run FILE``, ``-dump FILE``)."""
    return "".join(proc_blocks(rec))


def header(*, dump: bool, to_stdout: bool, terse: bool, from_stdin: bool) -> str:
    """The first words on stdout: none from stdin, with -terse or for a dump to stdout."""
    if from_stdin or terse or (dump and to_stdout):
        return ""
    return "Storing job ClassAd(s)" if dump else "Dry-Run job(s)"


def verbose_output(rec: Recorded, blocks_of_ads: list[str], *, to_stdout: bool,
                   from_stdin: bool) -> str:
    """-verbose (or a description from stdin): each proc's stream (when on stdout) and
    its whole ad, then the new lines the real tool ends with."""
    out = []
    for block, shown in zip(proc_blocks(rec), blocks_of_ads):
        if to_stdout:
            out.append(block)
        out.append(shown)
    if not from_stdin:
        out.append("\n")
    out.append("\n")
    return "".join(out)


@dataclass
class Printed:
    stdout: str
    stderr: str = ""
    file_text: str | None = None        # what goes to the -dry-run/-dump file, if any


def dry_run_output(rec: Recorded, *, dump: bool, to_stdout: bool, terse: bool,
                   from_stdin: bool) -> Printed:
    """The real tool's output for a dry run (``dump`` False) or a dump, after its header
    (:func:`header`, printed before the description is read).

    Progress (a dot per proc) is printed unless reading from stdin or -terse; with the
    stream on stdout the dots land after each proc's attributes.  The
    summary follows unless the dump goes to stdout; a dump to a file also names the
    watch tool, as a real submit does (only the dry run leaves it out)."""
    blocks = proc_blocks(rec)
    count = len(blocks)
    cluster = rec.cluster
    progress = not from_stdin and not terse
    dots = progress and not (dump and to_stdout)
    out: list[str] = []
    err = ""
    for block in blocks:
        if to_stdout:
            out.append(block)
        if dots:
            out.append(".")
    if progress:
        out.append("\n")
    if not (dump and to_stdout) and count:
        if terse:
            out.append(f"{cluster}.0 - {cluster}.{count - 1}\n")
        else:
            out.append(f"{count} job(s) {'submitted' if dump else 'dry-run'} to cluster {cluster}.\n")
            if dump:
                err = f"To monitor your job(s), run: condor_watch_q -clusters {cluster}\n"
    return Printed("".join(out), err, None if to_stdout else "".join(blocks))


# ---------------------------------------------------------------------- the private queue
class PrivateSchedd:
    """A QMGMT-only schedd on 127.0.0.1 that records one submit; a context manager.

    The bindings hold the interpreter lock while they submit, so the queue cannot be a
    thread of this process: it is a child process (``python -m`` this module) that
    prints its address, serves one connection (each request within ``timeout``), then
    prints what it recorded as JSON and exits.  ``ad()`` is what ``htcondor2.Schedd``
    needs to reach it; leaving the context collects the record and reaps the child."""

    def __init__(self, first_cluster: int = 1, timeout: float = REQUEST_TIMEOUT):
        self.first_cluster = first_cluster
        self.timeout = timeout
        self.address = ""
        self.recorded: Recorded | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "PrivateSchedd":
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.first_cluster), str(self.timeout)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.address = self._proc.stdout.readline().strip()
        if not self.address.startswith("<"):
            err = self._proc.stderr.read().strip()
            self._reap()
            raise RuntimeError(f"cannot start the dry-run queue: {err or 'no address'}")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ad(self):
        import classad2
        return classad2.ClassAd({"MyAddress": self.address, "Name": "dry-run",
                                 "CondorVersion": CONDOR_VERSION,
                                 "CondorPlatform": CONDOR_PLATFORM, "MyType": "Scheduler"})

    def close(self) -> None:
        """Collect the record (the child ends when the client closes) and reap the child."""
        if self._proc is None:
            return
        try:
            out, _ = self._proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            out = ""
        self._reap()
        if out.strip():
            self.recorded = recorded_from_json(out)

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()


def recorded_to_json(rec: Recorded) -> str:
    return json.dumps({"cluster": rec.cluster, "cluster_attrs": rec.cluster_attrs,
                       "procs": [[p, a] for p, a in rec.procs.items()],
                       "committed": rec.committed})


def recorded_from_json(text: str) -> Recorded:
    d = json.loads(text)
    return Recorded(d["cluster"], [tuple(x) for x in d["cluster_attrs"]],
                    {p: [tuple(x) for x in a] for p, a in d["procs"]}, d["committed"])


async def serve_once(first_cluster: int, timeout: float, announce) -> Recorded:
    """Listen on 127.0.0.1, ``announce(address)``, serve one QMGMT connection (or none
    within ``timeout``) and return what it sent."""
    from ..daemoncore import DaemonCore
    recorder = QmgmtRecorder(first_cluster)
    done = asyncio.Event()
    busy = False

    async def qmgmt(req) -> None:
        nonlocal busy
        if busy:                          # one submit per private queue
            return
        busy = True
        try:
            while True:
                msg = await req.read(timeout)
                try:
                    replies = recorder.handle(msg, req.chan.encrypted)
                except Q.CloseSession:
                    return
                for payload in replies:
                    await req.chan.send(payload)
        except (ConnectionClosed, asyncio.TimeoutError):
            return
        finally:
            done.set()

    import getpass
    core = DaemonCore("SCHEDD", ConfigSnapshot("SCHEDD", private_policy(getpass.getuser())),
                      _QuietLog(), exe_name="condor_submit")
    core.register(Cmd.QMGMT_WRITE_CMD, Perm.WRITE, qmgmt, force_auth=True)
    await core.listen(0)
    try:
        announce(core.sinful)
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    finally:
        core.server.close()
    return recorder.recorded


class _QuietLog:
    """The private queue keeps no log."""

    def log(self, msg: str, cat: str = "D_ALWAYS", verbose: bool = False) -> None:
        pass

    def reconfigure(self) -> None:
        pass

    def exiting(self, status: int) -> None:
        pass


def record_submit(submit, first_cluster: int = 1) -> Recorded:
    """Submit ``submit`` (an ``htcondor2.Submit``) to a private queue; what it sent."""
    import htcondor2
    with PrivateSchedd(first_cluster) as ps:
        htcondor2.Schedd(ps.ad()).submit(submit)
    if ps.recorded is None:
        raise RuntimeError("the dry-run queue recorded nothing")
    return ps.recorded


def _child(argv: list[str]) -> int:
    """The private queue's process: ``FIRST_CLUSTER TIMEOUT``; address, then the record."""
    first, timeout = int(argv[0]), float(argv[1])

    def announce(address: str) -> None:
        print(address, flush=True)
    rec = asyncio.run(serve_once(first, timeout, announce))
    print(recorded_to_json(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
