"""A private, throw-away queue: one QMGMT connection on 127.0.0.1 served by a
:class:`~condor_sim.jobqueue.recorder.QmgmtRecorder` in a process of its own.

The bindings hold the interpreter lock while they submit, so the queue cannot be a
thread of the submitting process: it is a child process (``python -m`` this module) that
prints its address, serves one connection (each request within ``timeout``), then prints
what it recorded as JSON and exits.  It authenticates with FS (in every Unix client's
default list, so it works with any pool's config or none) and takes writes from the
user that started it only: another local user who connects first is refused and cannot
feed it a submit of its own.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from .. import CONDOR_PLATFORM, CONDOR_VERSION
from ..cedar.commands import Cmd
from ..config import ConfigSnapshot
from ..connection import ConnectionClosed
from ..jobqueue import qmgmt as Q
from ..jobqueue.recorder import QmgmtRecorder, Recorded, recorded_from_json, recorded_to_json
from ..security.perms import Perm

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


class PrivateSchedd:
    """A QMGMT-only schedd on 127.0.0.1 that records one submit; a context manager.

    The bindings hold the interpreter lock while they submit, so the queue cannot be a
    thread of this process: it is a child process (``python -m`` this module) that
    prints its address, serves one connection (each request within ``timeout``), then
    prints what it recorded as JSON and exits.  ``ad()`` is what ``htcondor2.Schedd``
    needs to reach it; leaving the context collects the record and reaps the child."""

    def __init__(self, first_cluster: int = 1, timeout: float = REQUEST_TIMEOUT,
                 stream_fd: int | None = None):
        self.first_cluster = first_cluster
        self.timeout = timeout
        self.stream_fd = stream_fd        # each finished proc as a JSON line here, not kept
        self.address = ""
        self.recorded: Recorded | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "PrivateSchedd":
        argv = [sys.executable, "-m", __name__, str(self.first_cluster), str(self.timeout)]
        stream = None
        if self.stream_fd is not None:    # a descriptor of its own: the child's 0-2 are pipes
            stream = os.dup(self.stream_fd)
            argv += ["stream", str(stream)]
        try:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, pass_fds=(stream,) if stream is not None else ())
        finally:
            if stream is not None:
                os.close(stream)
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


async def serve_once(first_cluster: int, timeout: float, announce, on_proc=None) -> Recorded:
    """Listen on 127.0.0.1, ``announce(address)``, serve one QMGMT connection (or none
    within ``timeout``) and return what it sent (each finished proc to ``on_proc``
    instead, when given)."""
    from ..daemoncore import DaemonCore
    recorder = QmgmtRecorder(first_cluster, on_proc)
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


def record_submit(submit, first_cluster: int = 1, stream_fd: int | None = None) -> Recorded:
    """Submit ``submit`` (an ``htcondor2.Submit``) to a private queue; what it sent.
    With ``stream_fd``, each proc is written there as a JSON line ``[proc, attributes]``
    as soon as it is finished, and not kept in the record."""
    import htcondor2
    with PrivateSchedd(first_cluster, stream_fd=stream_fd) as ps:
        htcondor2.Schedd(ps.ad()).submit(submit)
    if ps.recorded is None:
        raise RuntimeError("the dry-run queue recorded nothing")
    return ps.recorded


def _stream_to(fd: int):
    """A proc handler that writes each proc to ``fd`` as one JSON line."""
    def on_proc(p: int, attrs: list) -> None:
        data = (json.dumps([p, attrs]) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]
    return on_proc


def _child(argv: list[str]) -> int:
    """The private queue's process: ``FIRST_CLUSTER TIMEOUT [stream FD]``; address, then
    the record (with ``stream FD``, each finished proc goes to FD as it is made)."""
    first, timeout = int(argv[0]), float(argv[1])
    on_proc = _stream_to(int(argv[3])) if argv[2:3] == ["stream"] else None

    def announce(address: str) -> None:
        print(address, flush=True)
    rec = asyncio.run(serve_once(first, timeout, announce, on_proc))
    print(recorded_to_json(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
