"""ChildDaemon (one DAEMON_LIST entry) driven by a fake master and a fake clock: the
real back-off arithmetic, hung-child detection and exit handling, with no process."""
from __future__ import annotations

import os
import signal

from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.master.children import ChildDaemon
from support.memory import MemoryLog


class FakeLoop:
    """call_later that only records: the test moves the clock."""

    def __init__(self):
        self.now = 0.0
        self.timers = []

    def call_later(self, delay, fn):
        t = _Timer(self.now + delay, fn)
        self.timers.append(t)
        return t

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for t in sorted(self.timers, key=lambda t: t.when):
            if t.when <= self.now and not t.cancelled:
                t.cancelled = True
                t.fn()


class _Timer:
    def __init__(self, when, fn):
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self):
        self.cancelled = True


class FakeMaster:
    backoff_constant, backoff_ceiling, backoff_factor, recover_time = 9, 3600, 2.0, 300
    new_bin_delay = 0
    shutting_down = False

    def __init__(self, **knobs):
        self.config = ConfigSnapshot("MASTER", {"SCHEDD": "/nonexistent/condor_schedd", **knobs})
        self.log = MemoryLog()
        self.loop = FakeLoop()
        self.updates = 0

    def update_collector(self):
        self.updates += 1

    def except_(self, *a):
        raise AssertionError(a)


def test_backoff_grows_as_the_real_master_does():
    d = ChildDaemon(FakeMaster(), "SCHEDD")
    waits = []
    for _ in range(5):
        waits.append(d.next_start())
        d.restarts += 1
    assert waits == [10, 11, 13, 17, 25]           # 9 + ceil(2 ** restarts)
    d.restarts = 100
    assert d.next_start() == 3600                  # the ceiling


def test_a_restart_is_scheduled_on_the_clock_and_logged():
    m = FakeMaster()
    d = ChildDaemon(m, "SCHEDD")
    d.init_params()
    d.restart()
    assert m.log.lines[-1][1] == "restarting /nonexistent/condor_schedd in 10 seconds"
    m.loop.advance(9)
    assert len(m.log.lines) == 1
    m.loop.advance(1)                    # the start fails (no executable): back off further
    assert "/nonexistent/condor_schedd: Cannot execute (errno=2" in m.log.text()
    assert m.log.lines[-1][1] == "restarting /nonexistent/condor_schedd in 11 seconds"


def test_a_silent_child_is_killed_and_its_exit_says_why():
    m = FakeMaster()
    d = ChildDaemon(m, "SCHEDD")
    d.pid = os.getpid() + 10_000_000               # no such process: the kill finds nothing
    d.alive(6)
    m.loop.advance(5)
    assert "appears hung" not in m.log.text()
    d.alive(6)                                     # a keep-alive re-arms the timer
    m.loop.advance(5)
    assert "appears hung" not in m.log.text()
    m.loop.advance(2)
    assert f"ERROR: Child pid {d.pid} appears hung! Killing it hard." in m.log.text()
    pid = d.pid
    d.exited(signal.SIGKILL)                       # wait status of a SIGKILLed process
    assert f"The SCHEDD (pid {pid}) was killed because it was no longer responding" in m.log.text()
    assert d.pid == 0 and not d.was_not_responding
