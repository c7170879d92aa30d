"""The starter end to end: ``run_starter`` in a forked child, as the startd runs it, its
report pipe read here.  Jobs are real programs; the holds carry the real texts."""
from __future__ import annotations

import json
import os
import pwd
import select
import signal
import sys
import time
import traceback
from pathlib import Path

import classad2
import psutil
import pytest

from condor_sim.execute.holds import Peers
from condor_sim.execute.starter import run_starter

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle"
ROOT = os.geteuid() == 0
PEERS = Peers(slot="slot1_1@vm", ap_host="vm", shadow_addr="<127.0.0.1:29704>",
              starter_addr="<127.0.0.1:29747>")


def base_ad(iwd: Path, **attrs) -> classad2.ClassAd:
    """The real echo job's ad (condor_history), moved to ``iwd`` and changed by ``attrs``."""
    ad = next(iter(classad2.parseAds((FIX.parent / "lifecycle" / "main25-condor_history-long.txt").read_text())))
    ad["Iwd"] = str(iwd)
    ad["Out"] = "out.txt"
    ad["Err"] = "err.txt"
    if ROOT:
        ad["Owner"] = "root"
    for k, v in attrs.items():
        if v is None:
            del ad[k]
        else:
            ad[k] = v
    return ad


def sh(script: str, iwd: Path, **attrs) -> classad2.ClassAd:
    """A /bin/sh -c job (Arguments in V2 raw form)."""
    from condor_sim.execute.syntax import join_args
    return base_ad(iwd, Cmd="/bin/sh", Arguments=join_args(["-c", script]), **attrs)


class Starter:
    """run_starter in a forked child; events read from its report pipe."""

    def __init__(self, ad, tmp_path: Path, kill_timeout: float = 10.0, **kw):
        self.execute = tmp_path / "execute"
        self.execute.mkdir(exist_ok=True)
        self.logfile = tmp_path / "StarterLog"
        r, w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            rc = 99
            try:
                os.close(r)
                with open(self.logfile, "a") as lf:
                    def log(m):
                        lf.write(m + "\n")
                        lf.flush()
                    rc = run_starter(ad, execute_dir=str(self.execute), slot_name="slot1_1@vm",
                                     report_fd=w, log=log, kill_timeout=kill_timeout,
                                     peers=PEERS, **kw)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(rc)
        os.close(w)
        self.fd = r
        self.buf = b""
        self.events: list[dict] = []
        self.eof = False
        self.status: int | None = None

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.eof = True
            return
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        self.events += [json.loads(line) for line in lines]

    def wait_for(self, name: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e["event"] == name:
                    return e
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"no {name} event: {self.events}")
            self._read(deadline - time.monotonic())

    def finish(self, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while not self.eof:
            assert time.monotonic() < deadline, self.events
            self._read(deadline - time.monotonic())
        os.close(self.fd)
        _, self.status = os.waitpid(self.pid, 0)
        assert os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == 0, self.status
        assert not list(self.execute.iterdir()), "the slot directory is removed"
        return self.events

    def final(self) -> dict:
        return self.finish()[-1]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events if e["event"] != "image_size"]


def run(ad, tmp_path, **kw) -> tuple[dict, Starter]:
    s = Starter(ad, tmp_path, **kw)
    return s.final(), s


def gone(pid: int) -> bool:
    try:
        p = psutil.Process(pid)
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- normal runs --------------------------------------------------------------------

def test_echo_job_with_transfer(tmp_path):
    final, s = run(base_ad(tmp_path), tmp_path)
    assert s.names() == ["transfer_in_started", "transfer_in_finished", "job_pid", "execute",
                         "transfer_out_started", "transfer_out_finished", "exited"]
    echo_size = os.path.getsize("/bin/echo")
    assert s.wait_for("transfer_in_finished") == {"event": "transfer_in_finished", "bytes": echo_size, "files": 1}
    out = "hello from a capture job\n"
    assert (tmp_path / "out.txt").read_text() == out and (tmp_path / "err.txt").read_text() == ""
    # as in the real run: two files back (stdout and stderr), their bytes sent by the job
    assert s.wait_for("transfer_out_finished") == {"event": "transfer_out_finished", "bytes": len(out), "files": 2}
    ex = s.wait_for("execute")
    assert ex["scratch"] == f"{s.execute}/dir_{s.pid}/scratch"
    assert s.wait_for("job_pid")["pid"] == ex["pid"]    # said by the job itself, before its exec
    assert final["exit_code"] == 0 and final["exit_by_signal"] is False and final["exit_signal"] is None
    assert final["bytes_sent"] == len(out) and final["bytes_recvd"] == echo_size
    assert final["disk_kb"] >= echo_size // 1024
    for k in ("user_cpu", "sys_cpu", "wall", "image_size_kb", "rss_kb"):
        assert final[k] >= 0
    img = s.wait_for("image_size")
    assert img["image_size_kb"] > 0 and img["memory_mb"] == (img["rss_kb"] + 1023) // 1024
    log = s.logfile.read_text()
    assert "Starting a VANILLA universe job with ID: 2.0\n" in log
    assert f"About to exec {ex['scratch']}/echo hello from a capture job\n" in log


def test_exit_code_without_transfer(tmp_path):
    final, s = run(sh("echo out; echo err >&2; exit 3", tmp_path, ShouldTransferFiles="IF_NEEDED"), tmp_path)
    assert s.names() == ["job_pid", "execute", "exited"]
    assert final["exit_code"] == 3 and not final["exit_by_signal"]
    assert final["bytes_sent"] == final["bytes_recvd"] == 0
    assert (tmp_path / "out.txt").read_text() == "out\n" and (tmp_path / "err.txt").read_text() == "err\n"
    assert s.wait_for("execute")["scratch"].endswith("/scratch")


def test_exit_by_signal(tmp_path):
    final, _ = run(sh("kill -9 $$", tmp_path), tmp_path)
    assert final["event"] == "exited"
    assert final["exit_by_signal"] is True and final["exit_signal"] == 9 and final["exit_code"] is None


def test_environment_and_job_ad_file(tmp_path):
    script = ('for v in _CONDOR_SCRATCH_DIR _CONDOR_SLOT _CONDOR_JOB_IWD BATCH_SYSTEM OMP_NUM_THREADS '
              'TMPDIR MINE SLOTVAR CONDOR_STARTER_PID; do eval "echo $v=\\$$v"; done; '
              'grep ^ClusterId "$_CONDOR_JOB_AD"; pwd')
    ad = sh(script, tmp_path, Environment="MINE='a b'", ShouldTransferFiles="YES")
    final, s = run(ad, tmp_path, slot_env={"SLOTVAR": "s", "MINE": "slot"})
    scratch = s.wait_for("execute")["scratch"]
    got = (tmp_path / "out.txt").read_text().splitlines()
    assert got == [f"_CONDOR_SCRATCH_DIR={scratch}", "_CONDOR_SLOT=slot1_1", f"_CONDOR_JOB_IWD={scratch}",
                   "BATCH_SYSTEM=HTCondor", "OMP_NUM_THREADS=1", f"TMPDIR={scratch}", "MINE=a b",
                   "SLOTVAR=s", f"CONDOR_STARTER_PID={s.pid}", "ClusterId = 2", scratch]


def test_transfer_in_and_out(tmp_path):
    (tmp_path / "in.dat").write_text("input\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("f\n")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "g").write_text("g\n")
    script = "cat in.dat d/f g > made.txt; cat < /dev/stdin > copied; echo changed >> in.dat"
    ad = sh(script, tmp_path, TransferInput="in.dat,d,c/", In="in.dat", TransferIn=True)
    final, s = run(ad, tmp_path)
    assert s.wait_for("transfer_in_finished") == {"event": "transfer_in_finished", "files": 5,
                                                  "bytes": os.path.getsize("/bin/sh") + 6 + 6 + 2 + 2}
    # every new or changed top-level file comes back (not the unchanged program or dirs)
    assert (tmp_path / "made.txt").read_text() == "input\nf\ng\n"
    assert (tmp_path / "copied").read_text() == "input\n"
    assert (tmp_path / "in.dat").read_text() == "input\nchanged\n"
    assert not (tmp_path / "sh").exists() and not (tmp_path / "g").exists()
    assert s.wait_for("transfer_out_finished")["files"] == 5      # out, err, copied, in.dat, made.txt
    assert final["exit_code"] == 0


def test_listed_output_and_remaps(tmp_path):
    (tmp_path / "res").mkdir()
    ad = sh("echo a > a.txt; echo b > b.txt; echo c > c.txt", tmp_path,
            TransferOutput="a.txt,b.txt", TransferOutputRemaps="a.txt = res/renamed.txt; b.txt=" + str(tmp_path / "abs.txt"))
    final, _ = run(ad, tmp_path)
    assert final["event"] == "exited"
    assert (tmp_path / "res" / "renamed.txt").read_text() == "a\n"
    assert (tmp_path / "abs.txt").read_text() == "b\n"
    assert not (tmp_path / "c.txt").exists() and not (tmp_path / "a.txt").exists()


def test_on_success_skips_output_of_a_failed_job(tmp_path):
    final, s = run(sh("echo x; exit 1", tmp_path, WhenToTransferOutput="ON_SUCCESS"), tmp_path)
    assert final["exit_code"] == 1 and "transfer_out_started" not in s.names()
    assert not (tmp_path / "out.txt").exists()


# -- holds ------------------------------------------------------------------------

def hold_of(ad, tmp_path) -> dict:
    final, s = run(ad, tmp_path)
    assert final["event"] == "hold", final
    return final


def test_missing_executable_without_transfer(tmp_path):
    ad = base_ad(tmp_path, Cmd="/bin/no_such_program", ShouldTransferFiles="NO")
    h = hold_of(ad, tmp_path)
    assert h == {"event": "hold", "code": 6, "subcode": 2,
                 "reason": "Error from slot1_1@vm: Failed to execute '/bin/no_such_program' with arguments "
                           "hello from a capture job: (errno=2: 'No such file or directory')"}


def test_non_executable_program(tmp_path):
    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o644)
    ad = base_ad(tmp_path, Cmd=str(prog), Args=None, Arguments="", ShouldTransferFiles="NO")
    if ROOT:
        # root may execute anything with an x bit: take them all away from a directory
        prog.chmod(0o000)
    h = hold_of(ad, tmp_path)
    assert (h["code"], h["subcode"]) == (6, 13)
    assert h["reason"] == f"Error from slot1_1@vm: Failed to execute '{prog}': (errno=13: 'Permission denied')"


def test_missing_input_file(tmp_path):
    ad = base_ad(tmp_path, TransferInput="nope.dat")
    h = hold_of(ad, tmp_path)
    assert (h["code"], h["subcode"]) == (13, 2)
    assert h["reason"] == (
        "Transfer input files failure at access point vm while sending files to execution point slot1_1@vm. "
        "Details: Error from slot1_1@vm: SHADOW at 127.0.0.1 failed to send file(s) to <127.0.0.1:29747>: "
        f"error reading from {tmp_path}/nope.dat: (errno 2) No such file or directory; STARTER failed to "
        "receive file(s) from <127.0.0.1:29704>")


def test_missing_executable_with_transfer(tmp_path):
    h = hold_of(base_ad(tmp_path, Cmd="/bin/no_such_program"), tmp_path)
    assert (h["code"], h["subcode"]) == (13, 2)
    assert "error reading from /bin/no_such_program: (errno 2) No such file or directory" in h["reason"]


def test_stdout_is_a_directory(tmp_path):
    (tmp_path / "outdir").mkdir()
    h = hold_of(base_ad(tmp_path, Out="outdir", ShouldTransferFiles="NO"), tmp_path)
    assert h == {"event": "hold", "code": 7, "subcode": 21,
                 "reason": f"Error from slot1_1@vm: Failed to open '{tmp_path}/outdir' as standard output: "
                           "Is a directory (errno 21)"}


def test_missing_stdin(tmp_path):
    h = hold_of(base_ad(tmp_path, In="nothere", ShouldTransferFiles="NO"), tmp_path)
    assert (h["code"], h["subcode"]) == (8, 2)
    assert h["reason"].endswith(f"Failed to open '{tmp_path}/nothere' as standard input: "
                                "No such file or directory (errno 2)")


def test_output_transfer_to_a_directory(tmp_path):
    (tmp_path / "outdir").mkdir()
    h = hold_of(base_ad(tmp_path, Out="outdir"), tmp_path)
    assert h == {"event": "hold", "code": 12, "subcode": 21,
                 "reason": "Transfer output files failure at access point vm while receiving files from "
                           f"execution point slot1_1@vm. Details: writing to file {tmp_path}/outdir: "
                           "(errno 21) Is a directory"}


def test_listed_output_the_job_did_not_make(tmp_path):
    h = hold_of(base_ad(tmp_path, TransferOutput="result.txt"), tmp_path)
    assert (h["code"], h["subcode"]) == (12, 2)
    assert h["reason"].startswith("Transfer output files failure at execution point slot1_1@vm while sending "
                                  "files to access point vm. Details: Error from slot1_1@vm: STARTER at "
                                  "127.0.0.1 failed to send file(s) to <127.0.0.1:29704>: error reading from ")
    assert h["reason"].endswith("/scratch/result.txt: (errno 2) No such file or directory; SHADOW failed to "
                                "receive file(s) from <127.0.0.1:29747>")


def test_bad_iwd(tmp_path):
    h = hold_of(base_ad(tmp_path / "gone"), tmp_path)
    assert h == {"event": "hold", "code": 14, "subcode": 2,
                 "reason": f"Cannot access initial working directory {tmp_path}/gone: No such file or directory"}


@pytest.mark.skipif(not ROOT, reason="owners matter only to a root starter")
def test_unknown_owner_fails_the_starter(tmp_path):
    s = Starter(base_ad(tmp_path, Owner="no_such_user_x"), tmp_path)
    while not s.eof:
        s._read(10)
    os.close(s.fd)
    _, status = os.waitpid(s.pid, 0)
    events = s.events
    assert os.WEXITSTATUS(status) == 1
    assert [e["event"] for e in events] == ["starter_failed"]
    assert 'Uid for "no_such_user_x" not found' in events[0]["reason"]


# -- what the job leaves behind, and stopping it -----------------------------------

def test_children_of_an_exited_job_are_killed(tmp_path):
    script = "sleep 300 & echo $! > bg.pid; setsid sleep 301 & echo $! > bg2.pid; sleep 0.2; exit 0"
    ad = sh(script, tmp_path, ShouldTransferFiles="NO")
    final, _ = run(ad, tmp_path)
    assert final["event"] == "exited" and final["exit_code"] == 0
    pids = [int((tmp_path / f).read_text()) for f in ("bg.pid", "bg2.pid")]
    if not sys.platform.startswith("linux"):
        pids = pids[:1]      # only Linux lets the starter adopt a process that left the session
    assert all(gone(p) for p in pids)


def test_sigterm_stops_gracefully(tmp_path):
    ad = sh("echo started > started; exec sleep 300", tmp_path, ShouldTransferFiles="NO")
    s = Starter(ad, tmp_path)
    job = s.wait_for("execute")["pid"]
    os.kill(s.pid, signal.SIGTERM)
    final = s.final()
    assert final["event"] == "evicted" and gone(job)
    for k in ("user_cpu", "sys_cpu", "wall", "bytes_sent", "bytes_recvd", "image_size_kb", "rss_kb", "disk_kb"):
        assert k in final
    assert "transfer_out_started" not in s.names()


def test_kill_sig_is_sent_first(tmp_path):
    script = "trap 'echo got INT > trapped; exit 7' INT; echo ready > ready; sleep 300 & wait"
    ad = sh(script, tmp_path, ShouldTransferFiles="NO", KillSig="SIGINT")
    s = Starter(ad, tmp_path)
    s.wait_for("execute")
    deadline = time.monotonic() + 10
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline
        s._read(0.01)
    os.kill(s.pid, signal.SIGTERM)
    assert s.final()["event"] == "evicted"
    assert (tmp_path / "trapped").read_text() == "got INT\n"


def test_job_ignoring_sigterm_is_killed_after_the_timeout(tmp_path):
    script = "trap '' TERM; echo ready > ready; sleep 300 & echo $! > bg.pid; wait; wait"
    ad = sh(script, tmp_path, ShouldTransferFiles="NO")
    s = Starter(ad, tmp_path, kill_timeout=0.3)
    job = s.wait_for("execute")["pid"]
    deadline = time.monotonic() + 10
    while not (tmp_path / "bg.pid").exists() or not (tmp_path / "bg.pid").read_text():
        assert time.monotonic() < deadline
        s._read(0.01)
    t0 = time.monotonic()
    os.kill(s.pid, signal.SIGTERM)
    final = s.final()
    assert final["event"] == "evicted"
    assert time.monotonic() - t0 < 5
    assert gone(job) and gone(int((tmp_path / "bg.pid").read_text()))


def test_sigquit_stops_fast(tmp_path):
    ad = sh("trap '' TERM; sleep 300 & echo $! > bg.pid; wait; wait", tmp_path, ShouldTransferFiles="NO")
    s = Starter(ad, tmp_path, kill_timeout=60)
    job = s.wait_for("execute")["pid"]
    t0 = time.monotonic()
    os.kill(s.pid, signal.SIGQUIT)
    assert s.final()["event"] == "evicted"
    assert time.monotonic() - t0 < 5 and gone(job)


def test_image_size_is_reported_while_running(tmp_path):
    ad = sh("exec sleep 300", tmp_path, ShouldTransferFiles="NO")
    s = Starter(ad, tmp_path)
    img = s.wait_for("image_size")
    assert img["image_size_kb"] > 0 and img["rss_kb"] > 0
    os.kill(s.pid, signal.SIGQUIT)
    final = s.final()
    assert final["event"] == "evicted" and final["rss_kb"] >= img["rss_kb"]


@pytest.fixture
def open_tmp():
    """A directory another user can reach (pytest's own are private to us)."""
    import shutil
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="execute-test-"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not ROOT, reason="running as another user needs root")
def test_run_as_nobody(open_tmp):
    tmp_path = open_tmp
    ad = sh("id -un; touch made; ls -ld . | cut -d' ' -f3", tmp_path, Owner="nobody")
    final, _ = run(ad, tmp_path)
    assert final["event"] == "exited" and final["exit_code"] == 0, final
    assert (tmp_path / "out.txt").read_text() == "nobody\nnobody\n"
    nobody = pwd.getpwnam("nobody")
    assert (tmp_path / "made").stat().st_uid == nobody.pw_uid
    assert (tmp_path / "out.txt").stat().st_uid == nobody.pw_uid


@pytest.mark.skipif(not ROOT, reason="running as another user needs root")
def test_run_as_nobody_without_transfer(open_tmp):
    tmp_path = open_tmp
    final, _ = run(sh("id -un", tmp_path, Owner="nobody", ShouldTransferFiles="NO"), tmp_path)
    assert final["exit_code"] == 0
    assert (tmp_path / "out.txt").read_text() == "nobody\n"
    assert (tmp_path / "out.txt").stat().st_uid == pwd.getpwnam("nobody").pw_uid
