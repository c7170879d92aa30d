"""condor_submit -maxjobs: the option's texts and exit codes as submit.cpp has them, then
the limit itself on -dry-run (no pool) and on a live pool, where a refused submit must
leave no job in the queue and not use up a cluster id."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from condor_sim.tools import common, condor_submit as S
from condor_sim.tools.submit_dryrun import Recorded
from support import captures
from support.submit_tool import no_pool_env, queue_state, run_tool
from support.pools import running_pool

SUBMIT_FILES = captures.CLI / "submit-files"


def parse(*argv: str) -> tuple[S.Options | None, str, int]:
    out = common.Output()
    try:
        o = S.parse_args(list(argv), out)
    except common.Exit as e:
        return None, "".join(out.stderr), e.rc
    return o, "".join(out.stderr), 0


# ---------------------------------------------------------------------------- the option
@pytest.mark.parametrize("argv,stderr", [
    (["-maxjobs"], "condor_submit: -maxjobs requires another argument\n"),
    (["-max"], "condor_submit: -maxjobs requires another argument\n"),
    (["-maxjobs", "abc"], "Error: Unable to convert argument (abc) to a number for -maxjobs.\n"),
    (["-maxjobs", "5x", "q1.sub"], "Error: Unable to convert argument (5x) to a number for -maxjobs.\n"),
    (["-maxjobs", "0x10"], "Error: Unable to convert argument (0x10) to a number for -maxjobs.\n"),
    (["-maxjobs", " "], "Error: Unable to convert argument ( ) to a number for -maxjobs.\n"),
    (["-maxjobs", "3 "], "Error: Unable to convert argument (3 ) to a number for -maxjobs.\n"),
    (["-maxjobs", "-2"], "Error: -2 is not a valid for -maxjobs.\n"),
    (["-maxjobs", "-2147483648"], "Error: -2147483648 is not a valid for -maxjobs.\n"),
    # a value past a 32-bit int wraps as the C int it is stored in
    (["-maxjobs", "4294967294"], "Error: -2 is not a valid for -maxjobs.\n"),
])
def test_option_errors_exit_1_with_the_real_texts(argv, stderr):
    assert parse(*argv) == (None, stderr, 1)


@pytest.mark.parametrize("word,value", [
    ("3", 3), ("-1", -1), ("0", 0), ("", 0), (" 7", 7), ("+4", 4), ("007", 7),
    ("2147483647", 2147483647),
    ("99999999999999999999", -1),      # strtol clamps to LONG_MAX, whose low 32 bits are -1
])
def test_option_values(word, value):
    o, err, rc = parse("-maxjobs", word, "q1.sub")
    assert (o.maxjobs, err, rc, o.cmd_file, o.unsupported) == (value, "", 0, "q1.sub", None)


def test_strtol_reading():
    assert [S.c_strtol_int(w) for w in ("1", "\t+2", "-0", "2147483647", "2147483648", "x", "1.5")] \
        == [1, 2, 0, 2147483647, -2147483648, None, None]


def test_limit_texts():
    assert S.maxjobs_error(2) == "\nERROR: Number of submitted jobs would exceed -maxjobs (2)\n"
    o = S.Options(maxjobs=2)
    assert [S.over_limit(o, n) for n in (1, 2, 3)] == [False, False, True]
    assert not any(S.over_limit(S.Options(maxjobs=m), 10**6) for m in (0, -1))


def recorded() -> Recorded:
    return Recorded(cluster=1, cluster_attrs=[("Cmd", '"/bin/sleep"'), ("Owner", '"me"')],
                    procs={p: [("ProcId", str(p))] for p in range(3)})


def test_what_a_stopped_dry_run_prints():
    made = S.first_procs(recorded(), 2)
    assert sorted(made.procs) == [0, 1] and made.cluster_attrs == recorded().cluster_attrs
    stream = "\nCmd=\"/bin/sleep\"\nOwner=undefined\nProcId=0\n.\nProcId=1\n."
    assert S.stopped_output(S.Options(maxjobs=2), made, dump=False, to_stdout=True) == stream
    assert S.stopped_output(S.Options(maxjobs=2), made, dump=False, to_stdout=False) == ".."
    assert S.stopped_output(S.Options(maxjobs=2, terse=True), made, dump=False,
                            to_stdout=False) == ""
    assert S.stopped_output(S.Options(maxjobs=2), made, dump=True, to_stdout=True) == \
        stream.replace(".", "")
    verbose = S.stopped_output(S.Options(maxjobs=2, verbose=True), made, dump=False,
                               to_stdout=False)
    assert verbose.startswith("\n** Proc 1.0:\n") and "\n** Proc 1.1:\n" in verbose
    assert "ProcId = 1\n" in verbose and "\n." not in verbose


# ---------------------------------------------------------------------------- the tool
@pytest.fixture
def jobs_dir(tmp_path) -> Path:
    d = tmp_path / "jobs"
    shutil.copytree(SUBMIT_FILES, d)
    return d


def volatile(text: str) -> str:
    return re.sub(r"^(QDate|EnteredCurrentStatus)=.*$", r"\1=X", text, flags=re.M)


ERROR2 = "\nERROR: Number of submitted jobs would exceed -maxjobs (2)\n"


def test_dry_run_stops_after_the_limit(tmp_path, jobs_dir):
    """What a stopped dry run prints is what the whole one prints, up to the job past the
    limit: the header, each job made (its stream on stdout, then its dot), and no summary."""
    env = no_pool_env(tmp_path)
    full, _, rc = run_tool(jobs_dir, env, "-dry-run", "-", "q3.sub")
    assert rc == 0 and full.count("\n.\n") == 3
    cut = full[:full.index("\n.", full.index("\n.") + 1) + 2]
    out, err, rc = run_tool(jobs_dir, env, "-maxjobs", "2", "-dry-run", "-", "q3.sub")
    assert (volatile(out), err, rc) == (volatile(cut), ERROR2, 1)
    assert run_tool(jobs_dir, env, "-maxjobs", "3", "-dry-run", "-", "q3.sub")[2] == 0
    # to a file: the file holds the two jobs' stream, stdout their dots
    assert run_tool(jobs_dir, env, "-maxjobs", "2", "-dry-run", "out.txt", "q3.sub") == \
        ("Dry-Run job(s)..", ERROR2, 1)
    stream = cut.removeprefix("Dry-Run job(s)").replace("\n.\n", "\n\n").removesuffix(".")
    assert volatile((jobs_dir / "out.txt").read_text()) == volatile(stream)
    assert run_tool(jobs_dir, env, "-maxjobs", "1", "-terse", "-dry-run", "t.txt", "items.sub") == \
        ("", "\nERROR: Number of submitted jobs would exceed -maxjobs (1)\n", 1)
    assert run_tool(jobs_dir, env, "-maxjobs", "1", "-dump", "d.txt", "items.sub") == \
        ("Storing job ClassAd(s).", "\nERROR: Number of submitted jobs would exceed -maxjobs (1)\n", 1)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("maxjobs") / "p") as p:
        yield p




def cluster_of(stdout: str) -> int:
    return int(re.search(r"(\d+) job\(s\) submitted to cluster (\d+)\.", stdout).group(2))


def test_live_pool_within_the_limit_submits(pool, jobs_dir):
    env = dict(pool.env)
    for limit in ("3", "4", "0", "-1"):
        out, err, rc = run_tool(jobs_dir, env, "-maxjobs", limit, "q3.sub")
        assert rc == 0 and out.startswith("Submitting job(s)...\n3 job(s) submitted"), (limit, err)
        c = cluster_of(out)
        assert [p for cl, p in queue_state(pool) if cl == c] == [0, 1, 2]


@pytest.mark.parametrize("args,stdout,limit", [
    (["-maxjobs", "2", "q3.sub"], "Submitting job(s)..", 2),
    (["-maxjobs", "1", "items.sub"], "Submitting job(s).", 1),
    (["-terse", "-maxjobs", "2", "q3.sub"], "", 2),
])
def test_live_pool_over_the_limit_submits_nothing(pool, jobs_dir, args, stdout, limit):
    env = dict(pool.env)
    first = cluster_of(run_tool(jobs_dir, env, "q1.sub")[0])
    before = queue_state(pool)
    out, err, rc = run_tool(jobs_dir, env, *args)
    assert (out, err, rc) == \
        (stdout, f"\nERROR: Number of submitted jobs would exceed -maxjobs ({limit})\n", 1)
    assert queue_state(pool) == before
    # no cluster was created either: the next submit gets the next id
    assert cluster_of(run_tool(jobs_dir, env, "q1.sub")[0]) == first + 1


def test_maxjobs_does_not_stop_a_factory(tmp_path, jobs_dir):
    """The real tool checks -maxjobs as it makes each proc; a factory makes none at
    submit (the schedd does later), so its dry run is not stopped."""
    env = no_pool_env(tmp_path)
    out, err, rc = run_tool(jobs_dir, env, "-maxjobs", "1", "-dry-run", "f.txt", "factory.sub")
    assert (out, err, rc) == ("Dry-Run job(s)\n4 job(s) dry-run to cluster 1.\n", "", 0)
