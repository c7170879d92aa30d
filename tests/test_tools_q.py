"""condor_q and condor_history: the views against what the real 25.14 tools printed (from
the captured queue's ads), and the tools run as commands against a simulated pool."""
from __future__ import annotations

import calendar
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from condor_sim.tools import common as C
from condor_sim.tools import condor_history as H
from condor_sim.tools import condor_q as Q

CLI = Path("/work/shared/real-captures/cli")
pytestmark = pytest.mark.skipif(not CLI.is_dir(), reason="captures not present")


def capture(path: Path) -> dict:
    """A capture file: its header fields, stdout and stderr (exact bytes)."""
    text = path.read_bytes()
    head, rest = text.split(b"--- stdout ---\n", 1)
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines() if ": " in line)
    n = int(fields["stdout_bytes"])
    out = rest[:n]
    rest = rest[n:]
    if not out.endswith(b"\n") and n:
        rest = rest[1:]
    err = rest.split(b"--- stderr ---\n", 1)[1][:int(fields["stderr_bytes"])]
    command = head.decode().split("command: ", 1)[1].split("\ncwd: ", 1)[0]
    fields["argv"] = shlex.split(command)[1:]
    return {"fields": fields, "stdout": out.decode(), "stderr": err.decode(),
            "rc": int(fields["rc"]), "argv": fields["argv"]}


def captured_time(c: dict) -> int:
    stamp = c["fields"]["captured"].split(" ")[0]
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S+0000"))


@pytest.fixture(scope="module", autouse=True)
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


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
         "long-5.0-running", "long-7.0-batch", "json-4.0", "json-multi", "xml-4.0"]


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
           "constraint-exitcode-3", "long-limit1", "long-2.0", "long-6.0-removed", "json-1.0",
           "xml-1.0"]


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
