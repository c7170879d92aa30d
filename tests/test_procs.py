"""condor_sim.procs: the process plumbing the master, the pool handle and the tests share."""
from __future__ import annotations

import os
import subprocess
import sys

from condor_sim import procs


def test_spawn_leads_a_group_and_kill_tree_takes_the_whole_tree():
    # the child starts a grandchild in its own group and prints its pid
    code = "import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); print(p.pid, flush=True); time.sleep(60)"
    r, w = os.pipe()
    os.set_inheritable(w, True)
    env = dict(os.environ)
    pid = procs.spawn(sys.executable, [sys.executable, "-c", f"import os; os.dup2({w}, 1); " + code], env)
    os.close(w)
    assert os.getpgid(pid) == pid
    with os.fdopen(r) as f:
        grandchild = int(f.readline())
    assert os.getpgid(grandchild) == pid
    assert procs.reap(pid) is None and procs.alive(pid)
    procs.kill_tree(pid)
    assert procs.wait_gone(pid, 10)
    assert procs.wait_gone(grandchild, 10)
    assert procs.reap(pid) == 0              # already reaped: reads as a clean exit


def test_lock_holder(tmp_path):
    path = tmp_path / "InstanceLock"
    path.write_text("")
    assert procs.lock_holder(path) is None
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl,sys,time; f=open(sys.argv[1],'w'); "
                               "fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
                               str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert procs.lock_holder(path) == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert procs.lock_holder(path) is None
    assert procs.lock_holder(tmp_path / "missing") is None
