"""condor_q and condor_history: the views against what the real 25.14 tools printed (from
the captured queue's ads), and the tools run as commands against a simulated pool."""
from __future__ import annotations

import calendar
import os
import re
import subprocess
import sys
import time

import classad2
import pytest

from support.captures import CLI, capture
from support.clock import utc  # noqa: F401  (the captures' TZ=UTC, module-wide)
from condor_sim.tools import condor_history as H
from condor_sim.tools import condor_q as Q
from condor_sim.tools import _userlog_ads as UL
from condor_sim.tools import q_views as Q_views





def captured_time(c: dict) -> int:
    stamp = c["fields"]["captured"].split(" ")[0]
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S+0000"))




QUEUE = list(classad2.parseAds(capture(CLI / "queue-state-at-condor_q.txt")["stdout"]))
SCHEDD = classad2.ClassAd({"Name": "vm",
                           "MyAddress": "<127.0.0.1:39467?addrs=127.0.0.1-39467&alias=vm>"})


def summary_of(ads, everyone=QUEUE) -> classad2.ClassAd:
    def counts(jobs):
        st = [a["JobStatus"] for a in jobs]
        return [len(st), st.count(4), st.count(3), st.count(1), st.count(2), st.count(5), st.count(7)]
    ad = classad2.ClassAd()
    for k, n in zip(Q.SUMMARY_KEYS, counts(ads)):
        ad[k] = n
    for k, n in zip(Q.SUMMARY_KEYS, counts(everyone)):
        ad["Allusers" + k] = n
    return ad


def selected(o: Q.Options, limit=True) -> list:
    expr = classad2.ExprTree(Q.constraint_of(o))
    ads = [a for a in QUEUE if expr.eval(a) is True]
    return ads[:o.limit] if (limit and o.limit > 0) else ads


Q_VIEWS = ["noargs", "nobatch", "allusers", "allusers-nobatch", "totals", "hold", "run", "idle",
           "global", "global-nobatch", "owner-htcpool", "cluster-3", "cluster-3-nobatch",
           "job-3.1", "job-3.1-nobatch", "constraint-jobstatus-5", "constraint-jobstatus-5-nobatch",
           "limit-2", "owner-nobody", "job-nonexistent-99.0", "bad-jobid", "batch"]


@pytest.mark.parametrize("case", Q_VIEWS)
def test_condor_q_views_match_the_real_tool_byte_for_byte(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    ads = selected(o)
    matched = selected(o, limit=False)
    now = captured_time(c)
    partial = bool(o.restrictions or o.constraints)
    summary = Q.with_query_counts(summary_of(matched), ads) if o.limit > 0 else summary_of(matched)
    text = Q.render_view(o.view, ads, summary, SCHEDD, now, partial)
    assert text == c["stdout"]
    assert c["rc"] == 0


Q_ADS = ["af-V", "af-clusterid-procid-jobstatus", "af-expression", "af-h-owner-args", "af-j-cmd",
         "af-l", "af-r", "autoformat-undefined", "format-clusterid-procid", "long-4.0",
         "long-5.0-running", "long-7.0-batch", "json-4.0", "json-multi", "xml-4.0",
         "attributes-long-3.0"]


@pytest.mark.parametrize("case", Q_ADS)
def test_condor_q_ad_outputs_match_the_real_tool(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    ads = selected(o)
    if o.attributes:
        keep = set(o.attributes) | {"ClusterId", "ProcId"}
        ads = [classad2.ClassAd({k: a.lookup(k) for k in a.keys() if k in keep}) for a in ads]
    if o.view in ("long", "json", "xml"):
        # the queue dump ran later (times, usage moved on): feed the job's own -long capture
        job = c["argv"][-1]
        source = "long-7.0-batch" if job == "7.0" else "long-5.0-running" if job == "5.0" else "long-4.0"
        ads = list(classad2.parseAds(capture(CLI / "condor_q" / f"{source}.txt")["stdout"]))
        if o.attributes:
            keep = set(o.attributes) | {"ClusterId", "ProcId"}
            ads = [classad2.ClassAd({k: a.lookup(k) for k in a.keys() if k in keep})
                   for a in selected(o, limit=False)]
    assert Q.render_ads(o, ads) == c["stdout"]


# -cputime, -currentrun, -hold-codes, -dag, -io, -submitter and the empty queue: the same
# queue, the options that reshape the table or the title
Q_MORE_VIEWS = ["cputime", "currentrun", "held-reason", "hold-codes", "dag", "io",
                "job-completed-1.0", "submitter-htcpool"]
CAPTURE_SUBMITTER = classad2.ClassAd({"Name": "htcpool@localdomain", "Machine": "vm",
                                      "ScheddIpAddr": SCHEDD["MyAddress"]})


@pytest.mark.parametrize("case", Q_MORE_VIEWS)
def test_condor_q_more_views_match_the_real_tool_byte_for_byte(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    ads = selected(o)
    title = Q_views.submitter_label(CAPTURE_SUBMITTER) if o.submitter else None
    text = Q.render_view(o.view, ads, summary_of(ads), SCHEDD, captured_time(c),
                         bool(o.restrictions or o.constraints), title=title, cputime=o.cputime,
                         current_run=bool(o.current_run))
    assert text == c["stdout"]
    assert c["rc"] == 0


@pytest.mark.parametrize("case", ["empty-queue", "empty-queue-nobatch"])
def test_condor_q_views_of_an_empty_queue(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    text = Q.render_view(o.view, [], summary_of([], everyone=[]), SCHEDD, captured_time(c))
    assert (text, c["rc"]) == (c["stdout"], 0)


@pytest.mark.parametrize("case", ["empty-queue-af", "empty-queue-json", "empty-queue-long",
                                  "long-attrs-missing-job"])
def test_condor_q_ad_outputs_of_no_jobs_print_nothing(case):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    ads = selected(o) if case == "long-attrs-missing-job" else []
    assert ads == [] and Q.render_ads(o, ads) == c["stdout"] == ""
    assert c["rc"] == 0


def test_unmatchable_keeps_the_jobs_no_slot_takes():
    # the partitionable slot as captured, both cores given to 5.0-1: a job that fits the
    # slot drained is matchable (the real tool's anaMatchModePslot)
    slot = classad2.parseOne(capture(CLI / "condor_status" / "long-slot1.txt")["stdout"])
    assert slot["Cpus"] == 0
    left = Q_views.unmatchable(QUEUE, [slot])
    # 4.x have requirements = false, 7.0 asks for 8 cpus of 2
    assert [(a["ClusterId"], a["ProcId"]) for a in left] == [(4, 0), (4, 1), (7, 0)]
    assert len(Q_views.unmatchable(QUEUE, [])) == len(QUEUE)


def test_run_time_options_exclude_each_other():
    with pytest.raises(Q.C.ToolError) as e:
        Q.parse_args(["-currentrun", "-cumulative-time"])
    assert e.value.stderr == "Error: -cumulative-time can't be used with -currentrun\n"
    assert Q.parse_args(["-cumulative-time"]).current_run is False


def log_events_until(path, when: int) -> list:
    """The events of a captured log that it held at ``when`` (the files were copied later)."""
    return [e for e in UL.read_userlog(str(path)) if e.when <= when]


@pytest.mark.parametrize("case,log", [("userlog-held-nobatch", "held.log"),
                                      ("userlog-running", "running.log")])
def test_condor_q_userlog_matches_the_real_tool(case, log):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    now = captured_time(c)
    ads = UL.ads_from_events(log_events_until(CLI / "user-logs" / log, now), o.userlog,
                                  "htcpool", now)
    assert Q.render_file_queue(o, ads, f"Userlog: {o.userlog}", now) == c["stdout"]


def test_condor_q_jobads_file_matches_the_real_tool():
    c = capture(CLI / "condor_q" / "jobads-file.txt")
    o = Q.parse_args(c["argv"])
    ads = Q_views.read_jobads(str(CLI / "input-files" / o.jobads))
    assert [(a["ClusterId"], a["ProcId"]) for a in ads] == [(3, 0)]
    text = Q.render_file_queue(o, ads, f"Jobads: {o.jobads}", captured_time(c))
    assert text == c["stdout"]


def test_userlog_ads_follow_the_events():
    ads = UL.ads_from_events(UL.read_userlog(str(CLI / "user-logs" / "held.log")),
                                  "held.log", "me", 100)
    by_id = {(a["ClusterId"], a["ProcId"]): a for a in ads}
    assert sorted(by_id) == [(3, 0), (3, 1), (19, 0), (19, 1)]
    three = by_id[(3, 0)]        # held, released, ran, evicted by condor_rm, aborted
    assert (three["JobStatus"], three["LastJobStatus"], three["NumJobStarts"]) == (3, 1, 1)
    assert three["HoldReasonCode"] == 1 and three["RemoveReason"].startswith("via condor_rm")
    assert three["ImageSize"] == 2500 and three["Owner"] == "me" and three["Cmd"] == "???"
    assert by_id[(19, 0)]["JobStatus"] == 1


@pytest.mark.parametrize("case", ["help-state", "help-universe", "help", "unmatchable"])
def test_condor_q_help_and_option_conflicts(case, capsys):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    assert Q.main(c["argv"]) == c["rc"]
    assert capsys.readouterr() == (c["stdout"], c["stderr"])


def history_ads() -> list:
    """The three history ads of the capture, oldest first (2.0, 1.0, 6.0 as the file holds them)."""
    two = classad2.parseOne(capture(CLI / "condor_history" / "long-2.0.txt")["stdout"])
    one = next(classad2.parseAds(capture(CLI / "condor_history" / "json-1.0.txt")["stdout"],
                                 classad2.ParserType.JSON))
    six = classad2.parseOne(capture(CLI / "condor_history" / "long-6.0-removed.txt")["stdout"])
    return [two, one, six]


H_CASES = ["noargs", "limit-2", "match-1", "cluster-1", "cluster-nonexistent-99", "job-2.0",
           "owner-htcpool", "forwards", "backwards", "wide", "completedsince-epoch-after",
           "completedsince-epoch-before", "af-h", "af-clusterid-procid-exitcode", "format",
           "constraint-exitcode-3", "long-limit1", "long-2.0", "long-6.0-removed", "json-1.0"]
# not matched: xml-1.0 (a nested ad, TransferInputStats' counts, is written as <e>, not <c>)


@pytest.mark.parametrize("case", H_CASES)
def test_condor_history_outputs_match_the_real_tool(case):
    c = capture(CLI / "condor_history" / f"{case}.txt")
    o = H.parse_args(c["argv"])
    assert H.render(o, H.select_ads(o, history_ads())) == c["stdout"]
    assert c["rc"] == 0


@pytest.mark.parametrize("tool,case", [("condor_q", "unknown-option"), ("condor_q", "constraint-missing-arg"),
                                       ("condor_q", "name-missing-arg"), ("condor_history", "unknown-option"),
                                       ("condor_history", "constraint-syntax-error")])
def test_argument_errors_print_what_the_real_tool_prints(tool, case, capsys):
    c = capture(CLI / tool / f"{case}.txt")
    main = Q.main if tool == "condor_q" else H.main
    assert main(c["argv"]) == c["rc"]
    out, err = capsys.readouterr()
    assert (out, err) == (c["stdout"], c["stderr"])


# ------------------------------------------------------------------------------ against a pool
SUBMIT = """
import htcondor2
s = htcondor2.Schedd()
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "hold": "true"}), count=2)
s.submit(htcondor2.Submit({"executable": "/bin/sleep", "arguments": "60", "batch_name": "nightly"}))
return 0
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    from support.pools import client, running_pool
    with running_pool(tmp_path_factory.mktemp("q") / "p") as p:
        client(p, SUBMIT)
        yield p


def tool(pool, name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONDOR_CONFIG=str(pool.config_file), TZ="UTC")
    return subprocess.run([sys.executable, "-m", f"condor_sim.tools.{name}", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_condor_q_against_a_pool_shows_the_batch_view_and_totals(pool):
    r = tool(pool, "condor_q")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.split("\n")
    assert lines[0] == lines[1] == ""
    assert re.match(r"-- Schedd: \S+ : <127\.0\.0\.1:\d+\?\.\.\. @ \d\d/\d\d/\d\d \d\d:\d\d:\d\d$", lines[2])
    assert lines[3].split() == ["OWNER", "BATCH_NAME", "SUBMITTED", "DONE", "RUN", "IDLE", "HOLD", "TOTAL", "JOB_IDS"]
    assert lines[4].split()[-3:] == ["2", "2", "1.0-1"] and "ID: 1" in lines[4]
    assert lines[5].split()[1] == "nightly" and lines[5].endswith(" 1 2.0")
    assert "Total for query: 3 jobs; 0 completed, 0 removed, 1 idle, 0 running, 2 held, 0 suspended \n" in r.stdout
    assert r.stdout.endswith("Total for all users: 3 jobs; 0 completed, 0 removed, 1 idle, 0 running, "
                             "2 held, 0 suspended\n\n")


def test_condor_q_against_a_pool_af_long_json_and_restrictions(pool):
    assert tool(pool, "condor_q", "-af", "ClusterId", "ProcId", "JobStatus").stdout == "1 0 5\n1 1 5\n2 0 1\n"
    assert tool(pool, "condor_q", "1.1", "-af:j", "Cmd").stdout == "1.1 /bin/sleep\n"
    long = tool(pool, "condor_q", "-long", "2")
    ad = classad2.parseOne(long.stdout)
    assert ad["JobBatchName"] == "nightly" and long.stdout.endswith("\n\n")
    assert '"ClusterId": 2' in tool(pool, "condor_q", "-json", "2.0").stdout
    held = tool(pool, "condor_q", "-hold").stdout
    assert held.count("submitted on hold at user's request") == 2
    nob = tool(pool, "condor_q", "-nobatch", "-constraint", "JobStatus == 1").stdout
    assert "   2.0   " in nob and "sleep 60" in nob and "Total for query: 1 jobs;" in nob


def test_condor_q_errors_against_a_pool(pool):
    r = tool(pool, "condor_q", "-constraint", "JobStatus == == 5")
    assert r.returncode == 1 and r.stdout == "" and r.stderr.startswith("\n-- Failed to fetch ads from: <127.0.0.1:")
    r = tool(pool, "condor_q", "-bogusopt")
    assert r.returncode == 1 and r.stderr == "Error: unrecognized argument -bogusopt\n"
    r = tool(pool, "condor_q", "-name", "nosuchschedd")
    assert r.returncode == 1 and r.stdout == "\n" and r.stderr.startswith("Error: unknown host nosuchschedd\n")
    r = tool(pool, "condor_q", "-name", "x@nowhere")
    assert (r.returncode, r.stderr) == (1, "Error: Collector has no record of schedd/submitter\n")
    assert "Traceback" not in r.stderr


STAMP = re.compile(r" @ \d\d/\d\d/\d\d \d\d:\d\d:\d\d\n")


def test_condor_q_jobads_and_userlog_files_run_as_the_command(pool):
    want = capture(CLI / "condor_q" / "jobads-file.txt")["stdout"]
    r = tool(pool, "condor_q", "-jobads", str(CLI / "input-files" / "job3.0.ad"))
    assert r.returncode == 0 and r.stderr == ""
    assert STAMP.sub(" @ T\n", r.stdout) == STAMP.sub(" @ T\n", want).replace(
        "Jobads: job3.0.ad", f"Jobads: {CLI / 'input-files' / 'job3.0.ad'}")
    log = str(CLI / "user-logs" / "held.log")
    r = tool(pool, "condor_q", "-userlog", log, "-nobatch")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.split("\n")
    assert lines[2].startswith(f"-- Userlog: {log} @ ")
    rows = [line.split() for line in lines[4:8]]
    assert [(row[0], row[5]) for row in rows] == [("3.0", "X"), ("3.1", "X"), ("19.0", "I"),
                                                   ("19.1", "I")]
    assert lines[9] == "Total for query: 4 jobs; 0 completed, 2 removed, 2 idle, 0 running, " \
                       "0 held, 0 suspended" + " " * Q_views.FILE_SUMMARY_PAD
    assert tool(pool, "condor_q", "-userlog", log, "3.1", "-af", "ClusterId", "ProcId",
                "JobStatus").stdout == "3 1 3\n"
    r = tool(pool, "condor_q", "-userlog", str(CLI / "no-such.log"))
    assert (r.returncode, r.stderr) == (1, f"\nCan't open user log: {CLI / 'no-such.log'}\n")


def test_condor_q_hold_codes_and_submitter_against_a_pool(pool):
    r = tool(pool, "condor_q", "-hold-codes")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.split("\n")
    assert lines[3] == "OWNER          CODE/SUB    COUNT  OLDEST_JOB_ID HELD_SINCE  HOLD_REASON"
    cells = lines[4].split()
    assert cells[1:4] == ["15", "2", "1.0"] and lines[4].endswith(" submitted on hold at user's request")
    assert lines[5:] == [""]
    from support.pools import wait_ads
    ads = wait_ads(pool, present=("Submitter",))
    name = ads["Submitter"]["Name"]
    r = tool(pool, "condor_q", "-submitter", name.split("@")[0])
    assert r.returncode == 0 and r.stderr == ""
    assert re.match(rf"\n\n-- Submitter: {re.escape(name)} : <127\.0\.0\.1:\d+\?\.\.\. : \S+ @ ",
                    r.stdout)
    assert "Total for query: 3 jobs; 0 completed, 0 removed, 1 idle, 0 running, 2 held" in r.stdout
    r = tool(pool, "condor_q", "-submitter", "nobody@nowhere")
    assert (r.returncode, r.stdout, r.stderr) == (0, "All queues are empty\n", "")


def test_condor_q_unmatchable_against_a_pool(pool):
    r = tool(pool, "condor_q", "-unmatchable", "-af", "ClusterId", "ProcId")
    assert (r.returncode, r.stdout, r.stderr) == (0, "1 0\n1 1\n2 0\n", "")   # no startd: no slot
    r = tool(pool, "condor_q", "-unmatchable", "-batch")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "Error: -batch conflicts with -unmatchable\n")


def test_condor_history_against_a_pool_and_a_stopped_one(pool, tmp_path):
    r = tool(pool, "condor_history")
    assert (r.returncode, r.stdout) == (0, H.HEADER)
    hist = tmp_path / "history"
    hist.write_text(capture(CLI / "condor_history" / "long-2.0.txt")["stdout"].rstrip("\n")
                    + "\n*** ProcId = 0 ClusterId = 2 Owner = \"htcpool\" CompletionDate = 1\n")
    r = tool(pool, "condor_history", "-file", str(hist), "-af", "ClusterId", "ExitCode")
    assert (r.returncode, r.stdout) == (0, "2 3\n")
    r = tool(pool, "condor_history", "-file", str(tmp_path / "none"))
    assert r.returncode == 1 and r.stderr == f"Error opening history file {tmp_path / 'none'}: No such file or directory\n"


@pytest.mark.parametrize("case", ["schedd-off", "schedd-off-nobatch", "schedd-off-after-fast",
                                  "name-vm", "name-at-form", "name-ip"])
def test_condor_q_with_no_schedd_says_so(tmp_path, case):
    config = tmp_path / "condor_config"
    config.write_text("COLLECTOR_HOST = 127.0.0.1:9\nFULL_HOSTNAME = vm\n")
    env = dict(os.environ, CONDOR_CONFIG=str(config))
    want = capture(CLI / "condor_q" / f"{case}.txt")
    r = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_q", *want["argv"]], env=env,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (want["rc"], want["stdout"], want["stderr"])


# ------------------------------------------------------------------------------ more captures
# The final queue (clusters 19-22): its ads were dumped at 20:07:03, after these views, when the
# running jobs' RemoteWallClockTime and ShadowBday had moved on (the schedd restarted between):
# the RUN_TIME of the running rows is masked, the rest (ids, times, sizes, states, totals) is not.
FINAL = list(classad2.parseAds(capture(CLI / "queue-state.txt")["stdout"]))
RUNNING_TIME = re.compile(r"\d+\+\d\d:\d\d:\d\d(?= R )")


@pytest.mark.parametrize("case,port", [("final-nobatch", 40795), ("after-schedd-restart-nobatch", 42329)])
def test_condor_q_of_the_final_queue_matches_the_real_tool(case, port):
    c = capture(CLI / "condor_q" / f"{case}.txt")
    o = Q.parse_args(c["argv"])
    schedd = classad2.ClassAd({"Name": "vm",       # the restarted schedd's address
                               "MyAddress": f"<127.0.0.1:{port}?addrs=127.0.0.1-{port}&alias=vm>"})
    text = Q.render_view(o.view, FINAL, summary_of(FINAL, everyone=FINAL), schedd, captured_time(c))
    assert RUNNING_TIME.subn("T", text) == RUNNING_TIME.subn("T", c["stdout"]) and text.count(" R ") == 2
    assert c["rc"] == 0


def test_submitter_selects_by_accounting_group_or_owner_as_given():
    """-submitter NAME is the real CQ_SUBMITTER constraint: the accounting group, or else
    the owner, equal to NAME as typed (with a domain it matches nothing)."""
    jobs = [classad2.ClassAd({"ClusterId": 1, "ProcId": 0, "Owner": "alice"}),
            classad2.ClassAd({"ClusterId": 2, "ProcId": 0, "Owner": "alice",
                              "AccountingGroup": "group_a.alice"})]
    pick = lambda name: [a["ClusterId"] for a in Q_views.matching(jobs, Q_views.owner_constraint(name))]  # noqa: E731
    assert (pick("alice"), pick("group_a.alice"), pick("alice@vm")) == ([1], [2], [])
    assert Q_views.owner_constraint('we"ird') == '(AccountingGroup?:Owner)=="we\\"ird"'
