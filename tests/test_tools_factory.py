"""The tools and job factories, against what the real 25.14 tools printed: condor_submit
of a factory (no progress dots), condor_hold, condor_release and condor_rm of a
factory's cluster, and condor_q's views of factories (``-factory``, the batch view's
DONE and TOTAL, ``-nobatch``), on a live pool that replays the captured steps.

The captured steps (`fixtures/cli/*/factory-*.txt`): submit ``factory.sub`` (four idle
jobs, ``max_materialize = 2``), the same with ``-terse``, ``-factory q3.sub`` (three
idle jobs), condor_hold of the second factory, the condor_q views, condor_release of
it, condor_rm of the first, condor_q -factory again.  Masked: cluster ids (the captured
pool had used 1-3 before), the owner, submit times, the schedd's address and the time
in its header line, and the digest file's path (the DIGEST header's padding follows
the longest path, which the capture's sanitized paths no longer show)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import classad2
import pytest

from condor_sim.tools import common as C
from support.captures import CLI, SCHEDD_LINE, capture
from support.pools import running_pool
from support.submit_tool import run_tool



def tool(cwd: Path, env: dict, name: str, *args: str) -> tuple[str, str, int]:
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", f"condor_sim.tools.{name}", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60)
    assert "Traceback" not in p.stderr, p.stderr
    return p.stdout, p.stderr, p.returncode


def masked(text: str, ids: dict[int, str]) -> str:
    """The text with cluster ids named by their role, owners and times masked, and the
    factory table's columns normalized."""
    text = SCHEDD_LINE.sub("-- Schedd: NAME : <ADDRESS?... @ TIME", text)
    text = re.sub(r"\S+/spool/\d+/condor_submit\.\d+\.digest", "DIGEST_FILE", text)
    text = re.sub(r"\b(\d+)(\.\d*| -|\.$)", lambda m: ids.get(int(m[1]), m[1]) + m[2], text)
    text = re.sub(r"(cluster |-clusters |ID: )(\d+)", lambda m: m[1] + ids.get(int(m[2]), m[2]), text)
    text = re.sub(r" +$", "", text, flags=re.M)
    text = re.sub(r"\d\d?/\d\d? +\d\d:\d\d", "DATE", text)
    text = re.sub(r"^(htcpool|root|\w+)( +)(ID: )", r"OWNER\3", text, flags=re.M)
    text = re.sub(r"^OWNER +BATCH_NAME", "OWNER BATCH_NAME", text, flags=re.M)
    text = re.sub(r"^(( *\S+\.\S*) +)(htcpool|root|\w+) +DATE", r"\1OWNER DATE", text, flags=re.M)
    return text


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """The captured steps on a live pool: per step, what our tools printed."""
    d = tmp_path_factory.mktemp("factory-tools")
    for name in ("factory.sub", "q3.sub", "factory-items.sub"):
        shutil.copy(CLI / "submit-files" / name, d / name)
    out: dict[str, tuple[str, str, int]] = {}
    with running_pool(tmp_path_factory.mktemp("factory-pool") / "p") as pool:
        env = dict(pool.env)
        out["condor_submit/factory-submit"] = run_tool(d, env, "factory.sub")
        out["condor_submit/factory-submit-terse"] = run_tool(d, env, "-terse", "factory.sub")
        out["condor_submit/factory-option"] = run_tool(d, env, "-factory", "q3.sub")
        ids = [int(re.search(r"cluster (\d+)\.", out["condor_submit/factory-submit"][0])[1]),
               int(out["condor_submit/factory-submit-terse"][0].split(".")[0]),
               int(re.search(r"cluster (\d+)\.", out["condor_submit/factory-option"][0])[1])]
        # each factory has made its jobs
        import time
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            af = tool(d, env, "condor_q", "-af", "ClusterId", "ProcId")[0].split("\n")
            if len([line for line in af if line.strip()]) == 7:
                break
            time.sleep(0.05)
        out["condor_hold/factory-cluster"] = tool(d, env, "condor_hold", str(ids[1]))
        for case, args in (("factory-view", ["-factory"]), ("factory-batch", []),
                           ("factory-nobatch", ["-nobatch"]),
                           ("factory-view-long", ["-factory", "-long", str(ids[0])])):
            out[f"condor_q/{case}"] = tool(d, env, "condor_q", *args)
        out["condor_release/factory-cluster"] = tool(d, env, "condor_release", str(ids[1]))
        out["condor_rm/factory-cluster"] = tool(d, env, "condor_rm", str(ids[0]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            view = tool(d, env, "condor_q", "-factory")
            if f"   {ids[0]}." not in view[0] and f"  {ids[0]}." not in view[0]:
                break
            time.sleep(0.05)
        out["condor_q/factory-view-after-rm"] = view
        deadline = time.monotonic() + 20
        while "Cluster removed" not in (d / "factory.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        out["factory.log"] = (d / "factory.log").read_text()
        for case, args in (("digest-factory", ["-digest", "factory.digest", "factory.sub"]),
                           ("digest-factory-items", ["-digest", "items.digest", "factory-items.sub"]),
                           ("digest-not-factory", ["-digest", "plain.digest", "q3.sub"])):
            out[f"condor_submit/{case}"] = run_tool(d, env, *args)
            digest = d / args[1]
            out[f"condor_submit/{case}.file"] = digest.read_text() if digest.exists() else None
    out["dir"] = str(d)
    return out, ids


CAPTURED_IDS = (4, 5, 6)          # the clusters of the captured steps


@pytest.mark.parametrize("case", ["condor_submit/factory-submit", "condor_submit/factory-submit-terse",
                                  "condor_submit/factory-option", "condor_hold/factory-cluster",
                                  "condor_release/factory-cluster", "condor_rm/factory-cluster",
                                  "condor_q/factory-view", "condor_q/factory-batch",
                                  "condor_q/factory-nobatch", "condor_q/factory-view-after-rm"])
def test_factory_steps_print_what_the_real_tools_print(replay, case):
    got, ids = replay
    c = capture(CLI / f"{case}.txt")
    names = ("FIRST", "SECOND", "THIRD")
    theirs = dict(zip(CAPTURED_IDS, names))
    ours = dict(zip(ids, names))
    out, err, rc = got[case]
    assert (masked(out, ours), masked(err, ours), rc) == \
        (masked(c["stdout"], theirs), masked(c["stderr"], theirs), c["rc"])


def digest_masked(text: str, cwd: str) -> str:
    text = text.replace(cwd, "/srv/pool/jobs") if cwd else text
    text = re.sub(r"\S+/spool/\d+/condor_submit\.\d+\.items", "ITEMS_FILE", text)
    return re.sub(r"(cluster |-clusters )\d+", r"\1N", text)


@pytest.mark.parametrize("case", ["digest-factory", "digest-factory-items", "digest-not-factory"])
def test_condor_submit_digest_writes_what_the_real_tool_writes(replay, case):
    """-digest FILE: a factory's submit digest in FILE (with the schedd's copy of the
    rows in its queue statement); nothing for a submit that is not a factory."""
    got, _ = replay
    c = capture(CLI / f"condor_submit/{case}.txt")
    out, err, rc = got[f"condor_submit/{case}"]
    assert (digest_masked(out, got["dir"]), digest_masked(err, got["dir"]), rc) == \
        (digest_masked(c["stdout"], ""), digest_masked(c["stderr"], ""), c["rc"])
    want = CLI / f"condor_submit/{case}.file.txt"
    if want.exists():
        assert digest_masked(got[f"condor_submit/{case}.file"], got["dir"]) == \
            digest_masked(want.read_text(), "")
    else:
        assert got[f"condor_submit/{case}.file"] is None


def events_masked(text: str, ids: dict[int, str]) -> list[str]:
    """A user log's events up to the first "Cluster removed", with the times, the schedd's
    address and the user masked and the clusters named by their role."""
    text = text.split("Cluster removed", 1)[0] + "Cluster removed"
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "TIME", text)
    text = re.sub(r"<127\.0\.0\.1:\d+\?[^>]*>", "<SCHEDD>", text)
    text = re.sub(r"\(by user \w+\)", "(by user USER)", text)
    text = re.sub(r"^(\d{3}) \((\d{3})\.", lambda m: f"{m[1]} ({ids.get(int(m[2]), m[2])}.", text, flags=re.M)
    return text.split("...\n")


def test_the_factory_events_are_the_real_ones(replay):
    """submit, hold and release of one factory, removal of the other: the cluster's own
    events (submitted, materialization paused and resumed, removed) among its jobs'."""
    got, ids = replay
    want = (CLI / "user-logs" / "factory.log").read_text()
    names = ("FIRST", "SECOND", "THIRD")

    def by_cluster(events: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for e in events:
            out.setdefault(e[5:].split(".", 1)[0], []).append(e)
        return out
    # each cluster's events in the real order (here a factory's first jobs are queued once
    # its digest is learned, so two factories submitted at once may interleave otherwise)
    assert by_cluster(events_masked(got["factory.log"], dict(zip(ids, names)))) == \
        by_cluster(events_masked(want, dict(zip(CAPTURED_IDS, names))))


def test_the_factory_cluster_ad_has_the_real_attributes(replay):
    """condor_q -factory -long: the cluster ad as a query that includes cluster ads gets
    it, with the job counts and the factory's state (values of the captured cluster,
    which ran nothing: two idle jobs of four, limit 2)."""
    got, ids = replay
    theirs = classad2.parseOne(capture(CLI / "condor_q/factory-view-long.txt")["stdout"])
    ours = classad2.parseOne(got["condor_q/factory-view-long"][0])
    assert sorted(ours.keys()) == sorted(theirs.keys())
    same = ("ClusterSize", "JobFactoryItemCount", "JobFactoryItemReaderDone", "JobFactoryPaused",
            "JobFactoryStepSize", "JobFactoryTotalProcs", "JobMaterializeLimit",
            "JobMaterializeNextProcId", "JobsHeld", "JobsIdle", "JobsPresent", "JobsRunning",
            "TotalSubmitProcs", "JobStatus")
    assert {k: ours[k] for k in same} == {k: theirs[k] for k in same}
    assert (ours["JobFactoryId"], theirs["JobFactoryId"]) == (ids[0], CAPTURED_IDS[0])


def test_format_date_is_the_real_one():
    import time
    t = int(time.mktime((2026, 12, 6, 5, 40, 0, 0, 0, -1)))
    assert C.format_date(t) == "12/6  05:40"
    t = int(time.mktime((2027, 1, 15, 9, 3, 0, 0, 0, -1)))
    assert C.format_date(t) == " 1/15 09:03" and C.qdate(t) == " 1/15 09:03"
    assert C.format_date(-1) == "    ???    " and C.qdate(None) == ""


def test_factory_options():
    from condor_sim.tools import q_views
    assert (q_views.factory_options(None), q_views.factory_options("c"),
            q_views.factory_options("late"), q_views.factory_options("c,l")) == (3, 1, 2, 3)
    with pytest.raises(C.ToolError) as e:
        q_views.factory_options("bogus")
    assert e.value.stderr == "Error: unknown option bogus for -factory\n"
