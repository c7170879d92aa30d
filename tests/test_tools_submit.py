"""condor_submit, condor_rm, condor_hold, condor_release and condor_qedit against what the real
25.14 tools printed (shared/real-captures/cli), first in-process with the schedd replaced
by a stand-in that answers as the real one did, then end to end on a simulated pool through
``python -m condor_sim.tools.<tool>``, checking the queue afterwards with the real client."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from condor_sim.tools import common, condor_qedit, condor_submit, job_actions as JA
from support import captures
from support.captures import NOBATCH_ROW, SCHEDD_LINE
from support.captures import capture as read_capture
from support.pools import client, running_pool

CAPTURES = captures.CLI
SUBMIT_FILES = CAPTURES / "submit-files"


# ---------------------------------------------------------------------------- captures
def capture(tool: str, case: str) -> tuple[dict, str, str]:
    """(header, stdout, stderr) of one captured run; the header's rc as an int."""
    c = read_capture(CAPTURES / tool / f"{case}.txt")
    return {**c["fields"], "rc": c["rc"]}, c["stdout"], c["stderr"]


def run_inprocess(body, argv) -> tuple[str, str, int]:
    out = common.Output()
    try:
        rc = body(argv, out)
        out.rc = out.rc if rc is None else rc
    except common.Exit as e:
        out.rc = e.rc
    return "".join(out.stdout), "".join(out.stderr), out.rc


def assert_matches(tool: str, case: str, got: tuple[str, str, int], mask=lambda s: s) -> None:
    header, stdout, stderr = capture(tool, case)
    assert (mask(got[0]), mask(got[1]), got[2]) == (mask(stdout), mask(stderr), header["rc"]), case


# ---------------------------------------------------------------------------- stand-in schedd
class FakeSchedd:
    """Answers ``act`` with the totals the real schedd gave for the captured queue:
    ``jobs`` maps "c.p" to (status, hold code) and a constraint is evaluated on them."""

    def __init__(self, jobs: dict[str, int], total_job_ads: int = 22):
        self.jobs = jobs
        self.total = total_job_ads
        self.calls = []

    def _result(self, action, status) -> int:
        name = action.name
        if status is None:
            return JA.AR_NOT_FOUND
        if name == "Hold":
            return JA.AR_ALREADY_DONE if status == 5 else JA.AR_SUCCESS
        if name == "Release":
            return JA.AR_SUCCESS if status == 5 else JA.AR_BAD_STATUS
        if name == "RemoveX":
            return JA.AR_SUCCESS if status == 3 else JA.AR_BAD_STATUS
        return JA.AR_SUCCESS

    def act(self, action, spec, reason=None):
        self.calls.append((action, spec, reason))
        totals = [0] * 6
        if isinstance(spec, list):
            for jid in spec:
                totals[self._result(action, self.jobs.get(jid))] += 1
        else:
            expr = classad2.ExprTree(spec)
            for jid, status in self.jobs.items():
                c, p = (int(x) for x in jid.split("."))
                ad = classad2.ClassAd({"ClusterId": c, "ProcId": p, "JobStatus": status,
                                       "Owner": "htcpool"})
                if expr.eval(ad) is True:
                    r = self._result(action, status)
                    if r == JA.AR_SUCCESS:
                        totals[r] += 1
        ad = classad2.ClassAd({k: v for k, v in zip(JA.TOTAL_KEYS, totals)})
        ad["TotalJobAds"] = self.total if self.jobs else 0
        ad["TotalChangedAds"] = 1 if totals[JA.AR_SUCCESS] else 0
        return ad

    def reschedule(self):
        pass


QUEUE = {"8.0": 1, "8.1": 1, "8.2": 1, "9.0": 1, "9.1": 5, "9.2": 1, "10.0": 1, "10.1": 1,
         "11.0": 5, "13.0": 1, "14.0": 1, "15.0": 1, "16.0": 1}

ACTION_CASES = [
    # tool, case, argv, queue (status per job)
    ("condor_rm", "cluster", ["8"], QUEUE),
    ("condor_rm", "job", ["9.1"], QUEUE),
    ("condor_rm", "reason", ["-reason", "removed by clicap", "9.2"], QUEUE),
    ("condor_rm", "constraint", ["-constraint", "ClusterId == 10"], QUEUE),
    ("condor_rm", "constraint-nomatch", ["-constraint", "ClusterId == 999"], QUEUE),
    ("condor_rm", "nonexistent-cluster", ["999"], QUEUE),
    ("condor_rm", "nonexistent-job", ["999.0"], QUEUE),
    ("condor_rm", "already-removed-job", ["8.0"], {"9.0": 1}),
    ("condor_rm", "held-option-cluster", ["-held", "11"], QUEUE),
    ("condor_rm", "forcex-not-x", ["-forcex", "15.0"], QUEUE),
    ("condor_rm", "totals", ["-totals", "14.0"], QUEUE),
    ("condor_rm", "long", ["-long", "13.0"], QUEUE),
    ("condor_rm", "all", ["-all"], QUEUE),
    ("condor_rm", "all-empty-queue", ["-all"], {}),
    ("condor_rm", "noargs", [], QUEUE),
    ("condor_rm", "unknown-option", ["-bogusopt"], QUEUE),
    ("condor_hold", "job", ["9.1"], {"9.1": 1}),
    ("condor_hold", "reason", ["-reason", "held by clicap", "9.2"], QUEUE),
    ("condor_hold", "cluster", ["8"], QUEUE),
    ("condor_hold", "already-held-job", ["8.0"], {"8.0": 5}),
    ("condor_hold", "bad-id", ["abc.def"], QUEUE),
    ("condor_hold", "constraint", ["-constraint", "ClusterId == 10"], QUEUE),
    ("condor_hold", "constraint-nomatch", ["-constraint", "ClusterId == 999"], QUEUE),
    ("condor_hold", "nonexistent-cluster", ["999"], QUEUE),
    ("condor_hold", "nonexistent-job", ["999.0"], QUEUE),
    ("condor_hold", "multiple-ids", ["13.0", "14.0", "999.0"], QUEUE),
    ("condor_hold", "totals", ["-totals", "15"], QUEUE),
    ("condor_hold", "long", ["-long", "16.0"], QUEUE),
    ("condor_hold", "all", ["-all"], QUEUE),
    ("condor_hold", "all-empty-queue", ["-all"], {}),
    ("condor_hold", "all-with-constraint-error", ["-all", "5.0"], QUEUE),
    ("condor_hold", "noargs", [], QUEUE),
    ("condor_release", "job", ["9.1"], QUEUE),
    ("condor_release", "reason", ["-reason", "released by clicap", "9.2"], {"9.2": 5}),
    ("condor_release", "cluster", ["8"], {"8.0": 5}),
    ("condor_release", "constraint", ["-constraint", "ClusterId == 10"], {"10.0": 5}),
    ("condor_release", "multiple-ids", ["13.0", "14.0"], {"13.0": 5, "14.0": 5}),
    ("condor_release", "nonexistent-job", ["999.0"], QUEUE),
    ("condor_release", "not-held-job", ["9.0"], QUEUE),
    ("condor_release", "all", ["-all"], {"3.0": 5}),
    ("condor_release", "all-empty-queue", ["-all"], {}),
    ("condor_release", "noargs", [], QUEUE),
]
MODES = {"condor_rm": JA.REMOVE, "condor_hold": JA.HOLD, "condor_release": JA.RELEASE}


@pytest.mark.parametrize("tool,case,argv,queue", ACTION_CASES,
                         ids=[f"{t}-{c}" for t, c, _, _ in ACTION_CASES])
def test_job_action_output_matches_capture(monkeypatch, tool, case, argv, queue):
    header, _, _ = capture(tool, case)
    fake = FakeSchedd(queue)
    monkeypatch.setattr(JA, "find_schedd", lambda req, out: fake)
    monkeypatch.setattr(JA, "is_queue_super_user", lambda user: True)
    got = run_inprocess(lambda a, o: JA.run(MODES[tool], a, o), argv)
    assert_matches(tool, case, got)


def test_job_action_reasons_and_specs_sent(monkeypatch):
    fake = FakeSchedd(QUEUE)
    monkeypatch.setattr(JA, "find_schedd", lambda req, out: fake)
    run_inprocess(lambda a, o: JA.run(JA.HOLD, a, o), ["-subcode", "7", "9.0"])
    run_inprocess(lambda a, o: JA.run(JA.REMOVE, a, o), ["-held", "11"])
    run_inprocess(lambda a, o: JA.run(JA.RELEASE, a, o), ["htcpool", "alice"])
    (a1, s1, r1), (a2, s2, r2), (a3, s3, r3) = fake.calls
    assert (a1.name, s1, r1) == ("Hold", ["9.0"], ("via condor_hold", 7))
    assert (a2.name, s2, r2) == ("Remove", "ClusterId == 11 && (JobStatus == 5)", ("via condor_rm", None))
    assert (a3.name, s3) == ("Release", 'Owner == "htcpool" || Owner == "alice"')


def test_result_strings_for_every_outcome():
    assert JA.result_string(JA.REMOVE, "1.0", JA.AR_ALREADY_DONE) == "Job 1.0 already marked for removal"
    assert JA.result_string(JA.HOLD, "1.0", JA.AR_PERMISSION_DENIED) == "Permission denied to hold job 1.0"
    assert JA.result_string(JA.REMOVE_X, "2.3", JA.AR_SUCCESS) == \
        "Job 2.3 removed locally (remote state unknown)"
    assert JA.result_string(JA.RELEASE, "1.0", JA.AR_ERROR) == "No result found for job 1.0"


def test_dash_arg_prefix_rules():
    assert common.is_dash_arg_prefix("-con", "constraint", 1)
    assert common.is_dash_arg_prefix("--constraint", "constraint", 1)
    assert not common.is_dash_arg_prefix("--con", "constraint", 1)
    assert not common.is_dash_arg_prefix("-to", "totals", 3)
    assert not common.is_dash_arg_prefix("-constraints", "constraint", 1)


# ---------------------------------------------------------------------------- condor_qedit
QEDIT_LOCAL_CASES = [
    ("noargs", []),
    ("no-edit-list", ["8.0"]),
    ("bad-expression", ["8.0", "Foo", "((("]),
    ("clusterid-refused", ["8.0", "ClusterId", "99"]),
    ("procid-refused", ["8.0", "ProcId", "5"]),
    ("owner-refused", ["8.0", "Owner", '"alice"']),
]


@pytest.mark.parametrize("case,argv", QEDIT_LOCAL_CASES, ids=[c for c, _ in QEDIT_LOCAL_CASES])
def test_qedit_refusals_match_capture(case, argv):
    assert_matches("condor_qedit", case, run_inprocess(condor_qedit.run, argv))


def test_qedit_constraints_as_the_real_tool_builds_them():
    assert condor_qedit.jobid_constraint({(8, -1)}) == "ClusterId == 8 "
    assert condor_qedit.jobid_constraint({(8, 0), (8, 2), (9, -1)}) == \
        "( ClusterId == 8 && (ProcId == 0  || ProcId == 2 ))|| ClusterId == 9 "
    assert condor_qedit.make_query(["ClusterId == 999"]) == "( (ClusterId == 999) )"


# ---------------------------------------------------------------------------- condor_submit
def test_submit_help_and_unknown_option_match_capture():
    assert_matches("condor_submit", "help", run_inprocess(condor_submit.run, ["-help"]))
    assert_matches("condor_submit", "unknown-option",
                   run_inprocess(condor_submit.run, ["-bogusopt", "q1.sub"]))


@pytest.fixture
def jobs_dir(tmp_path, monkeypatch):
    """A copy of the captured submit files, as cwd (the captures ran in /srv/pool/jobs)."""
    d = tmp_path / "jobs"
    shutil.copytree(SUBMIT_FILES, d)
    monkeypatch.chdir(d)
    return d


SUBMIT_ERROR_CASES = [
    ("missing-file", ["nosuch.sub"], ""),
    ("bad-queue-line", ["bad-queue.sub"], ""),
    ("syntax-error", ["bad-syntax.sub"], ""),
    ("missing-executable", ["missing-exe.sub"], ""),
    ("queue-option", ["-queue", "2", "q1.sub"], ""),
]


@pytest.mark.parametrize("case,argv,stdin", SUBMIT_ERROR_CASES, ids=[c for c, _, _ in SUBMIT_ERROR_CASES])
def test_submit_errors_match_capture(monkeypatch, jobs_dir, case, argv, stdin):
    monkeypatch.setattr(condor_submit, "find_schedd", lambda o, out: object())
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert_matches("condor_submit", case, run_inprocess(condor_submit.run, argv))


def test_submit_summaries_match_capture():
    _, out, err = capture("condor_submit", "queue3")
    assert ("Submitting job(s)" + "..." + "\n" + condor_submit.summary_lines(8, 0, 3)[0],
            condor_submit.summary_lines(8, 0, 3)[1]) == (out, err)
    assert condor_submit.terse_line(9, 0, 3) == capture("condor_submit", "terse-queue3")[1]


def test_submit_verbose_ad_printed_as_captured():
    """The captured -verbose ad, parsed and printed again, comes out byte for byte."""
    _, out, _ = capture("condor_submit", "verbose-q1")
    body = out.split("** Proc 13.0:\n", 1)[1].rstrip("\n")
    ad = classad2.parseOne(body, parser=classad2.ParserType.Old)
    del ad["ProcId"]
    lines = condor_submit.proc_ad_lines(ad, 0, {})
    assert "Submitting job(s)" + condor_submit.verbose_block(13, 0, lines) + "\n\n" == out


def test_submit_unsupported_options_say_so():
    for argv in (["-dry-run:jobset", "-", "q1.sub"], ["-interactive", "q1.sub"]):
        stdout, stderr, rc = run_inprocess(condor_submit.run, argv)
        assert (stdout, rc) == ("", 1)
        assert re.fullmatch(r"\nERROR: -\w.*(not supported|the htcondor2 bindings cannot do).*\n", stderr)
    stdout, stderr, rc = run_inprocess(condor_submit.run, ["-dry-run:bogus", "-", "q1.sub"])
    assert (stdout, stderr, rc) == ("", "unknown option bogus for -dry-run:<opts>\n", 1)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("tools") / "p") as p:
        yield p


@pytest.fixture
def e2e_dir(pool, tmp_path):
    d = tmp_path / "jobs"
    shutil.copytree(SUBMIT_FILES, d)
    return d


def tool(pool, cwd, name: str, *args: str, stdin: str = "") -> tuple[str, str, int]:
    env = dict(pool.env)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-m", f"condor_sim.tools.{name}", *args], cwd=cwd,
                       env=env, input=stdin, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in p.stderr, p.stderr
    return p.stdout, p.stderr, p.returncode


def query(pool, constraint: str, attrs: list[str]) -> list[dict]:
    return client(pool, f"""
        import htcondor2
        ads = htcondor2.Schedd().query({constraint!r}, {attrs + ["ClusterId", "ProcId"]!r})
        return sorted(ads, key=lambda a: (a["ClusterId"], a["ProcId"]))
    """)


def history(pool, constraint: str, attrs: list[str]) -> list[dict]:
    return client(pool, f"""
        import htcondor2
        return list(htcondor2.Schedd().history({constraint!r}, {attrs!r}))
    """)


def submit(pool, cwd, *args, stdin: str = "") -> int:
    out, err, rc = tool(pool, cwd, "condor_submit", *args, stdin=stdin)
    assert rc == 0, err
    m = re.search(r"submitted to cluster (\d+)\.|^(\d+)\.\d+ - ", out, re.M)
    return int(m.group(1) or m.group(2))


def cluster_mask(cluster: int, captured: int):
    def mask(text: str) -> str:
        return re.sub(rf"\b{cluster}\b", str(captured), text)
    return mask


def test_e2e_submit_queue3_and_terse(pool, e2e_dir):
    out, err, rc = tool(pool, e2e_dir, "condor_submit", "q3.sub")
    c = int(re.search(r"cluster (\d+)\.", out).group(1))
    assert_matches("condor_submit", "queue3", (out, err, rc), cluster_mask(c, 8))
    ads = query(pool, f"ClusterId == {c}", ["ClusterId", "ProcId", "JobStatus", "Args", "Cmd",
                                            "JobSubmitFile", "JobSubmitMethod", "Requirements"])
    assert [(a["ProcId"], a["JobStatus"], a["Args"], a["Cmd"]) for a in ads] == \
        [(p, 1, "300", "/bin/sleep") for p in range(3)]
    assert {(a["JobSubmitFile"], a["JobSubmitMethod"]) for a in ads} == {("q3.sub", 0)}
    out, err, rc = tool(pool, e2e_dir, "condor_submit", "-terse", "q3.sub")
    c2 = int(out.split(".")[0])
    assert_matches("condor_submit", "terse-queue3", (out, err, rc), cluster_mask(c2, 9))
    assert len(query(pool, f"ClusterId == {c2}", ["ProcId"])) == 3


def test_e2e_submit_variants_reach_the_queue(pool, e2e_dir):
    items = submit(pool, e2e_dir, "items.sub")
    ads = query(pool, f"ClusterId == {items}", ["ClusterId", "ProcId", "Args", "Out"])
    assert [(a["Args"], a["Out"]) for a in ads] == [("item=a process=0", "items-a.out"),
                                                   ("item=b process=1", "items-b.out")]
    held = submit(pool, e2e_dir, "-append", "hold=true", "q1.sub")
    batch = submit(pool, e2e_dir, "-batch-name", "cli-batch", "q1.sub")
    var = submit(pool, e2e_dir, "vars.sub")
    over = submit(pool, e2e_dir, "q1.sub", "arguments=5")
    piped = submit(pool, e2e_dir, stdin=(e2e_dir / "q1.sub").read_text())
    ads = {a["ClusterId"]: a for a in query(
        pool, f"ClusterId >= {held}",
        ["ClusterId", "ProcId", "JobStatus", "JobBatchName", "MyCustomAttr", "OtherAttr", "Args",
         "RequestMemory", "JobSubmitFile"])}
    assert ads[held]["JobStatus"] == 5
    assert ads[batch]["JobBatchName"] == "cli-batch"
    assert (ads[var]["MyCustomAttr"], ads[var]["OtherAttr"], ads[var]["Args"],
            ads[var]["RequestMemory"]) == ("custom value", 17, "42", 64)
    assert ads[over]["Args"] == "300"                 # the file's value wins, as the real tool
    assert "JobSubmitFile" not in ads[piped]


def test_e2e_submit_outputs_match_capture(pool, e2e_dir):
    for case, args, stdin in (("append-hold-true", ["-append", "hold=true", "q1.sub"], ""),
                              ("batch-name-option", ["-batch-name", "cli-batch", "q1.sub"], ""),
                              ("queue-item-in", ["items.sub"], ""),
                              ("stdin", [], (e2e_dir / "q1.sub").read_text())):
        out, err, rc = tool(pool, e2e_dir, "condor_submit", *args, stdin=stdin)
        c = int(re.search(r"cluster (\d+)\.", out).group(1))
        captured = int(re.search(r"cluster (\d+)\.", capture("condor_submit", case)[1]).group(1))
        assert_matches("condor_submit", case, (out, err, rc), cluster_mask(c, captured))


VOLATILE = ("CondorPlatform", "CondorVersion", "SubmitVersion", "QDate", "EnteredCurrentStatus",
            "Iwd", "UserLog", "FileSystemDomain")


def mask_ad_text(text: str) -> str:
    text = re.sub(r"\*\* Proc \d+\.", "** Proc C.", text)
    text = re.sub(r"^ClusterId = \d+$", "ClusterId = C", text, flags=re.M)
    return re.sub(rf"^({'|'.join(VOLATILE)}) = .*$", r"\1 = X", text, flags=re.M)


@pytest.mark.parametrize("case,args,from_stdin", [("verbose-q1", ["-verbose", "q1.sub"], False),
                                                  ("stdin-dash", ["-"], True)])
def test_e2e_submit_verbose_matches_capture(pool, e2e_dir, case, args, from_stdin):
    stdin = (e2e_dir / "q1.sub").read_text() if from_stdin else ""
    got = tool(pool, e2e_dir, "condor_submit", *args, stdin=stdin)
    assert_matches("condor_submit", case, got, mask_ad_text)


@pytest.mark.parametrize("case,args", [("missing-file", ["nosuch.sub"]),
                                       ("name-unknown", ["-name", "nosuch@vm", "q1.sub"]),
                                       ("bad-queue-line", ["bad-queue.sub"]),
                                       ("syntax-error", ["bad-syntax.sub"]),
                                       ("missing-executable", ["missing-exe.sub"]),
                                       ("unknown-option", ["-bogusopt", "q1.sub"]),
                                       ("queue-option", ["-queue", "2", "q1.sub"])])
def test_e2e_submit_errors_match_capture(pool, e2e_dir, case, args):
    before = len(query(pool, "true", ["ProcId"]))
    assert_matches("condor_submit", case, tool(pool, e2e_dir, "condor_submit", *args))
    assert len(query(pool, "true", ["ProcId"])) == before


def test_e2e_hold_release_remove(pool, e2e_dir):
    c = submit(pool, e2e_dir, "q3.sub")
    me = common.user_name()
    m = cluster_mask(c, 9)
    assert_matches("condor_hold", "job", tool(pool, e2e_dir, "condor_hold", f"{c}.1"), m)
    assert_matches("condor_hold", "reason",
                   tool(pool, e2e_dir, "condor_hold", "-reason", "held by clicap", f"{c}.2"), m)
    ads = query(pool, f"ClusterId == {c}", ["ClusterId", "ProcId", "JobStatus", "HoldReason",
                                            "HoldReasonCode"])
    assert [(a["JobStatus"], a.get("HoldReason"), a.get("HoldReasonCode")) for a in ads] == [
        (1, None, None), (5, f"via condor_hold (by user {me})", 1),
        (5, f"held by clicap (by user {me})", 1)]
    out, err, rc = tool(pool, e2e_dir, "condor_hold", f"{c}.1")
    assert (out, err, rc) == ("", f"\nJob {c}.1 already held\n", 1)
    assert_matches("condor_release", "not-held-job", tool(pool, e2e_dir, "condor_release", f"{c}.0"), m)
    assert_matches("condor_release", "job", tool(pool, e2e_dir, "condor_release", f"{c}.1"), m)
    assert query(pool, f"ClusterId == {c} && ProcId == 1", ["JobStatus"])[0]["JobStatus"] == 1
    assert_matches("condor_rm", "reason",
                   tool(pool, e2e_dir, "condor_rm", "-reason", "removed by clicap", f"{c}.2"), m)
    assert_matches("condor_rm", "job", tool(pool, e2e_dir, "condor_rm", f"{c}.1"), m)
    assert [a["ProcId"] for a in query(pool, f"ClusterId == {c}", ["ProcId"])] == [0]
    gone = {a["ProcId"]: a for a in history(pool, f"ClusterId == {c}", ["ProcId", "JobStatus",
                                                                         "RemoveReason"])}
    assert (gone[2]["JobStatus"], gone[2]["RemoveReason"]) == (3, f"removed by clicap (by user {me})")
    assert gone[1]["RemoveReason"] == f"via condor_rm (by user {me})"
    out, err, rc = tool(pool, e2e_dir, "condor_rm", f"{c}.1")
    assert (out, err, rc) == ("", f"\nJob {c}.1 not found\n", 1)


def test_e2e_cluster_constraint_totals_long(pool, e2e_dir):
    c = submit(pool, e2e_dir, "q3.sub")
    m = cluster_mask(c, 8)
    assert_matches("condor_hold", "cluster", tool(pool, e2e_dir, "condor_hold", str(c)), m)
    assert {a["JobStatus"] for a in query(pool, f"ClusterId == {c}", ["JobStatus"])} == {5}
    assert_matches("condor_release", "cluster", tool(pool, e2e_dir, "condor_release", str(c)), m)
    m10 = cluster_mask(c, 10)
    for name in ("condor_hold", "condor_release"):
        assert_matches(name, "constraint",
                       tool(pool, e2e_dir, name, "-constraint", f"ClusterId == {c}"), m10)
    for name in ("condor_hold", "condor_rm"):
        assert_matches(name, "constraint-nomatch",
                       tool(pool, e2e_dir, name, "-constraint", "ClusterId == 999"))
        assert_matches(name, "nonexistent-cluster", tool(pool, e2e_dir, name, "999"))
        assert_matches(name, "nonexistent-job", tool(pool, e2e_dir, name, "999.0"))
    out, err, rc = tool(pool, e2e_dir, "condor_hold", "-totals", str(c))
    assert (out, err, rc) == (
        "3 Succeeded, 0 Failed, 0 Not Found, 0 Bad Status, 0 Already Done, 0 Permission Denied\n"
        f"All jobs in cluster {c} have been held\n", "", 0)
    assert_matches("condor_rm", "held-option-cluster", tool(pool, e2e_dir, "condor_rm", "-held", str(c)),
                   cluster_mask(c, 11))
    c2 = submit(pool, e2e_dir, "q1.sub")
    out, err, rc = tool(pool, e2e_dir, "condor_rm", "-long", f"{c2}.0")
    total = len(query(pool, "true", ["ProcId"])) + 1
    super_user = "true" if common.is_queue_super_user(common.user_name()) else "false"
    _, want, _ = capture("condor_rm", "long")
    want = want.replace("job_13_0", f"job_{c2}_0").replace("13.0", f"{c2}.0") \
        .replace("TotalJobAds = 22", f"TotalJobAds = {total}") \
        .replace("IsQueueSuperUser = true", f"IsQueueSuperUser = {super_user}")
    assert (out, err, rc) == (want, "", 0)
    c3 = submit(pool, e2e_dir, "q1.sub")
    assert_matches("condor_rm", "forcex-not-x", tool(pool, e2e_dir, "condor_rm", "-forcex", f"{c3}.0"),
                   cluster_mask(c3, 15))
    assert_matches("condor_hold", "bad-id", tool(pool, e2e_dir, "condor_hold", "abc.def"))


def test_e2e_qedit(pool, e2e_dir):
    c = submit(pool, e2e_dir, "q3.sub")
    m = cluster_mask(c, 8)
    assert_matches("condor_qedit", "set-attr-string", tool(pool, e2e_dir, "condor_qedit", f"{c}.0", "Foo", '"bar"'), m)
    assert_matches("condor_qedit", "set-attr-eq-form-cluster", tool(pool, e2e_dir, "condor_qedit", str(c), "Foo2=17"), m)
    assert_matches("condor_qedit", "set-multiple-pairs",
                   tool(pool, e2e_dir, "condor_qedit", f"{c}.1", "A1", "1", "A2", '"two"'), m)
    assert_matches("condor_qedit", "jobstatus", tool(pool, e2e_dir, "condor_qedit", f"{c}.2", "JobStatus", "1"), m)
    assert_matches("condor_qedit", "dry-run", tool(pool, e2e_dir, "condor_qedit", "-dry-run", f"{c}.0", "Foo", "2"), m)
    assert_matches("condor_qedit", "constraint",
                   tool(pool, e2e_dir, "condor_qedit", "-constraint", f"ClusterId == {c}", "Foo", '"c"'),
                   cluster_mask(c, 9))
    ads = query(pool, f"ClusterId == {c}", ["ClusterId", "ProcId", "Foo", "Foo2", "A1", "A2"])
    assert [(a["Foo"], a["Foo2"], a.get("A1"), a.get("A2")) for a in ads] == [
        ("c", 17, None, None), ("c", 17, 1, "two"), ("c", 17, None, None)]
    assert_matches("condor_qedit", "constraint-nomatch",
                   tool(pool, e2e_dir, "condor_qedit", "-constraint", "ClusterId == 999", "Foo", '"c"'))
    assert_matches("condor_qedit", "nonexistent-job", tool(pool, e2e_dir, "condor_qedit", "999.0", "Foo", "1"))
    assert_matches("condor_qedit", "clusterid-refused", tool(pool, e2e_dir, "condor_qedit", f"{c}.0", "ClusterId", "99"))
    me = common.user_name()
    total = len(query(pool, f'Owner == "{me}"', ["ProcId"]))
    out, err, rc = tool(pool, e2e_dir, "condor_qedit", me, "Foo3", "3")
    assert (out, err, rc) == (f'Set attribute "Foo3" for {total} matching jobs.\n', "", 0)
    assert {a["Foo3"] for a in query(pool, "true", ["Foo3"])} == {3}


def test_e2e_all_then_empty_queue(pool, e2e_dir):
    submit(pool, e2e_dir, "q3.sub")
    assert_matches("condor_hold", "all", tool(pool, e2e_dir, "condor_hold", "-all"))
    assert {a["JobStatus"] for a in query(pool, "true", ["JobStatus"])} == {5}
    assert_matches("condor_release", "all", tool(pool, e2e_dir, "condor_release", "-all"))
    assert {a["JobStatus"] for a in query(pool, "true", ["JobStatus"])} == {1}
    assert_matches("condor_rm", "all", tool(pool, e2e_dir, "condor_rm", "-all"))
    assert query(pool, "true", ["ProcId"]) == []
    for name in ("condor_rm", "condor_hold", "condor_release"):
        assert_matches(name, "all-empty-queue", tool(pool, e2e_dir, name, "-all"))


def test_e2e_schedd_off(pool_factory, tmp_path):
    p = pool_factory()
    d = tmp_path / "jobs"
    shutil.copytree(SUBMIT_FILES, d)
    client(p, """
        import htcondor2, time
        master = htcondor2.Collector().locate(htcondor2.DaemonType.Master)
        htcondor2.send_command(master, htcondor2.DaemonCommand.DaemonOff, "SCHEDD")
        for _ in range(200):
            try:
                htcondor2.Schedd().query("false")
            except Exception:
                return True
            time.sleep(0.05)
        return False
    """)
    host = client(p, "import htcondor2\nreturn htcondor2.param.get('SCHEDD_NAME') or "
                     "htcondor2.param.get('FULL_HOSTNAME')")
    assert_matches("condor_submit", "schedd-off", tool(p, d, "condor_submit", "q1.sub"))
    assert_matches("condor_qedit", "schedd-off", tool(p, d, "condor_qedit", "20.0", "Foo", "1"))
    assert_matches("condor_rm", "schedd-off", tool(p, d, "condor_rm", "20.0"),
                   lambda s: s.replace(f"schedd {host}", "schedd vm"))


# ---------------------------------------------------------------------------- actions, then a query
# A pool of its own with the captured queue's jobs submitted from the captured submit files, in
# the captured order (its clusters 3-7 and 9, 15-18; 8-14 were the qedit/hold/rm clusters).
# The jobs never run here (no startd), so the queries after an action are compared with the
# job ids, the owner, the submit times, RUN_TIME and SIZE masked (the captured 5.x had run),
# as are the schedd's address and the query's time stamp.


def queue_masked(text: str) -> str:
    text = SCHEDD_LINE.sub("-- Schedd: HOST : <ADDRESS?... @ TIME", text)
    return NOBATCH_ROW.sub(lambda m: f"ID OWNER SUBMITTED RUN_TIME{m[1]}SIZE ", text)


@pytest.fixture(scope="module")
def queue_pool(tmp_path_factory):
    with running_pool(tmp_path_factory.mktemp("actions") / "p") as p:
        d = tmp_path_factory.mktemp("actions-jobs")
        shutil.copytree(SUBMIT_FILES, d, dirs_exist_ok=True)
        for name in ("held.sub", "idle.sub", "running.sub", "batch.sub", "q1.sub", "q1.sub"):
            submit(p, d, name)
        submit(p, d, stdin="executable = /bin/sleep\narguments = 42\nrequirements = false\nqueue\n")
        submit(p, d, "q1.sub")
        last = submit(p, d, "q1.sub")
        yield p, d, last


def test_e2e_qedit_then_query_and_owner_restriction(queue_pool):
    pool, d, _ = queue_pool
    c = submit(pool, d, "q3.sub")
    tool(pool, d, "condor_qedit", f"{c}.0", "Foo", '"bar"')
    tool(pool, d, "condor_qedit", str(c), "Foo2=17")
    want = read_capture(CAPTURES / "condor_qedit" / "verify-after-set.txt")
    got = tool(pool, d, "condor_q", *[str(c) if a == "8" else a for a in want["argv"]])
    assert got == (cluster_mask(8, c)(want["stdout"]), want["stderr"], want["rc"])
    # the captured queue held 22 jobs of its owner then: 12 + these 3 + 7 more
    more = submit(pool, d, stdin="executable = /bin/sleep\narguments = 1\nhold = true\nqueue 7\n")
    want = read_capture(CAPTURES / "condor_qedit" / "owner-restriction.txt")
    assert want["argv"][0] == "htcpool"
    me = common.user_name()
    assert len(query(pool, f'Owner == "{me}"', ["ProcId"])) == 22
    assert tool(pool, d, "condor_qedit", me, *want["argv"][1:]) == (want["stdout"], want["stderr"], want["rc"])
    for cluster in (c, more):
        assert tool(pool, d, "condor_rm", str(cluster))[2] == 0


def test_e2e_hold_all_then_rm_all_then_query(queue_pool):
    pool, d, last = queue_pool
    tool(pool, d, "condor_rm", "-constraint", f"ClusterId > {last}")   # the qedit test's, if here
    assert len(query(pool, "true", ["ProcId"])) == 12
    assert tool(pool, d, "condor_hold", "-all")[2] == 0
    want = read_capture(CAPTURES / "condor_hold" / "all-then-condor_q.txt")
    out, err, rc = tool(pool, d, "condor_q", *want["argv"])
    assert (queue_masked(out), err, rc) == (queue_masked(want["stdout"]), want["stderr"], want["rc"])
    assert queue_masked(out).count("\nID OWNER SUBMITTED") == 12
    assert tool(pool, d, "condor_rm", "-all")[2] == 0
    for case in ("all-then-condor_q-immediately", "all-then-condor_q-after-8s"):
        want = read_capture(CAPTURES / "condor_rm" / f"{case}.txt")
        out, err, rc = tool(pool, d, "condor_q", *want["argv"])
        assert (queue_masked(out), err, rc) == (queue_masked(want["stdout"]), want["stderr"], want["rc"])


# ---------------------------------------------------------------------------- with jobs running
@pytest.fixture(scope="module")
def running_queue_pool(tmp_path_factory):
    """The captured queue on a pool that runs jobs as the captured one did (two cores): the
    same twelve jobs from the same submit files, 5.x running, the 15th and 16th clusters'
    jobs held."""
    from support.pools import FIVE_DAEMONS
    with running_pool(tmp_path_factory.mktemp("running") / "p", DAEMON_LIST=FIVE_DAEMONS,
                      NUM_CPUS="2") as p:
        d = tmp_path_factory.mktemp("running-jobs")
        shutil.copytree(SUBMIT_FILES, d, dirs_exist_ok=True)
        clusters = [submit(p, d, name) for name in ("held.sub", "idle.sub", "running.sub", "batch.sub",
                                                     "q1.sub", "q1.sub")]
        clusters.append(submit(p, d, stdin="executable = /bin/sleep\narguments = 42\nrequirements = false\n"
                                           "queue\n"))
        clusters += [submit(p, d, "q1.sub"), submit(p, d, "q1.sub")]
        for c in clusters[5:7]:
            assert tool(p, d, "condor_hold", str(c))[2] == 0
        yield p, d, clusters


def wait_running(pool, clusters: list[int], n: int = 2, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ads = query(pool, "JobStatus == 2", ["JobStatus"])
        if sorted({a["ClusterId"] for a in ads}) == sorted(clusters) and len(ads) == n:
            return
        time.sleep(0.1)
    raise AssertionError(f"not {n} running jobs of {clusters}: {query(pool, 'true', ['JobStatus'])}")


def test_e2e_the_queue_before_and_after_releasing_everything(running_queue_pool):
    """condor_q -nobatch with 5.x running and four jobs held; condor_hold -all; then
    condor_release -all, after which 3.x (the first idle jobs that can run) run on the two
    cores: each view against the capture, ids, owner, times and sizes masked."""
    pool, d, clusters = running_queue_pool
    wait_running(pool, [clusters[2]])
    want = read_capture(CAPTURES / "condor_q" / "before-all-actions-nobatch.txt")
    out, err, rc = tool(pool, d, "condor_q", *want["argv"])
    assert (queue_masked(out), err, rc) == (queue_masked(want["stdout"]), want["stderr"], want["rc"])
    assert tool(pool, d, "condor_hold", "-all")[2] == 0
    assert tool(pool, d, "condor_release", "-all")[2] == 0
    wait_running(pool, [clusters[0]])
    want = read_capture(CAPTURES / "condor_release" / "all-then-condor_q.txt")
    out, err, rc = tool(pool, d, "condor_q", *want["argv"])
    assert (queue_masked(out), err, rc) == (queue_masked(want["stdout"]), want["stderr"], want["rc"])
    assert tool(pool, d, "condor_rm", "-all")[2] == 0
