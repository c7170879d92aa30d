"""Job factories (late materialization) in-process: the QMGMT requests that make one, the
limits that decide how many jobs it queues, each job's transaction, the actions on its
cluster, its user-log events (read back by the real JobEventLog) and the digest's
submit object."""
from __future__ import annotations

import asyncio
import errno

import classad2
import htcondor2
import pytest

from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.daemons.schedd import digest_jobs as DJ
from condor_sim.jobqueue import actions as A
from condor_sim.jobqueue import factory as F
from condor_sim.jobqueue import qmgmt as Q
from condor_sim.jobqueue import rules
from condor_sim.jobqueue import userlog as U
from condor_sim.jobqueue.queue import HELD, IDLE, RUNNING, JobQueue

POLICY = rules.QueuePolicy(uid_domain="vm", schedd_name="vm", version="$CondorVersion: X $",
                           super_users=frozenset({"condor"}), spool="/spool",
                           immutable=frozenset("Owner ClusterId ProcId".split()),
                           protected=frozenset({"Owner"}), secure=frozenset({"OsUser"}))
DIGEST = "arguments=p=$(Process)\nFACTORY.Iwd=/tmp\nQueue 3\n"


class Committer:
    def __init__(self, queue):
        self.queue, self.calls = queue, []

    async def __call__(self, txn, submitted, factories=None):
        self.queue.commit(txn)
        self.calls.append((submitted, factories))
        return None


def session(queue, policy=POLICY, user="alice@vm"):
    return Q.QmgmtSession(queue, policy, user, True, write=True, commit=Committer(queue),
                          now=lambda: 1000)


def call(s, num, *args, raw: bytes = b"", flag=None) -> list[MessageReader]:
    w = MessageWriter().put_int(num)
    for a in args:
        w.put_int(a) if isinstance(a, int) else w.put_string(a)
    if flag is not None:
        w.put_bytes(bytes([flag]))
    w.put_bytes(raw)
    return [MessageReader(b) for b in asyncio.run(s.handle(MessageReader(w.getvalue())))]


def factory_submit(s, digest=DIGEST, limit=2, items: bytes | None = None, extra=()):
    c = call(s, Q.NewCluster)[0].get_int()
    replies = {}
    if items is not None:
        replies["items"] = call(s, Q.SendMaterializeData, c, 0, raw=items)[0]
    replies["factory"] = call(s, Q.SetJobFactory, c, limit, "", digest)[0].get_int()
    for name, value in [("ClusterId", str(c)), ("Owner", '"alice"'), ("Cmd", '"/bin/echo"'),
                        ("JobStatus", "1"), *extra]:
        call(s, Q.SetAttribute2, c, -1, value, name, flag=Q.NO_ACK)
    replies["commit"] = call(s, Q.CommitTransactionNoFlags)[0].get_int()
    return c, replies


# ---------------------------------------------------------------------------- QMGMT
def test_a_factory_submit_keeps_its_empty_cluster_and_hands_the_digest_over():
    q = JobQueue("vm", "vm")
    s = session(q)
    c, r = factory_submit(s)
    assert (r["factory"], r["commit"]) == (0, 0)
    cad = q.clusters[c]
    assert cad["JobMaterializeLimit"] == "2" and cad["JobMaterializeNextProcId"] == "0"
    assert cad["JobMaterializeDigestFile"] == f'"/spool/{c}/condor_submit.{c}.digest"'
    assert cad["CondorVersion"] == '"$CondorVersion: X $"' and "TotalSubmitProcs" not in cad
    assert not q.jobs
    [(submitted, factories)] = s._commit.calls
    assert submitted == {c: 0} and factories[c].digest == DIGEST and factories[c].limit == 2


def test_item_rows_are_counted_and_named_in_the_reply():
    q = JobQueue("vm", "vm")
    s = session(q)
    c, r = factory_submit(s, digest="arguments=$(x)\nQueue 1 x from /spool/1/condor_submit.1.items\n",
                          items=b"a\nb\nc")
    reply = r["items"]
    assert reply.get_str() == f"/spool/{c}/condor_submit.{c}.items"
    assert (reply.get_int(), reply.get_int()) == (3, 0)
    assert q.clusters[c]["JobMaterializeItemsFile"] == f'"/spool/{c}/condor_submit.{c}.items"'
    assert s._commit.calls[0][1][c].items == b"a\nb\nc"
    assert (F.count_rows(b""), F.count_rows(b"a\n"), F.count_rows(b"a\nb")) == (0, 1, 2)


def test_a_factory_for_another_cluster_or_without_queue_or_when_disallowed_is_refused():
    q = JobQueue("vm", "vm")
    s = session(q)
    c = call(s, Q.NewCluster)[0].get_int()
    r = call(s, Q.SetJobFactory, c + 1, 2, "", DIGEST)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EPERM)
    r = call(s, Q.SetJobFactory, c, 2, "", "arguments=1\n")[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EINVAL)
    r = call(s, Q.SetJobFactory, c, 2, "/some/file", "")[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EINVAL)
    with pytest.raises(Q.CloseSession):
        call(s, Q.SendMaterializeData, c + 1, 0, raw=b"a\n")
    closed = rules.QueuePolicy(**{**POLICY.__dict__, "allow_late_materialize": False})
    s2 = session(JobQueue("vm", "vm"), closed)
    c2 = call(s2, Q.NewCluster)[0].get_int()
    r = call(s2, Q.SetJobFactory, c2, 2, "", DIGEST)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EPERM)


def test_a_read_only_session_cannot_make_a_factory():
    q = JobQueue("vm", "vm")
    s = Q.QmgmtSession(q, POLICY, "alice@vm", True, write=False, commit=Committer(q))
    r = call(s, Q.SetJobFactory, 1, 2, "", DIGEST)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EACCES)


# ---------------------------------------------------------------------------- limits and jobs
def jobs(n):
    return [[("Args", f'"p={p}"'), ("Out", f'"out.{p}"'), ("Owner", '"root"'),
             ("OsUser", '"root"')] for p in range(n)]


def made_factory(n=3, rows=0, **cluster):
    q = JobQueue("vm", "vm")
    c, _ = factory_submit(session(q), extra=[(k, str(v)) for k, v in cluster.items()])
    return q, c, F.Factory(c, jobs=jobs(n), rows=rows)


def test_how_many_follows_the_limit_max_idle_pause_and_the_jobs_left():
    cad = {"JobMaterializeLimit": "2", "JobMaterializeNextProcId": "0"}
    assert F.how_many(cad, [], 5, POLICY) == 2
    assert F.how_many(cad, [IDLE], 5, POLICY) == 1
    assert F.how_many(cad, [IDLE, RUNNING], 5, POLICY) == 0
    assert F.how_many({**cad, "JobMaterializeNextProcId": "4"}, [], 5, POLICY) == 1
    assert F.how_many({**cad, "JobMaterializeNextProcId": "5"}, [], 5, POLICY) == 0
    idle = {"JobMaterializeLimit": "10", "JobMaterializeMaxIdle": "2"}
    assert F.how_many(idle, [RUNNING, RUNNING, RUNNING], 10, POLICY) == 2
    assert F.how_many(idle, [IDLE, HELD, RUNNING], 10, POLICY) == 0
    assert F.how_many({**cad, "JobMaterializePaused": "1"}, [], 5, POLICY) == 0
    small = rules.QueuePolicy(**{**POLICY.__dict__, "max_materialized_per_cluster": 1})
    assert F.how_many({"JobMaterializeLimit": "0"}, [], 5, small) == 1


def test_each_job_gets_its_own_attributes_but_never_its_owner_and_moves_the_cluster_on():
    q, c, f = made_factory()
    txn = q.begin()
    assert [F.materialize(txn, f, POLICY, 1234) for _ in range(2)] == [0, 1]
    q.commit(txn)
    job = q.job(c, 1)
    assert (job["ProcId"], job["Args"], job["Out"]) == ("1", '"p=1"', '"out.1"')
    assert job["Owner"] == '"alice"' and "OsUser" not in q.jobs[(c, 1)]
    assert job["GlobalJobId"] == f'"vm#{c}.1#1234"' and job["JobMaterializeDate"] == "1234"
    assert job["JobStatus"] == "1"
    cad = q.clusters[c]
    assert cad["JobMaterializeNextProcId"] == "2" and cad["TotalSubmitProcs"] == "3"
    assert "JobMaterializeNextRow" not in cad          # a plain "Queue N" has no rows
    assert not F.is_done(f)
    txn = q.begin()
    F.materialize(txn, f, POLICY, 1234)
    q.commit(txn)
    cad = q.clusters[c]
    # all made, but the factory is done only when it may try for one more
    assert not F.is_done(f) and F.removed_mode(f, cad) == F.MM_NO_MORE_ITEMS
    assert not F.runs_dry({**cad, "JobMaterializeLimit": "3"}, [IDLE, IDLE, IDLE], 3, POLICY)
    assert F.runs_dry(cad, [IDLE], 3, POLICY) and not F.runs_dry(cad, [IDLE, IDLE], 3, POLICY)
    assert not F.runs_dry({**cad, "JobMaterializePaused": "1"}, [], 3, POLICY)


def test_rows_move_on_after_each_rows_jobs_and_end_at_minus_one():
    q, c, f = made_factory(n=4, rows=2)                # two rows, two jobs each
    rows = []
    for _ in range(4):
        txn = q.begin()
        F.materialize(txn, f, POLICY, 1)
        q.commit(txn)
        rows.append(q.clusters[c].get("JobMaterializeNextRow"))
    assert rows == [None, "1", "1", "-1"]


# ---------------------------------------------------------------------------- actions
def test_hold_release_and_remove_of_a_factory_cluster():
    q, c, f = made_factory()
    hold = A.plan(q, POLICY, classad2.ClassAd({"JobAction": A.HOLD, "ActionIds": f"{c}",
                                                 "HoldReason": "wait"}), "alice@vm", 1, {c})
    assert hold.factories == [c] and hold.totals[A.AR_SUCCESS] == 1
    q.commit(hold.txn)
    assert q.clusters[c]["JobMaterializePaused"] == "1"
    assert q.clusters[c]["JobMaterializePauseReason"] == '"wait (by user alice)"'
    release = A.plan(q, POLICY, classad2.ClassAd({"JobAction": A.RELEASE,
                                                    "ActionConstraint": classad2.ExprTree(f"ClusterId == {c}")}),
                     "alice@vm", 1, {c})
    assert release.factories == [c]
    q.commit(release.txn)
    assert q.clusters[c]["JobMaterializePaused"] == "0" and "JobMaterializePauseReason" not in q.clusters[c]
    other = A.plan(q, POLICY, classad2.ClassAd({"JobAction": A.REMOVE, "ActionIds": f"{c}"}),
                   "bob@vm", 1, {c})
    assert other.factories == [] and other.totals[A.AR_PERMISSION_DENIED] == 1
    mine = A.plan(q, POLICY, classad2.ClassAd({"JobAction": A.REMOVE, "ActionIds": f"{c}"}),
                  "alice@vm", 1, {c})
    assert mine.factories == [c]
    plain = A.plan(q, POLICY, classad2.ClassAd({"JobAction": A.REMOVE, "ActionIds": f"{c}"}),
                   "alice@vm", 1, set())
    assert plain.factories == [] and not plain.successes


# ---------------------------------------------------------------------------- events
def test_factory_events_read_back_by_the_real_job_event_log(tmp_path):
    log = tmp_path / "f.log"
    log.write_text(
        U.cluster_submit_event(7, 1_700_000_000, "<127.0.0.1:9618>", log_notes="note")
        + U.factory_paused_event(7, 1_700_000_001, "failed to load", pause_code=F.MM_INVALID)
        + U.cluster_removed_event(7, 1_700_000_002, next_proc=3, next_row=-1, completion="Complete"))
    text = log.read_text()
    assert "035 (007.-01.000) " in text and "Cluster submitted from host: <127.0.0.1:9618>\n    note\n" in text
    assert "037 (007.-01.000) " in text and "Job Materialization Paused\n\tfailed to load\n\tPauseCode -1\n" in text
    assert "Cluster removed\n\tMaterialized 3 jobs from -1 items.\tComplete\n...\n" in text
    events = list(htcondor2.JobEventLog(str(log)).events(stop_after=0))
    assert [e.type for e in events] == [htcondor2.JobEventType.CLUSTER_SUBMIT,
                                        htcondor2.JobEventType.FACTORY_PAUSED,
                                        htcondor2.JobEventType.CLUSTER_REMOVE]
    assert [(e.cluster, e.proc) for e in events] == [(7, -1)] * 3
    assert events[0]["SubmitHost"] == "<127.0.0.1:9618>"
    assert events[1]["PauseCode"] == -1 and events[1]["Reason"] == "failed to load"
    assert events[2]["NextProcId"] == 3 and events[2]["NextRow"] == -1 and events[2]["Completion"] == 1


# ---------------------------------------------------------------------------- the digest
def test_the_digest_submit_drops_the_factory_commands_and_names_an_executable():
    sub, iwd = DJ.submit_of_digest("FACTORY.Requirements=MY.Requirements\nFACTORY.Iwd=/tmp\n"
                                   "max_idle=4\narguments=$(Process)\nQueue 3\n")
    assert iwd == "/tmp"                     # read before the FACTORY.* commands are emptied
    assert sub["max_idle"] == "" and sub["FACTORY.Requirements"] == "" and sub["FACTORY.Iwd"] == ""
    assert sub["executable"] == DJ.PLACEHOLDER_EXECUTABLE and sub["universe"] == "vanilla"
    assert sub["arguments"] == "$(Process)" and sub.getQArgs().strip() == "3"
    kept, no_iwd = DJ.submit_of_digest("executable=/bin/$(x)\nuniverse=local\nQueue 1 x in (a)\n")
    assert kept["executable"] == "/bin/$(x)" and kept["universe"] == "local" and no_iwd is None


# ---------------------------------------------------------------------------- hostile digests
@pytest.mark.parametrize("digest,why", [
    ("include : /etc/shadow\nQueue 1\n", "include statement is not allowed"),
    ("include command : /bin/sh -c 'touch /tmp/x' |\nQueue 1\n", "include statement is not allowed"),
    ("  INCLUDE ifexist : /root/.ssh/id_rsa\nQueue 1\n", "include statement is not allowed"),
    ("arguments = $(x)\nQueue 1 x from /etc/passwd\n", "invalid filename '/etc/passwd' for foreach from"),
    ("arguments = $(x)\nQueue 1 x from [::2] /etc/passwd\n", "invalid filename '/etc/passwd'"),
    ("arguments = $(x)\nQueue x matching /root/*\n", "foreach mode matching is not supported"),
    ("arguments = $(x)\nQueue x from /etc/passwd (\n", "invalid filename '/etc/passwd ('"),
])
def test_a_digest_that_reads_files_or_runs_commands_is_refused(digest, why):
    """A peer sending its own digest cannot make the schedd read a file or run a command:
    SetJobFactory is refused before anything reads the digest, and nothing is queued."""
    q = JobQueue("vm", "vm")
    logged = []
    s = Q.QmgmtSession(q, POLICY, "alice@vm", True, write=True, commit=Committer(q),
                       now=lambda: 1000, log=logged.append)
    c = call(s, Q.NewCluster)[0].get_int()
    r = call(s, Q.SetJobFactory, c, 2, "", digest)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EINVAL)
    assert why in logged[-1] and "Failing remote SetJobFactory" in logged[-1]
    assert not s.factories


def test_the_clients_own_digests_pass_the_screen():
    items = F.items_path("/spool", 7)
    for digest in ("FACTORY.Iwd=/tmp\narguments=$(Process)\n\nQueue 4 \n",
                   f"arguments=$(fruit)\n\nQueue 1 fruit from {items}\n",
                   "include_thing = 1\narguments=x\nQueue 2\n",
                   "arguments=$(x)\nQueue 1 x from (\n a\n b\n)\n"):
        assert F.digest_problem(digest, items) is None, digest
    assert F.digest_problem("arguments=1\n", items) == "the submit digest has no Queue statement"


def test_expected_total_from_the_queue_statement():
    assert F.expected_total("arguments=1\nQueue 4 \n", None) == 4
    assert F.expected_total("Queue\n", None) == 1
    assert F.expected_total("Queue 2 x from /spool/1/condor_submit.1.items\n", 3) == 6
    assert F.expected_total("Queue 2 x from /spool/1/condor_submit.1.items\n", None) is None
    assert F.expected_total("Queue x in (a, b)\n", None) is None
    f = F.Factory(1, jobs=[[("Args", '"0"')]], expected=4, complete=False)
    assert f.total == 4                      # while learning: what the statement says
    f.complete = True
    assert f.total == 1                      # learned: what came


def test_the_recorder_hands_finished_procs_on_and_keeps_none():
    from condor_sim.jobqueue.recorder import QmgmtRecorder
    got = []
    r = QmgmtRecorder(5, on_proc=lambda p, attrs: got.append((p, attrs)))
    req = lambda *f: MessageReader(b"".join(  # noqa: E731
        MessageWriter().put_int(x).getvalue() if isinstance(x, int) else
        MessageWriter().put_string(x).getvalue() for x in f))
    r.handle(req(Q.NewCluster))
    r.handle(req(Q.NewProc, 5))
    r.handle(req(Q.SetAttribute, 5, 0, '"a"', "Args"))
    assert got == []                         # proc 0 may still get attributes
    r.handle(req(Q.NewProc, 5))
    assert got == [(0, [("Args", '"a"')])]
    r.handle(req(Q.SetAttribute, 5, 1, '"b"', "Args"))
    r.handle(req(Q.CommitTransaction, 0))
    assert got[-1] == (1, [("Args", '"b"')]) and r.recorded.procs == {} and r.recorded.count == 2
