"""Pool's process handling, without a pool."""
from __future__ import annotations

import subprocess
import sys
import time

import psutil

from condor_sim.pool import Pool


def test_kill_all_does_not_wait_on_a_zombie_it_cannot_reap(tmp_path):
    # a grandchild whose parent never reaps it: once killed, it stays a zombie
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['sleep', '60'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = psutil.Process(int(parent.stdout.readline()))
        t0 = time.monotonic()
        Pool(tmp_path).kill_all([grandchild])
        took = time.monotonic() - t0
        assert grandchild.status() == psutil.STATUS_ZOMBIE
        assert took < 2.5, f"kill_all waited {took:.2f} s on a zombie"
    finally:
        parent.kill()
        parent.wait()


def test_kill_all_reaps_its_own_child(tmp_path):
    child = subprocess.Popen(["sleep", "60"])
    Pool(tmp_path).kill_all([psutil.Process(child.pid)])
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE
