"""condor_submit -dry-run and -dump against what the real 25.14 tool printed: the recorder
fed QMGMT messages, the output around it, then the tool as a program with no pool at all
and against a live pool whose queue must not change."""
from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.jobqueue import qmgmt as Q
from condor_sim.daemons import private_queue as PQ
from condor_sim.jobqueue import recorder as R
from condor_sim.tools import submit_dryrun as D
from support import captures
from support.submit_tool import no_pool_env, queue_state, run_tool
from support.captures import capture as read_capture
from support.pools import running_pool

CLI = captures.CLI

# Values that depend on the time, the build of the client library, the directory the
# tool ran in or the host's domain, not on the tool: QDate and EnteredCurrentStatus (the
# submit time), CondorVersion/SubmitVersion/CondorPlatform (the capture's source build
# versus the PyPI wheel), Iwd and UserLog (the capture ran in /srv/pool/jobs, these runs
# in a temporary directory) and FileSystemDomain (the capture host's domain).
VOLATILE = ("QDate", "EnteredCurrentStatus", "CondorVersion", "SubmitVersion", "CondorPlatform",
            "Iwd", "UserLog", "FileSystemDomain")
# The executable's size in KiB (ExecutableSize, and ImageSize/DiskUsage made from it)
# is the size of /bin/echo etc. on the machine that runs the tool: compared exactly
# where it is the captured host's size, otherwise taken from the local file.
SIZES = ("ExecutableSize", "ImageSize", "DiskUsage")

DRY_RUN_CASES = ["dry-run-items", "dry-run-stdout-queue3", "dry-run-terse",
                 "queue-matching-files-dry-run",
                 # job factories (max_materialize, max_idle, -factory): the cluster ad only
                 "factory-dry-run", "factory-dry-run-terse", "factory-items-dry-run",
                 "factory-option-dry-run", "factory-dry-run-file",
                 # -dry-run:full: the whole ads after the summary
                 "dry-run-full", "dry-run-full-items",
                 # -dry-run:hash: the submit hash before the stream
                 "dry-run-hash-q3", "dry-run-hash-items", "dry-run-hash-vars", "dry-run-hash-factory",
                 "dry-run-hash-file", "dry-run-hash-terse", "dry-run-hash-append"]


def mask(text: str) -> str:
    text = re.sub(r"^(  FACTORY\.Iwd = ).*$", r"\1X", text, flags=re.M)     # the -dry-run:hash dump's
    return re.sub(rf"^({'|'.join(VOLATILE)})( ?= ?).*$", r"\1\2X", text, flags=re.M)


def local_sizes(text: str, cwd: Path) -> str:
    """The captured sizes replaced by the local executable's size, in KiB rounded up."""
    m = re.search(r'^Cmd ?= ?"(.*)"$', text, re.M)
    if not m:
        return text
    kib = math.ceil(os.stat(cwd / m.group(1)).st_size / 1024)
    return re.sub(rf"^({'|'.join(SIZES)})( ?= ?)\d+$", rf"\g<1>\g<2>{kib}", text, flags=re.M)


def capture(case: str) -> dict:
    return read_capture(CLI / "condor_submit" / f"{case}.txt")


@pytest.fixture
def jobs_dir(tmp_path) -> Path:
    """The capture's working directory: the submit files and the .ad files it matched."""
    d = tmp_path / "jobs"
    shutil.copytree(CLI / "submit-files", d)
    for f in (CLI / "input-files").glob("*.ad"):
        shutil.copy(f, d)
    return d


def assert_dry_run_matches(case: str, got: tuple[str, str, int], cwd: Path) -> None:
    c = capture(case)
    want = mask(local_sizes(c["stdout"], cwd))
    assert (mask(got[0]), got[1], got[2]) == (want, c["stderr"], c["rc"]), case


# ---------------------------------------------------------------------------- sans-IO
def request(*fields) -> MessageReader:
    w = MessageWriter()
    for f in fields:
        if isinstance(f, int):
            w.put_int(f)
        elif isinstance(f, bytes):
            w.put_bytes(f)
        else:
            w.put_string(f)
    return MessageReader(w.getvalue())


def reply_ints(payloads: list[bytes]) -> list[int]:
    return [MessageReader(p).get_int() for p in payloads]


def test_recorder_keeps_the_stream_in_order_and_answers_as_a_schedd():
    r = R.QmgmtRecorder()
    assert reply_ints(r.handle(request(Q.NewCluster))) == [1]
    assert reply_ints(r.handle(request(Q.NewProc, 1))) == [0]
    assert r.handle(request(Q.SetAttribute2, 1, -1, "1", "ClusterId", bytes([Q.NO_ACK]))) == []
    assert r.handle(request(Q.SetAttribute2, 1, -1, '"/bin/echo"', "Cmd", bytes([Q.NO_ACK]))) == []
    assert reply_ints(r.handle(request(Q.SetAttribute, 1, 0, "0", "ProcId"))) == [0]
    assert reply_ints(r.handle(request(Q.NewProc, 1))) == [1]
    assert reply_ints(r.handle(request(Q.NewProc, 7))) == [-1]          # not the active cluster
    r.handle(request(Q.SetAttribute2, 1, 1, "1", "ProcId", bytes([Q.NO_ACK])))
    assert reply_ints(r.handle(request(Q.CommitTransaction, 0))) == [0]
    with pytest.raises(Q.CloseSession):
        r.handle(request(Q.CloseSocket))
    rec = r.recorded
    assert (rec.cluster, rec.committed) == (1, True)
    assert D.render_stream(rec) == '\nClusterId=1\nCmd="/bin/echo"\nProcId=0\n\nProcId=1\n'


def recorded() -> D.Recorded:
    return D.Recorded(1, [("ClusterId", "1"), ("Owner", '"me"')],
                      {0: [("ProcId", "0"), ("JobStatus", "1")],
                       1: [("ProcId", "1"), ("JobStatus", "1"), ("Args", '"b"')]}, True)


def test_owner_is_written_undefined_as_the_real_dry_run():
    assert "Owner=undefined\n" in D.render_stream(recorded())


def test_output_to_a_file_keeps_only_progress_and_summary_on_stdout():
    p = D.dry_run_output(recorded(), dump=False, to_stdout=False, terse=False, from_stdin=False)
    assert (p.stdout, p.stderr) == ("..\n2 job(s) dry-run to cluster 1.\n", "")
    assert p.file_text == D.render_stream(recorded())


def test_dump_output_as_the_real_tool_writes_it():
    p = D.dry_run_output(recorded(), dump=True, to_stdout=False, terse=False, from_stdin=False)
    assert (p.stdout, p.stderr) == ("..\n2 job(s) submitted to cluster 1.\n",
                                    "To monitor your job(s), run: condor_watch_q -clusters 1\n")
    assert D.header(dump=True, to_stdout=False, terse=False, from_stdin=False) == "Storing job ClassAd(s)"
    p = D.dry_run_output(recorded(), dump=True, to_stdout=True, terse=False, from_stdin=False)
    assert (p.stdout, p.stderr) == (D.render_stream(recorded()) + "\n", "")
    assert D.header(dump=True, to_stdout=True, terse=False, from_stdin=False) == ""


# ---------------------------------------------------------------------------- no pool
@pytest.mark.parametrize("case", DRY_RUN_CASES)
def test_dry_run_matches_capture_with_no_pool(tmp_path, jobs_dir, case):
    got = run_tool(jobs_dir, no_pool_env(tmp_path), *capture(case)["argv"])
    assert_dry_run_matches(case, got, jobs_dir)
    assert not (jobs_dir / "items.log").exists() and not (jobs_dir / "q3.log").exists()


def test_dry_run_and_dump_to_files(tmp_path, jobs_dir):
    env = no_pool_env(tmp_path)
    stdout, stderr, rc = run_tool(jobs_dir, env, "-dry-run", "out.txt", "items.sub")
    assert (stdout, stderr, rc) == ("Dry-Run job(s)..\n2 job(s) dry-run to cluster 1.\n", "", 0)
    want = capture("dry-run-items")["stdout"]
    # the file holds the stream without the progress dots (each before a proc's new line,
    # the last one before the final new line)
    body = want.split("Dry-Run job(s)", 1)[1].rsplit("2 job(s)", 1)[0]
    body = body.removesuffix(".\n").replace("\n.\n", "\n\n")
    assert mask(local_sizes((jobs_dir / "out.txt").read_text(), jobs_dir)) == \
        mask(local_sizes(body, jobs_dir))
    stdout, stderr, rc = run_tool(jobs_dir, env, "-dump", "ads.txt", "items.sub")
    assert (stdout, stderr, rc) == ("Storing job ClassAd(s)..\n2 job(s) submitted to cluster 1.\n",
                                    "To monitor your job(s), run: condor_watch_q -clusters 1\n", 0)
    stream = mask((jobs_dir / "out.txt").read_text())
    assert mask((jobs_dir / "ads.txt").read_text()) == stream
    stdout, stderr, rc = run_tool(jobs_dir, env, "-dump", "-", "items.sub")
    assert (mask(stdout), stderr, rc) == (stream + "\n", "", 0)


def test_a_factory_dry_run_to_a_file_holds_its_cluster_ad(tmp_path, jobs_dir):
    c = capture("factory-dry-run-file")
    assert_dry_run_matches("factory-dry-run-file", run_tool(jobs_dir, no_pool_env(tmp_path), *c["argv"]),
                           jobs_dir)
    want = (CLI / "condor_submit" / "factory-dry-run-file.file.txt").read_text()
    got = (jobs_dir / "factory-out.txt").read_text()
    assert mask(local_sizes(got, jobs_dir)) == mask(local_sizes(want, jobs_dir))


def test_option_errors(tmp_path, jobs_dir):
    env = no_pool_env(tmp_path)
    assert run_tool(jobs_dir, env, "-dry-run", "a", "-dump", "b", "q1.sub") == \
        ("", "condor_submit: -dump <file> and -dry-run <file> cannot be used together\n", 1)
    out, err, rc = run_tool(jobs_dir, env, "-dry-run", "-")
    assert (out, rc) == ("", 1) and err.startswith("\nERROR: No submit filename was provided, and '-'\n")


# ---------------------------------------------------------------------------- live pool
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("dryrun") / "p") as p:
        yield p




def test_dry_run_against_a_live_pool_leaves_its_queue_alone(pool, jobs_dir):
    env = dict(pool.env)
    first = int(re.search(r"cluster (\d+)\.", run_tool(jobs_dir, env, "q1.sub")[0]).group(1))
    before = queue_state(pool)
    qlog = pool.directory / "spool" / "job_queue.log"
    log_before = qlog.read_bytes() if qlog.exists() else b""
    for case in DRY_RUN_CASES:
        assert_dry_run_matches(case, run_tool(jobs_dir, env, *capture(case)["argv"]), jobs_dir)
    assert queue_state(pool) == before
    assert (qlog.read_bytes() if qlog.exists() else b"") == log_before
    # the pool's next cluster id did not move either
    out = run_tool(jobs_dir, env, "q1.sub")[0]
    assert f"submitted to cluster {first + 1}." in out


@pytest.mark.parametrize("case", ["cmdline-var-override", "vars-custom-attrs"])
def test_submit_captures_against_a_live_pool(pool, jobs_dir, case):
    c = capture(case)
    out, err, rc = run_tool(jobs_dir, dict(pool.env), *c["argv"])
    got = int(re.search(r"cluster (\d+)\.", out).group(1))
    want = int(re.search(r"cluster (\d+)\.", c["stdout"]).group(1))
    fix = lambda s: re.sub(rf"(cluster|-clusters) {got}\b", rf"\g<1> {want}", s)  # noqa: E731
    assert (fix(out), fix(err), rc) == (c["stdout"], c["stderr"], c["rc"])


OTHER_USER_SUBMIT = r"""
import sys, classad2, htcondor2
ad = classad2.ClassAd({"MyAddress": sys.argv[1], "Name": "dry-run", "MyType": "Scheduler",
                       "CondorVersion": htcondor2.version()})
try:
    htcondor2.Schedd(ad).submit(htcondor2.Submit({"executable": "/bin/true", "+Intruder": "true"}))
except Exception as e:
    print("refused:", e)
    sys.exit(3)
"""


def test_another_user_cannot_write_to_the_private_queue():
    """The private queue takes writes from the user running the tool only: another local
    user who reaches it first is refused, and the tool's own submit is still recorded."""
    import pwd
    from support.clients import python_for_other_users
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another uid")
    pw = pwd.getpwnam("nobody")
    python, extra = python_for_other_users()
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="condor-sim-dryrun-"))      # reachable by the user
    os.chmod(base, 0o755)
    cfg = base / "empty_config"
    cfg.write_text("")
    os.chmod(cfg, 0o644)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("_CONDOR_")}
    env.update(CONDOR_CONFIG=str(cfg), HOME="/", **extra)
    import htcondor2
    try:
        with PQ.PrivateSchedd(timeout=20) as ps:
            r = subprocess.run([python, "-c", OTHER_USER_SUBMIT, ps.address], env=env, user=pw.pw_uid,
                               group=pw.pw_gid, extra_groups=[], capture_output=True, text=True,
                               timeout=60, cwd="/")
            assert r.returncode == 3 and "refused" in r.stdout, r.stdout + r.stderr
            htcondor2.Schedd(ps.ad()).submit(htcondor2.Submit({"executable": "/bin/true"}))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    names = [n for n, _ in ps.recorded.cluster_attrs]
    assert "Cmd" in names and "Intruder" not in names


def test_the_hash_dump_takes_loop_variables_from_the_expanded_queue_statement():
    """What a real 25.14 condor_submit -dry-run:hash printed for
    ``queue $(n) x,Y from (...)`` with ``n = 2``: the count is a macro, the variables
    are x and Y (sorted without case, with the commands), each empty."""
    assert D.live_vars("2 x,Y from (") == ["x", "Y"] and D.live_vars("3") == ["Item"]
    assert D.live_vars("in (a, b)") == ["Item"] and D.live_vars("item in (a, b)") == ["item"]
    text = D.hash_dump([("executable", "/bin/true"), ("n", "2")], "$(n) x,Y from (", "2 x,Y from (",
                       "/srv/pool/jobs", factory=False, itemdata_newline=False)
    assert text == ("\n----- Queue arguments -----\nSpecified: queue $(n) x,Y from (\n"
                    "Expanded : queue 2 x,Y from (\n----- submit hash at queue begin -----\n"
                    "  executable = /bin/true\n  FACTORY.Iwd = /srv/pool/jobs\n  n = 2\n"
                    "  x = \n  Y = \n-----\n")
