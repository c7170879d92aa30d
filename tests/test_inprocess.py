"""Daemons built without a process: a fixed config, a log in memory, connections fed
with bytes.  The same handlers the end-to-end tests reach through the real client."""
from __future__ import annotations

import asyncio
import struct

import classad2

from condor_sim.cedar.classad_wire import get_ad, put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.collector import Collector
from condor_sim.daemons.schedd import Schedd
from condor_sim.daemons.negotiator.daemon import Negotiator
from condor_sim.daemons.startd import Startd
from support.memory import OPEN_POLICY, MemoryLog, converse, messages, replies


def build(cls, **extra):
    return cls(ConfigSnapshot(cls.SUBSYS, {**OPEN_POLICY, **extra}), MemoryLog())


def raw(cmd: int, ad: dict | None = None) -> bytes:
    w = MessageWriter().put_int(cmd)
    if ad is not None:
        put_ad(w, ad)
    return w.getvalue()


def query_replies(data: bytes) -> list:
    (msg,) = replies(data)
    r = MessageReader(msg)
    ads = []
    while r.get_int() == 1:
        ads.append(get_ad(r))
    return ads


def test_a_collector_stores_and_answers_without_a_process():
    async def go():
        c = build(Collector)
        update = raw(Cmd.UPDATE_AD_GENERIC, {"MyType": "Generic", "Name": "probe", "Answer": 42})
        assert await converse(c.core, messages(update)) == b""
        query = raw(Cmd.QUERY_GENERIC_ADS, {"MyType": "Query", "TargetType": "Generic",
                                            "Requirements": True})
        ads = query_replies(await converse(c.core, messages(query)))
        return c, ads

    c, ads = asyncio.run(go())
    assert [(a["Name"], a["Answer"]) for a in ads] == [("probe", 42)]
    assert "DaemonCore received UNAUTHENTICATED command 58 UPDATE_AD_GENERIC." in c.log.text()
    assert 'GenericAd: Inserting ** "< probe >"' in c.log.text()


def test_bad_bytes_close_the_connection_and_are_logged():
    async def go():
        c = build(Collector)
        out = await converse(c.core, struct.pack(">BI", 1, 0x80000000))
        return c, out

    c, out = asyncio.run(go())
    assert out == b""
    assert "closing connection from <127.0.0.1:40000>: bad packet length 2147483648" in c.log.text()


def test_a_schedd_answers_a_direct_query_of_its_own_ad():
    async def go():
        s = build(Schedd)
        query = raw(Cmd.QUERY_SCHEDD_ADS, {"MyType": "Query", "TargetType": "Scheduler",
                                           "Requirements": True})
        return query_replies(await converse(s.core, messages(query)))

    (ad,) = asyncio.run(go())
    assert ad["MyType"] == "Scheduler" and ad["TotalJobAds"] == 0


def test_a_schedd_without_a_process_holds_a_queue_and_answers_job_queries(tmp_path):
    """The queue's replay, and QUERY_JOB_ADS fed as bytes: each ad its own message, then
    the summary."""
    log = tmp_path / "job_queue.log"
    log.write_bytes(b"107 1 CreationTimestamp 5\n101 0.0 Job Machine\n"
                    b"105 \n103 0.0 NextClusterNum 8\n101 07.-1 Job Machine\n"
                    b'103 07.-1 ClusterId 7\n103 07.-1 Owner "alice"\n101 7.0 Job Machine\n'
                    b"103 7.0 ProcId 0\n103 7.0 JobStatus 5\n106 \n")

    async def go():
        s = build(Schedd, JOB_QUEUE_LOG=str(log), SPOOL=str(tmp_path))
        s.open_queue()
        query = raw(Cmd.QUERY_JOB_ADS, {"Requirements": True, "Projection": "ClusterId ProcId Owner",
                                        "SendServerTime": False})
        out = replies(await converse(s.core, messages(query)))
        s.store.close()
        return s, out

    s, out = asyncio.run(go())
    job, summary = (get_ad(MessageReader(m)) for m in out)
    assert dict(job) == {"ClusterId": 7, "ProcId": 0, "Owner": "alice"}
    assert summary["Owner"] == 0 and summary["Held"] == 1 and summary["AllusersJobs"] == 1
    assert s.queue.next_cluster == 8 and s.ad()["TotalHeldJobs"] == 1


def test_a_query_for_analysis_gets_the_autocluster_records_in_its_summary(tmp_path):
    """``ForAnalysis = true`` (what the real condor_q -better-analyze asks): the summary
    carries ``Analyze`` with one record per autocluster of the jobs returned; the in-memory
    AutoClusterId shows in the job ads and is what a constraint sees."""
    log = tmp_path / "job_queue.log"
    log.write_bytes(b"107 1 CreationTimestamp 5\n101 0.0 Job Machine\n"
                    b"105 \n103 0.0 NextClusterNum 8\n101 07.-1 Job Machine\n"
                    b'103 07.-1 ClusterId 7\n103 07.-1 Owner "alice"\n'
                    b"101 7.0 Job Machine\n103 7.0 ProcId 0\n103 7.0 JobStatus 2\n"
                    b"103 7.0 LastMatchTime 100\n"
                    b"101 7.1 Job Machine\n103 7.1 ProcId 1\n103 7.1 JobStatus 5\n106 \n")

    async def go():
        s = build(Schedd, JOB_QUEUE_LOG=str(log), SPOOL=str(tmp_path))
        s.open_queue()
        for jp in ((7, 0), (7, 1)):
            s.autocluster_of(jp)
        query = raw(Cmd.QUERY_JOB_ADS, {"Requirements": classad2.ExprTree("ProcId == 1 && AutoClusterId == 1"),
                                        "Projection": "ClusterId ProcId AutoClusterId",
                                        "ForAnalysis": True, "SendServerTime": False})
        out = replies(await converse(s.core, messages(query)))
        s.store.close()
        return out

    job, summary = (get_ad(MessageReader(m)) for m in asyncio.run(go()))
    assert dict(job) == {"ClusterId": 7, "ProcId": 1, "AutoClusterId": 1}
    record = summary["Analyze"]["ac1"]
    assert dict(record) == {"AutoClusterId": 1, "LastMatchTime": 100, "NumRunning": 1,
                            "NumIdle": 0, "NumJobs": 2}


def test_an_autocluster_id_is_kept_until_a_significant_attribute_changes(tmp_path):
    """Computed once per job; a committed change of one of the job's significant
    attributes (or of its cluster's) drops it, so the next negotiation computes it again;
    other changes keep it."""
    log = tmp_path / "job_queue.log"
    log.write_bytes(b"107 1 CreationTimestamp 5\n101 0.0 Job Machine\n"
                    b"105 \n103 0.0 NextClusterNum 8\n101 07.-1 Job Machine\n"
                    b'103 07.-1 ClusterId 7\n103 07.-1 Owner "alice"\n103 07.-1 RequestMemory 128\n'
                    b"101 7.0 Job Machine\n103 7.0 ProcId 0\n103 7.0 JobStatus 1\n"
                    b"101 7.1 Job Machine\n103 7.1 ProcId 1\n103 7.1 JobStatus 1\n106 \n")

    async def go():
        s = build(Schedd, JOB_QUEUE_LOG=str(log), SPOOL=str(tmp_path))
        s.open_queue()
        assert s.autocluster_of((7, 0)) == s.autocluster_of((7, 1)) == 1

        async def edit(key, name, value):
            txn = s.queue.begin()
            txn.set(key, name, value)
            await s.commit(txn)
        await edit("7.1", "JobPrio", "5")                    # not significant: kept
        assert set(s.in_memory) == {(7, 0), (7, 1)}
        await edit("7.1", "RequestMemory", "256")            # significant: 7.1 again
        assert set(s.in_memory) == {(7, 0)} and s.autocluster_of((7, 1)) == 2
        await edit("07.-1", "Requirements", "false")         # the cluster's: all of it
        assert s.in_memory == {}
        s.store.close()

    asyncio.run(go())


# ---------------------------------------------------------------------------- the tables
EXPECTED_TABLES = __import__("pathlib").Path(__file__).parent / "expected" / "command_tables.txt"


def master_commands():
    """The master's own families over DaemonCore's (the master itself needs a process)."""
    from condor_sim.command_table import CommandTable
    from condor_sim.daemons.master.admin import MasterAdmin
    from condor_sim.dc_commands import DaemonCoreCommands
    table = CommandTable()
    table.add_handlers(DaemonCoreCommands(None))
    table.add_handlers(MasterAdmin())
    return table


def command_tables() -> str:
    """daemon x command x permission, one line each, as the daemons register them."""
    lines = []
    tables = [(cls.SUBSYS, build(cls).core.commands) for cls in (Collector, Negotiator, Schedd, Startd)]
    tables.append(("MASTER", master_commands()))
    for subsys, table in tables:
        for num, name, perm, handler, flags in table.rows():
            lines.append(f"{subsys:<10} {num:>5} {name:<28} {perm:<18} {handler:<40} {flags}".rstrip())
    return "\n".join(lines) + "\n"


def test_the_command_tables():
    """Every registered command, its permission level and the one method that handles it.
    A change here is a change of what a daemon answers: read the diff."""
    assert command_tables() == EXPECTED_TABLES.read_text()
