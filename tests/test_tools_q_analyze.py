"""condor_q -analyze / -better-analyze: the analysis of the captured queue's jobs against the
captured pool's partitionable slot, byte for byte with what the real 25.14 tool printed, and
the tool run against a simulated pool."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import classad2
import pytest

from support import clock
from support.captures import CLI, capture
from condor_sim.jobqueue import analysis
from condor_sim.tools import _analyze as A
from condor_sim.tools import condor_q as Q

utc = clock.utc          # the captures ran with TZ=UTC (an autouse fixture, module-wide)
QUEUE = list(classad2.parseAds(capture(CLI / "queue-state-at-condor_q.txt")["stdout"]))
# the pool's one partitionable slot, both of its cores given to the two running jobs 5.0-1
SLOT = classad2.parseOne(capture(CLI / "condor_status" / "long-slot1.txt")["stdout"])
ADDRESS = "<127.0.0.1:39467?addrs=127.0.0.1-39467&alias=vm>"
# what the schedd reports for autocluster 1 (jobs 3.x and 5.x) with the job query of 3.0,
# built as the schedd builds it from the captured queue: the newest failed match of its
# jobs, the match of 5.0-1, two running
AUTOCLUSTER_1 = classad2.ClassAd(analysis.autocluster_record(
    1, next(a for a in QUEUE if (a["ClusterId"], a["ProcId"]) == (3, 0)),
    [a for a in QUEUE if a.get("AutoClusterId") == 1]))
# the negotiator rewrites LastRejMatchTime every cycle: the queue was listed 21 s after the
# analyses, so that one time is compared masked
LAST_FAILED = re.compile(r"^(Last failed match: ).*( from )", re.M)

CASES = {"better-analyze-3.0-held": ((3, 0), True), "better-analyze-4.0": ((4, 0), True),
         "better-analyze-5.0-running": ((5, 0), True),
         "better-analyze-7.0-batch": ((7, 0), True), "analyze-4.0": ((4, 0), False)}


def test_the_autocluster_record_is_built_from_its_jobs():
    assert dict(AUTOCLUSTER_1) == {"AutoClusterId": 1, "LastRejMatchTime": 1795896114,
                                   "LastRejMatchNegotiator": "vm",
                                   "LastRejMatchReason": "no match found",
                                   "LastMatchTime": 1795896114, "NumRunning": 2, "NumIdle": 0,
                                   "NumJobs": 4}
    # a job with a rejection of its own: the record is that rejection
    four = next(a for a in QUEUE if (a["ClusterId"], a["ProcId"]) == (4, 0))
    own = analysis.autocluster_record(2, four, [four])
    assert own == {"AutoClusterId": 2, "LastRejMatchReason": "no match found",
                   "LastRejMatchNegotiator": "vm", "LastRejMatchTime": four["LastRejMatchTime"]}
    line = analysis.analyze_line([own])
    parsed = classad2.parseOne(f"[{line}]")["Analyze"]
    assert A.autoclusters_of(classad2.ClassAd({"Analyze": parsed}))[2]["LastRejMatchReason"] == \
        "no match found"


def job(cluster: int, proc: int):
    return next(a for a in QUEUE if (a["ClusterId"], a["ProcId"]) == (cluster, proc))


def masked(text: str) -> str:
    return LAST_FAILED.sub(r"\1<time>\2", text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_analysis_matches_the_real_tool(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    (cluster, proc), better = CASES[case]
    assert Q.parse_args(c["argv"]).view == ("better-analyze" if better else "analyze")
    out = A.analyze_jobs([job(cluster, proc)], [SLOT], "vm", ADDRESS, better=better,
                         autoclusters={1: AUTOCLUSTER_1} if cluster == 3 else {})
    if LAST_FAILED.search(c["stdout"]):
        assert masked(out) == masked(c["stdout"]) and masked(out) != out
    else:
        assert out == c["stdout"]
    assert c["rc"] == 0 and c["stderr"] == ""


def test_the_summary_counts_come_from_matching_not_from_the_case():
    # the slot with its cores free: 3.0 matches now, not only if drained; 7.0 still wants 8 cores
    free = classad2.ClassAd()
    free.update(SLOT)
    free["Cpus"] = 2
    c, tried, needs = A.run_analysis(job(3, 0), [free])
    assert (c.available, c.if_drained, c.rejected_by_job, needs) == (1, 0, 0, False)
    assert tried[0].drained is None
    c, _, needs = A.run_analysis(job(7, 0), [free])
    assert (c.rejected_by_job, c.job_matches, needs) == (1, 0, True)
    # a slot whose START refuses the job
    closed = classad2.ClassAd()
    closed.update(free)
    closed["Start"] = False
    out = A.totals_text(A.run_analysis(job(3, 0), [closed])[0], 3, 0)
    assert "      1 slots reject your job because of their own requirements\n" in out
    assert "   Job did not match any machines' constraints\n" in out


def test_plain_analyze_of_a_matching_job_prints_only_the_summary():
    out = A.analyze_jobs([job(5, 0)], [SLOT], "vm", ADDRESS, better=False)
    assert "Requirements expression" not in out
    assert out == ("\n\n-- Schedd: vm : <127.0.0.1:39467?...\n"
                   "\n005.000:  Run analysis summary ignoring user priority.  Of 1 slots on 1 machines,\n"
                   "      0 slots are rejected by your job's requirements\n"
                   "      0 slots reject your job because of their own requirements\n"
                   "      0 slots match and are willing to run your job\n"
                   "      1 slots would match if drained\n"
                   "\n\n005.000:  Job is running.\n\nLast successful match: Sat Nov 28 20:01:54 2026\n")


def test_requirements_are_split_at_top_level_operators_only():
    tree = A.split_expr('(a == "x || y") && !(b) || (c ? d : e)')
    assert tree.kind == "or" and tree.kids[0].kind == "and"
    assert tree.kids[1].kind == "paren" and tree.kids[1].kids[0].kind == "leaf"
    subs = A.clauses_of(tree)
    assert [s.text for s in subs] == ['a == "x || y"', "!(b)", '(a == "x || y") && !(b)',
                                     "c ? d : e", tree.text]
    assert A.numbered_clauses(subs).splitlines()[2] == "    [2]    : [0] && [1]"


def test_analyze_options_as_the_real_tool_spells_them():
    for arg, view in (("-analyze", "analyze"), ("-an", "analyze"), ("-analyse", "analyze"),
                      ("-better-analyze", "better-analyze"), ("-be", "better-analyze"),
                      ("--better-analyze", "better-analyze"), ("-better-analyze:noprune", "better-analyze"),
                      ("-analyze:show-work", "analyze")):
        assert Q.parse_args([arg, "4.0"]).view == view, arg


# ------------------------------------------------------------------------------ against a pool
SUBMIT = """
import htcondor2
s = htcondor2.Schedd()
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "requirements": "false"}))
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "hold": "true"}))
return 0
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    from support.pools import FIVE_DAEMONS, client, running_pool, wait_ads
    with running_pool(tmp_path_factory.mktemp("qa") / "p", DAEMON_LIST=FIVE_DAEMONS) as p:
        wait_ads(p, present=("Machine",))
        client(p, SUBMIT)
        yield p


def tool(pool, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    return subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_q", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def summary_lines(text: str, job_id: str) -> list[str]:
    lines = text.split("\n")
    at = lines.index(f"{job_id}:  Run analysis summary ignoring user priority.  "
                     "Of 1 slots on 1 machines,")
    return lines[at:at + 4]


def expected_summary(job_id: str, rejected: int, willing: int) -> list[str]:
    """The real tool's summary lines for a pool of one slot."""
    return [f"{job_id}:  Run analysis summary ignoring user priority.  Of 1 slots on 1 machines,",
            f"      {rejected} slots are rejected by your job's requirements",
            "      0 slots reject your job because of their own requirements",
            f"      {willing} slots match and are willing to run your job"]


def test_better_analyze_against_a_pool(pool):
    r = tool(pool, "-better-analyze", "1.0")
    assert (r.returncode, r.stderr) == (0, "")
    assert re.match(r"\n\n-- Schedd: \S+ : <127\.0\.0\.1:\d+\?\.\.\.\n"
                    r"The Requirements expression for job 1\.000 is\n\n    \(false\) && ", r.stdout)
    assert "    [0]    : false\n" in r.stdout
    assert "----- --------- ---------\n[0]" in r.stdout and "never  false\n" in r.stdout
    assert summary_lines(r.stdout, "001.000") == expected_summary("001.000", rejected=1, willing=0)
    assert "\nWARNING:  Be advised:\n   No machines matched the job's constraints\n" in r.stdout

    r = tool(pool, "-analyze", "2.0")
    assert (r.returncode, r.stderr) == (0, "")
    assert "Requirements expression" not in r.stdout
    assert summary_lines(r.stdout, "002.000") == expected_summary("002.000", rejected=0, willing=1)
    assert "\n\n002.000:  Job is held.\n\nHold reason: submitted on hold at user's request\n" in r.stdout


MORE = """
import htcondor2
s = htcondor2.Schedd()
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "request_memory": "17"}), count=2)
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "request_memory": "17",
                           "hold": "true"}))
return 0
"""


def job_ad(pool, job: str) -> dict:
    from support.pools import client
    return client(pool, f"""
import htcondor2
ads = htcondor2.Schedd().query("ClusterId == {job.split('.')[0]} && ProcId == {job.split('.')[1]}")
return {{k: ads[0].eval(k) for k in ads[0].keys() if isinstance(ads[0].eval(k), (int, str))}} if ads else None
""")


def wait_for(predicate, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_match_history_lines_against_a_pool(pool):
    """The schedd keeps a rejected job's LastRejMatch* and every job's AutoClusterId (in
    memory, as the real one): the failed-match lines of a job the negotiator refused, and
    the autocluster lines (its successful match, its running jobs) of a held job whose
    look-alikes run."""
    from support.pools import client
    rejected = wait_for(lambda: (job_ad(pool, "1.0") or {}).get("LastRejMatchTime") and job_ad(pool, "1.0"),
                        "the rejection of 1.0")
    assert rejected["LastRejMatchReason"] == "no match found"
    assert isinstance(rejected["AutoClusterId"], int) and "Requirements" in rejected["AutoClusterAttrs"]
    r = tool(pool, "-better-analyze", "1.0")
    when = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(rejected["LastRejMatchTime"]))
    assert r.stdout.endswith(f"No successful match recorded.\nLast failed match: {when} from "
                             f"{rejected['LastRejMatchNegotiator']}\n"
                             "Reason for last match failure: no match found\n"), r.stdout

    first = client(pool, MORE.replace("return 0", "return s.query('true', ['ClusterId'])[-1]['ClusterId']"))
    running = wait_for(lambda: all((job_ad(pool, f"{first - 1}.{p}") or {}).get("JobStatus") == 2
                                   for p in (0, 1)), "two running jobs")
    assert running
    def held_in_autocluster():
        client(pool, "import htcondor2\nhtcondor2.Schedd().reschedule()\nreturn 0")
        return "AutoClusterId" in (job_ad(pool, f"{first}.0") or {})
    wait_for(held_in_autocluster, "the held job's autocluster")
    held = job_ad(pool, f"{first}.0")
    ran = job_ad(pool, f"{first - 1}.0")
    assert held["AutoClusterId"] == ran["AutoClusterId"]
    r = tool(pool, "-better-analyze", f"{first}.0")
    assert "Job is held." in r.stdout
    assert "Last successful match for this autocluster: " in r.stdout
    assert r.stdout.endswith("This autocluster currently has 2 running jobs.\n"), r.stdout


@pytest.mark.parametrize("argv, text", [
    (["-better-analyze:noprune,reverse"], "condor_q: -better-analyze:reverse is not supported by this condor_q\n"),
    (["-better-analyze:pr"], "condor_q: -better-analyze:priority is not supported by this condor_q\n"),
    (["-reverse-analyze"], "condor_q: -reverse-analyze (the analysis of machines) is not supported by "
                           "this condor_q\n")])
def test_analysis_modes_not_here_are_refused_not_answered_with_another_report(argv, text, capsys):
    assert Q.main(argv) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", text)
    assert Q.parse_args(["-better-analyze:noprune"]).view == "better-analyze"     # a detail: taken


# ---------------------------------------------------------------------------- :summary
# A later capture (fixtures/cli/README.md): a 4-core pool running two `sleep 600` (12.x),
# with three jobs that cannot match (11.x, requirements = false) and one asking for 8
# cores (13.0); the queue and the slots as condor_q -long and condor_status -long showed
# them at that moment.
SUMMARY_QUEUE = list(classad2.parseAds(capture(CLI / "condor_q" / "analyze-summary-queue.txt")["stdout"]))
SUMMARY_SLOTS = [a for a in classad2.parseAds(capture(CLI / "condor_status" / "analyze-summary-slots.txt")["stdout"])
                 if not a.get("DynamicSlot", False)]
SUMMARY_ADDRESS = "<127.0.0.1:44203?addrs=127.0.0.1-44203&alias=vm>"


@pytest.mark.parametrize("case", ["analyze-summary", "better-analyze-summary", "analyze-summary-cluster"])
def test_analyze_summary_matches_the_real_tool(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    assert o.view == "analyze-summary"
    jobs = Q.q_views.matching(SUMMARY_QUEUE, Q.constraint_of(o))
    assert len(jobs) == (3 if o.restrictions else 6)
    assert A.summary_text(jobs, SUMMARY_SLOTS, "vm", SUMMARY_ADDRESS) == c["stdout"]


def test_analyze_summary_groups_jobs_without_an_autocluster_one_by_one():
    jobs = [classad2.ClassAd({"ClusterId": 1, "ProcId": p, "JobStatus": 1, "Owner": "me",
                              "Requirements": classad2.ExprTree("false")}) for p in (0, 1)]
    text = A.summary_text(jobs, SUMMARY_SLOTS, "vm", SUMMARY_ADDRESS)
    rows = text.splitlines()[-2:]
    assert [r.split()[0] for r in rows] == ["1.0", "1.1"]
    assert rows[0] == "1.0                                   0           0           0          0         0 me"


def test_analyze_summary_against_a_pool(pool):
    """-analyze:summary on a live pool: a row per autocluster, the job that never matches
    with no slot, the held one (it could run) matching the one slot."""
    r = tool(pool, "-analyze:summary")
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.split("\n")
    assert re.fullmatch(r"-- Schedd: \S+ : <127\.0\.0\.1:\d+\?\.\.\.", lines[2])
    assert lines[3] == "Analyzing matches for 1 slots"
    assert lines[5].startswith(" JobId        Members/Idle Requirements Rejects Job")
    rows = {line.split()[0]: line for line in lines[7:] if line}
    never, held = rows["1.0"].split(), rows["2.0"].split()
    assert never[2:7] == ["0", "0", "0", "0", "0"]        # requirements = false
    assert held[2:4] == ["1", "0"]                        # matches the one slot, not rejected
    assert held[-1] == never[-1] and held[1] == "1/0"       # the owner; one member, held
