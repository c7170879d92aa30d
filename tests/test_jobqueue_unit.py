"""The job queue in-process: the ClassAd log against the real schedd's, QMGMT requests fed
as bytes, actions, rounding, and a log cut off at every byte."""
from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import classad2
import pytest

from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.jobqueue import actions as A
from condor_sim.jobqueue import classad_log as L
from condor_sim.jobqueue import qmgmt as Q
from condor_sim.jobqueue import rules
from condor_sim.jobqueue import select as S
from condor_sim.jobqueue.queue import HELD, IDLE, REMOVED, JobQueue
from condor_sim.jobqueue.store import QueueStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "job_queue"
POLICY = rules.QueuePolicy(uid_domain="vm", schedd_name="vm", version="$CondorVersion: X $",
                           super_users=frozenset({"condor"}),
                           immutable=frozenset("Owner ClusterId JobUniverse ProcId MyType TargetType User OsUser".split()),
                           secure=frozenset({"TotalSubmitProcs", "OsUser"}),
                           rounding={"ImageSize": "25%", "DiskUsage": "25%", "NumCkpts": "4",
                                     "ResidentSetSize": "25%"})


# ---------------------------------------------------------------------------- the log format
def test_replay_of_the_real_log_and_its_compaction():
    """The real schedd's log before its restart-time compaction replays to what its
    compacted log holds (attribute for attribute; the real one writes in hash order)."""
    full = L.replay((FIXTURES / "job_queue.log.1").read_bytes())
    compact = L.replay((FIXTURES / "job_queue.log").read_bytes())
    assert not full.torn and not compact.torn and full.warnings == []
    assert (full.sequence, compact.sequence) == (1, 2)
    assert full.created == compact.created == 1795473532
    assert list(full.ads) == list(compact.ads) == ["0.0", "0.2"]
    for key in full.ads:
        ours = {k: v for k, v in full.ads[key].attrs.items()}
        theirs = {k: v for k, v in compact.ads[key].attrs.items() if k not in ("MyType", "TargetType")}
        assert ours == theirs
    again = L.replay(L.snapshot(2, full.created, full.ads).encode())
    assert {k: a.attrs for k, a in again.ads.items()} == {k: a.attrs for k, a in full.ads.items()}


def test_every_record_kind_parses_and_bad_ones_do_not():
    assert L.parse_record('103 01.-1 Requirements (TARGET.Arch == "X86_64") && x') == \
        (L.SET, "01.-1", "Requirements", '(TARGET.Arch == "X86_64") && x')
    assert L.parse_record("101 0.2 Owner (empty)") == (L.NEW, "0.2", "Owner", "")
    assert L.parse_record("104 1.0 HoldReason") == (L.DELETE, "1.0", "HoldReason")
    assert L.parse_record("102 1.0") == (L.DESTROY, "1.0")
    assert L.parse_record("105 ") == (L.BEGIN,) and L.parse_record("106 ") == (L.END,)
    assert L.parse_record("107 3 CreationTimestamp 12") == (L.SEQUENCE, 3, 12)
    for bad in ("", "103 1.0 Name", "103 1.0", "abc", "101 1.0 Job", "999 x", "104 1.0", "107 x y z"):
        assert L.parse_record(bad) is None, bad


def test_a_log_cut_anywhere_keeps_every_committed_transaction():
    """A crash can stop a write at any byte: replay keeps exactly what was complete before
    it (records outside transactions, and whole transactions), and marks the rest torn."""
    data = (FIXTURES / "job_queue.log.1").read_bytes()
    safe, pos, open_txn = [0], 0, False
    for line in data.splitlines(keepends=True):
        pos += len(line)
        open_txn = line.startswith(b"105") or (open_txn and not line.startswith(b"106"))
        if not open_txn:
            safe.append(pos)
    for cut in list(range(0, len(data), 37)) + [len(data)]:
        r = L.replay(data[:cut])
        boundary = max(b for b in safe if b <= cut)
        expect = L.replay(data[:boundary])
        assert {k: a.attrs for k, a in r.ads.items()} == {k: a.attrs for k, a in expect.ads.items()}
        assert r.good_bytes == boundary
        assert r.torn == (cut != boundary)


def test_a_bad_record_inside_a_committed_transaction_is_refused():
    text = b"107 1 CreationTimestamp 1\n105 \n101 1.0 Job Machine\n103 1.0\n106 \n"
    with pytest.raises(L.CorruptLog):
        L.replay(text)


# ---------------------------------------------------------------------------- QMGMT requests
class Committer:
    def __init__(self, queue):
        self.queue, self.texts, self.submitted = queue, [], []

    async def __call__(self, txn, submitted):
        self.texts.append(self.queue.commit(txn))
        self.submitted.append(submitted)
        return None


def session(queue, user="alice@vm", authenticated=True, write=True):
    return Q.QmgmtSession(queue, POLICY, user, authenticated, write=write,
                          commit=Committer(queue), select=lambda c: S.select(queue, c),
                          now=lambda: 1000)


def call(s, num, *args, flag=None) -> list[MessageReader]:
    w = MessageWriter().put_int(num)
    for a in args:
        w.put_int(a) if isinstance(a, int) else w.put_string(a)
    if flag is not None:
        w.put_bytes(bytes([flag]))
    out = asyncio.run(s.handle(MessageReader(w.getvalue())))
    return [MessageReader(b) for b in out]


def setattr2(s, c, p, value, name):
    return call(s, Q.SetAttribute2, c, p, value, name, flag=Q.NO_ACK)


def submit(s, n=2, owner="undefined", extra=()):
    c = call(s, Q.NewCluster)[0].get_int()
    for p in range(n):
        assert call(s, Q.NewProc, c)[0].get_int() == p
        if p == 0:
            for name, value in [("ClusterId", str(c)), ("Owner", owner), ("Cmd", '"/bin/sleep"'),
                                ("ImageSize", "43"), ("NumCkpts", "0"), ("JobUniverse", "5"), *extra]:
                setattr2(s, c, -1, value, name)
        setattr2(s, c, p, str(p), "ProcId")
        setattr2(s, c, p, "1", "JobStatus")
    reply = call(s, Q.CommitTransactionNoFlags)[0]
    return c, reply.get_int(), reply


def test_submit_fills_owner_user_and_global_id_and_rounds():
    q = JobQueue("vm", "vm")
    s = session(q)
    c, rval, _ = submit(s, 2)
    assert (c, rval) == (1, 0)
    job = q.job(1, 1)
    assert job["Owner"] == '"alice"' and job["User"] == '"alice@vm"'
    assert job["GlobalJobId"] == '"vm#1.1#1000"'
    assert (job["ImageSize_RAW"], job["ImageSize"]) == ("43", "45")
    assert (job["NumCkpts_RAW"], job["NumCkpts"]) == ("0", "0")
    assert q.clusters[1]["TotalSubmitProcs"] == "2"
    assert q.next_cluster == 2
    text = s._commit.texts[0]
    assert text.startswith("105 \n103 0.0 NextClusterNum 2\n101 01.-1 Job Machine\n101 1.-2 ClusterPvt (empty)\n")
    assert text.endswith("106 \n")


def test_rounding_matches_the_real_values():
    assert rules.round_value("43", "25%") == "45"          # the captures' DiskUsage
    assert rules.round_value("5816", "25%") == "7500"      # ResidentSetSize
    assert rules.round_value("57", "25%") == "75"
    assert rules.round_value("0", "25%") == "0"
    assert rules.round_value("12345", "4") == "20000"
    assert rules.round_value("abc", "25%") is None


def test_uncommitted_jobs_are_invisible_and_an_abort_leaves_nothing():
    q = JobQueue("vm", "vm")
    s = session(q)
    c = call(s, Q.NewCluster)[0].get_int()
    call(s, Q.NewProc, c)
    setattr2(s, c, -1, "undefined", "Owner")
    assert q.jobs == {} and S.select(q, "true") == []
    s.abort()
    assert q.jobs == {} and q.ads == {}


@pytest.mark.parametrize("name,value,code", [
    ("Owner", '"bob"', errno.EACCES),          # not who the socket is
    ("Owner", "root", errno.EACCES),           # not a string
    ("Bad Name", "1", errno.EINVAL),
    ("Cmd", "x" * (rules.MAX_VALUE_TEXT + 1), errno.EINVAL),
    ("TotalSubmitProcs", "1", errno.EACCES),   # secure
])
def test_refused_attributes_fail_the_commit_with_the_reason(name, value, code):
    q = JobQueue("vm", "vm")
    s = session(q)
    c = call(s, Q.NewCluster)[0].get_int()
    call(s, Q.NewProc, c)
    setattr2(s, c, -1, value, name)
    reply = call(s, Q.CommitTransactionNoFlags)[0]
    assert reply.get_int() == -1 and reply.get_int() == code
    ad = reply_ad(reply)
    assert ad["ErrorCode"] == 2 and ad["ErrorReason"]
    assert q.jobs == {}


def reply_ad(r: MessageReader) -> dict:
    n = r.get_int()
    lines = [r.get_str() for _ in range(n)]
    return dict(classad2.parseOne("\n".join(lines), parser=classad2.ParserType.Old)) if lines else {}


def test_root_jobs_only_where_the_pool_allows_them():
    for allow, expect in ((False, -1), (True, 0)):
        q = JobQueue("vm", "vm")
        pol = rules.QueuePolicy(**{**POLICY.__dict__, "allow_root_owner": allow})
        s = Q.QmgmtSession(q, pol, "root@vm", True, write=True, commit=Committer(q))
        assert submit(s, 1)[1] == expect


def test_unauthenticated_clients_cannot_submit():
    q = JobQueue("vm", "vm")
    s = session(q, user="unauthenticated@unmapped", authenticated=False)
    r = call(s, Q.NewCluster)[0]
    assert r.get_int() == -1


def test_edits_of_committed_jobs():
    q = JobQueue("vm", "vm")
    submit(session(q), 2)
    s = session(q)
    setattr2(s, 1, 0, '"x"', "Foo")
    assert call(s, Q.CommitTransactionNoFlags)[0].get_int() == 0
    assert q.job(1, 0)["Foo"] == '"x"'
    # immutable
    setattr2(s, 1, 0, "7", "ClusterId")
    r = call(s, Q.CommitTransactionNoFlags)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EACCES)
    assert "immutable attribute ClusterId" in reply_ad(r)["ErrorReason"]
    # somebody else's job
    other = session(q, user="bob@vm")
    setattr2(other, 1, 0, '"y"', "Foo")
    r = call(other, Q.CommitTransactionNoFlags)[0]
    assert r.get_int() == -1 and r.get_int() == errno.EACCES
    assert "may not change attributes for jobs they do not own" in reply_ad(r)["ErrorReason"]
    # a queue super user may
    boss = session(q, user="condor@vm")
    setattr2(boss, 1, 0, '"z"', "Foo")
    assert call(boss, Q.CommitTransactionNoFlags)[0].get_int() == 0
    # by constraint: the count of jobs changed
    r = call(s, Q.SetAttributeByConstraint2, "ClusterId == 1", "3", "Bar", flag=Q.NO_ACK)[0]
    assert r.get_int() == 2
    call(s, Q.CommitTransactionNoFlags)
    assert [q.job(1, p)["Bar"] for p in (0, 1)] == ["3", "3"]
    r = call(s, Q.SetAttributeByConstraint2, "ClusterId == 99", "3", "Bar", flag=Q.NO_ACK)[0]
    assert r.get_int() == -1


def test_a_second_commit_with_nothing_pending_succeeds():
    """The v1 client commits twice."""
    q = JobQueue("vm", "vm")
    s = session(q)
    submit(s, 1)
    r = call(s, Q.CommitTransactionNoFlags)[0]
    assert r.get_int() == 0 and reply_ad(r) == {}


def test_new_proc_must_follow_new_cluster_and_unknown_requests_close():
    q = JobQueue("vm", "vm")
    s = session(q)
    assert call(s, Q.NewProc, 5)[0].get_int() == -1
    with pytest.raises(Q.CloseSession):
        call(s, 99999)
    with pytest.raises(Q.CloseSession):
        call(s, Q.CloseSocket)


def test_read_only_sessions_cannot_write():
    q = JobQueue("vm", "vm")
    s = session(q, write=False)
    r = call(s, Q.NewCluster)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EACCES)


def test_get_attribute_and_job_ad():
    q = JobQueue("vm", "vm")
    submit(session(q), 1)
    s = session(q)
    r = call(s, Q.GetAttributeInt, 1, 0, "JobStatus")[0]
    assert (r.get_int(), r.get_int()) == (0, 1)
    r = call(s, Q.GetAttributeString, 1, 0, "Owner")[0]
    assert (r.get_int(), r.get_str()) == (0, "alice")
    r = call(s, Q.GetAttributeExpr, 1, 0, "Nope")[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.ENOENT)
    r = call(s, Q.GetJobAd, 1, 0)[0]
    assert r.get_int() == 0 and reply_ad(r)["Cmd"] == "/bin/sleep"


# ---------------------------------------------------------------------------- actions
def act(q, action, user="alice@vm", **req):
    ad = classad2.ClassAd({"JobAction": action, "ActionResultType": 2, **req})
    p = A.plan(q, POLICY, ad, user, 2000)
    if p is not None and p.successes:
        q.commit(p.txn)
    return p


def test_actions_by_id_record_each_result():
    q = JobQueue("vm", "vm")
    submit(session(q), 3)
    p = act(q, A.HOLD, ActionIds="1.0,1.1,7.0", HoldReason="why")
    assert p.totals[A.AR_SUCCESS] == 2 and p.totals[A.AR_NOT_FOUND] == 1
    j = q.job(1, 0)
    assert j["JobStatus"] == str(HELD) and j["HoldReason"] == '"why (by user alice)"'
    assert (j["HoldReasonCode"], j["HoldReasonSubCode"], j["NumHolds"], j["LastJobStatus"]) == ("1", "0", "1", "1")
    assert j["NumHoldsByReason"] == "[ UserRequest = 1 ]"
    assert act(q, A.HOLD, ActionIds="1.0").totals[A.AR_ALREADY_DONE] == 1
    assert act(q, A.RELEASE, ActionIds="1.2").totals[A.AR_BAD_STATUS] == 1
    assert act(q, A.HOLD, user="bob@vm", ActionIds="1.2").totals[A.AR_PERMISSION_DENIED] == 1
    p = act(q, A.RELEASE, ActionConstraint=classad2.ExprTree("ClusterId == 1"), ReleaseReason="ok")
    assert p.totals[A.AR_SUCCESS] == 2          # the guard keeps only held jobs
    j = q.job(1, 0)
    assert j["JobStatus"] == str(IDLE) and "HoldReason" not in j
    assert j["LastHoldReason"] == '"why (by user alice)"' and j["ReleaseReason"] == '"ok (by user alice)"'
    p = act(q, A.REMOVE, ActionConstraint=classad2.ExprTree("true"), RemoveReason="bye")
    assert p.totals[A.AR_SUCCESS] == 3
    assert all(q.status(1, i) == REMOVED for i in range(3))
    assert act(q, A.REMOVE, ActionIds="1.0").totals[A.AR_ALREADY_DONE] == 1
    lines = p.result_lines(3)
    assert "ActionResult = 1" in lines and "result_total_1 = 3" in lines and "IsQueueSuperUser = false" in lines


def test_an_action_with_both_ids_and_constraint_is_refused():
    q = JobQueue("vm", "vm")
    assert act(q, A.HOLD, ActionIds="1.0", ActionConstraint=classad2.ExprTree("true")) is None
    assert act(q, 42, ActionIds="1.0") is None


# ---------------------------------------------------------------------------- selection
def test_constraints_see_cluster_and_proc_attributes():
    q = JobQueue("vm", "vm")
    submit(session(q), 3, extra=[("Memo", "JobStatus + 1")])
    assert S.select(q, "ProcId >= 1 && Owner == \"alice\"") == [(1, 1), (1, 2)]
    assert S.select(q, "Memo == 2") == [(1, 0), (1, 1), (1, 2)]     # through another attribute
    assert S.select(q, "((true))") == [(1, 0), (1, 1), (1, 2)]
    assert S.select(q, "Nope =?= undefined", limit=1) == [(1, 0)]
    with pytest.raises(ValueError):
        S.select(q, "ProcId ==")


def test_summary_counts():
    q = JobQueue("vm", "vm")
    submit(session(q), 3)
    act(q, A.HOLD, ActionIds="1.0")
    t = S.tally(q)
    lines = S.summary_lines(t, t, 5)
    assert "Jobs = 3" in lines and "Idle = 2" in lines and "Held = 1" in lines and "AllusersHeld = 1" in lines


# ---------------------------------------------------------------------------- the store
def test_store_replays_and_drops_a_torn_tail(tmp_path):
    path = tmp_path / "job_queue.log"
    logged: list[str] = []
    q = JobQueue("vm", "vm")
    store = QueueStore(str(path), logged.append)
    store.open(q, now=100)
    s = Q.QmgmtSession(q, POLICY, "alice@vm", True, write=True, commit=None)

    async def commit(txn, submitted):
        store.append(q.log_text(txn))
        q.apply(txn)

    s._commit = commit
    submit(s, 2)
    store.close()
    good = path.read_bytes()
    path.write_bytes(good + b"105 \n103 0.0 NextClusterNum 9\n101 9.0 Job Mach")
    q2 = JobQueue("vm", "vm")
    store2 = QueueStore(str(path), logged.append)
    store2.open(q2)
    assert sorted(q2.jobs) == [(1, 0), (1, 1)] and q2.next_cluster == 2
    assert any("has the following issues: Detected unterminated log entry" in m for m in logged)
    assert any(m.startswith("About to rotate ClassAd log") for m in logged)
    assert (tmp_path / "job_queue.log.1").read_bytes().startswith(good)
    assert path.read_bytes().startswith(b"107 2 CreationTimestamp 100\n")
    store2.close()
    q3 = JobQueue("vm", "vm")
    QueueStore(str(path), logged.append).open(q3)
    assert sorted(q3.jobs) == [(1, 0), (1, 1)] and q3.next_cluster == 2


def test_store_keeps_what_came_before_damage_inside_a_transaction(tmp_path):
    """The real schedd will not start on such a log; a simulated pool must, so the damaged
    file is kept aside and the queue starts from the transactions before it."""
    path = tmp_path / "job_queue.log"
    good = (FIXTURES / "job_queue.log.1").read_bytes().split(b"105 \n103 1.0 HoldReason")[0]
    path.write_bytes(good + b"105 \n103 1.0\n106 \n")
    logged: list[str] = []
    q = JobQueue("vm", "vm")
    QueueStore(str(path), logged.append).open(q)
    assert sorted(q.jobs) == [(1, 0), (1, 1), (1, 2)] and q.status(1, 0) == IDLE
    assert (tmp_path / "job_queue.log.corrupt").read_bytes().endswith(b"103 1.0\n106 \n")
    assert any("occurred inside closed transaction, recovery failed" in m for m in logged)
    assert any(m.startswith(f"Log {path} is corrupt and needs to be cleaned") for m in logged)
    assert L.replay(path.read_bytes()).torn is False


def test_protected_attributes_only_for_queue_super_users():
    pol = rules.QueuePolicy(**{**POLICY.__dict__, "protected": frozenset({"Secret"})})
    q = JobQueue("vm", "vm")
    submit(Q.QmgmtSession(q, pol, "alice@vm", True, write=True, commit=Committer(q)), 1)
    for user, ok in (("alice@vm", False), ("condor@vm", True)):
        s = Q.QmgmtSession(q, pol, user, True, write=True, commit=Committer(q))
        setattr2(s, 1, 0, "1", "Secret")
        r = call(s, Q.CommitTransactionNoFlags)[0]
        assert (r.get_int() == 0) == ok
        if not ok:
            assert r.get_int() == errno.EACCES
            assert reply_ad(r)["ErrorReason"].startswith("Unauthorized setting of protected attribute Secret")


def test_a_fresh_log_starts_as_the_real_one():
    q = JobQueue("vm", "vm")
    assert q.header_lines(7) == ('107 1 CreationTimestamp 7\n101 0.0 Job Machine\n'
                                 '105 \n103 0.0 UidDomain "vm"\n106 \n')


@pytest.mark.parametrize("sizes", [[1], [4091], [4092], [3000, 3000, 3000], [10, 50_000, 7]])
def test_a_streamed_reply_is_the_same_message(sizes):
    """A history reply goes out packet by packet as it is built: it must be exactly the
    message that one send of the whole would have been, encrypted or not."""
    import os
    from condor_sim.cedar.framing import Framer
    from condor_sim.connection import Channel
    from support.memory import _Writer
    for key in (None, os.urandom(32)):
        pieces = [bytes([65 + i % 26]) * n for i, n in enumerate(sizes)]
        w = _Writer()

        async def send() -> None:
            chan = Channel(asyncio.StreamReader(), w)
            if key:
                chan.enable_crypto(key)
            await chan.send_stream(iter(pieces))

        asyncio.run(send())
        peer = Framer()
        if key:
            peer.enable_crypto(key)
        peer.feed(bytes(w.data))
        assert peer.next_message() == b"".join(pieces)
        assert peer.next_message() is None


def test_job_limits_refuse_new_procs_as_the_real_schedd():
    q = JobQueue("vm", "vm")
    pol = rules.QueuePolicy(**{**POLICY.__dict__, "max_jobs_per_submission": 3, "max_jobs_per_owner": 5})
    logged: list[str] = []
    s = Q.QmgmtSession(q, pol, "alice@vm", True, write=True, commit=Committer(q), log=logged.append)
    c = call(s, Q.NewCluster)[0].get_int()
    assert [call(s, Q.NewProc, c)[0].get_int() for _ in range(4)] == [0, 1, 2, Q.NEWJOB_ERR_MAX_JOBS_PER_SUBMISSION]
    assert "MAX_JOBS_PER_SUBMISSION exceeded" in logged[-1]
    setattr2(s, c, -1, "undefined", "Owner")
    assert call(s, Q.CommitTransactionNoFlags)[0].get_int() == 0
    c = call(s, Q.NewCluster)[0].get_int()
    assert [call(s, Q.NewProc, c)[0].get_int() for _ in range(3)] == [0, 1, Q.NEWJOB_ERR_MAX_JOBS_PER_OWNER]


def test_set_by_constraint_only_my_jobs_query_only_and_refusals():
    q = JobQueue("vm", "vm")
    submit(session(q), 2)                                       # alice's cluster 1
    submit(session(q, user="bob@vm"), 1)                        # bob's cluster 2
    bob = session(q, user="bob@vm")
    # OnlyMyJobs: bob's one job matches, alice's are left out (no refusal)
    r = call(bob, Q.SetAttributeByConstraint2, "true", "5", "Prio", flag=Q.NO_ACK | Q.ONLY_MY_JOBS)[0]
    assert r.get_int() == 1
    assert call(bob, Q.CommitTransactionNoFlags)[0].get_int() == 0
    assert q.job(2, 0)["Prio"] == "5" and "Prio" not in q.job(1, 0)
    # without it, a job bob may not change makes the whole request fail
    r = call(bob, Q.SetAttributeByConstraint2, "true", "6", "Prio", flag=Q.NO_ACK)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EACCES)
    bob.abort()
    # QueryOnly: the count, and nothing changed
    alice = session(q)
    r = call(alice, Q.SetAttributeByConstraint2, "ClusterId == 1", "7", "Prio", flag=Q.NO_ACK | Q.QUERY_ONLY)[0]
    assert r.get_int() == 2
    assert call(alice, Q.CommitTransactionNoFlags)[0].get_int() == 0
    assert "Prio" not in q.job(1, 0) and "Prio" not in q.job(1, 1)
    # unauthenticated: refused outright
    anon = session(q, user="unauthenticated@unmapped", authenticated=False)
    r = call(anon, Q.SetAttributeByConstraint2, "true", "1", "Prio", flag=Q.NO_ACK)[0]
    assert (r.get_int(), r.get_int()) == (-1, errno.EACCES)
