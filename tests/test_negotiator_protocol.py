"""NEGOTIATE between the negotiator and a schedd, in-process against a small fake schedd
that speaks the schedd's side; then a whole cycle, with the real cycle's log lines."""
from __future__ import annotations

import asyncio
from pathlib import Path

import classad2

from condor_sim.cedar.classad_wire import get_ad, put_ad
from condor_sim.cedar.commands import Cmd
from condor_sim.config import ConfigSnapshot
from condor_sim.daemons.negotiator import daemon as D
from condor_sim.daemons.negotiator.matchmaker import Matchmaker, candidate_slots
from condor_sim.security.client import _Conn
from support.memory import OPEN_POLICY, MemoryLog

FIX = Path(__file__).resolve().parent.parent / "fixtures"
ADS = {"collector-ad.Machine.txt": FIX / "startd" / "pslot-idle.ad",
       "collector-ad.Submitter.txt": FIX / "negotiator" / "collector-ad.Submitter.txt",
       "condor_q-long-after-submit.txt": FIX / "job_queue" / "condor_q-long-after-submit.txt"}


def read_ads(name: str) -> list[classad2.ClassAd]:
    text = ADS[name].read_text()
    return [classad2.parseOne(c, parser=classad2.ParserType.Old) for c in text.split("\n\n") if c.strip()]


def real_jobs() -> list[classad2.ClassAd]:
    jobs = read_ads("condor_q-long-after-submit.txt")
    jobs[1]["Requirements"] = classad2.ExprTree("TARGET.Memory > 1000000")     # never matches
    return jobs


class FakeSchedd:
    """The schedd's side: the submitter ad, then JOB_INFO per SEND_JOB_INFO until its jobs
    run out; it keeps what the negotiator said."""

    def __init__(self, jobs):
        self.jobs = list(jobs)
        self.greeting = None
        self.answers: list[tuple] = []
        self.ended = False
        self.done = asyncio.Event()

    async def serve(self, reader, writer) -> None:
        conn = _Conn(reader, writer)
        self.greeting = get_ad(await conn.read())
        pending = list(self.jobs)
        try:
            while True:
                r = await conn.read()
                op = r.get_int()
                if op == Cmd.END_NEGOTIATE:
                    self.ended = True
                    return
                assert op == Cmd.SEND_JOB_INFO
                if not pending:
                    await conn.send(conn.message().put_int(Cmd.NO_MORE_JOBS).getvalue())
                    continue
                job = pending.pop(0)
                w = conn.message().put_int(Cmd.JOB_INFO)
                put_ad(w, job)
                await conn.send(w.getvalue())
                a = await conn.read()
                verdict = a.get_int()
                if verdict == Cmd.PERMISSION_AND_AD:
                    self.answers.append((verdict, a.get_str(), get_ad(a)))
                else:
                    self.answers.append((verdict, a.get_str()))
        finally:
            writer.close()
            self.done.set()


async def serving(fake: FakeSchedd):
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"<127.0.0.1:{port}?addrs=127.0.0.1-{port}>"


def slots():
    machine = read_ads("collector-ad.Machine.txt")
    private = [classad2.ClassAd({"Name": "slot1@vm", "Capability": "<127.0.0.1:29706>#1#1#secret"})]
    return machine, private


def test_a_match_and_a_rejection_then_the_end():
    async def go():
        fake = FakeSchedd(real_jobs())
        server, addr = await serving(fake)
        reader, writer = await asyncio.open_connection("127.0.0.1", int(addr.split(":")[1].split("?")[0]))
        mm = Matchmaker(candidate_slots(*slots()))
        lines = []
        result = await D.negotiate_with_schedd(_Conn(reader, writer), "htcpool@vm", addr, "vm", mm,
                                               lambda t, c: lines.append((c, t)))
        await asyncio.wait_for(fake.done.wait(), 10)
        writer.close()
        server.close()
        return fake, result, lines

    fake, result, lines = asyncio.run(go())
    assert dict(fake.greeting) == {"Owner": "htcpool@vm", "SubmitterTag": "", "NegotiatorName": "vm"}
    (ok, claim, ad), rejected, third = fake.answers
    assert ok == Cmd.PERMISSION_AND_AD and claim == "<127.0.0.1:29706>#1#1#secret"
    assert ad["Name"] == "slot1@vm" and ad["Cpus"] == 2 and "Capability" not in ad
    assert rejected == (Cmd.REJECTED_WITH_REASON, "no match found")
    assert third[0] == Cmd.PERMISSION_AND_AD and third[2]["Cpus"] == 1        # what was left
    assert fake.ended and (result.matches, result.rejections, result.considered) == (2, 1, 3)
    texts = [t for _, t in lines]
    assert texts[:3] == [
        "    Request 00001.00000: autocluster -1 (request count 1 of 1)",
        f"      Matched 1.0 htcpool@vm {fake_addr(lines)} preempting none "
        "<127.0.0.1:29706?addrs=127.0.0.1-29706&alias=vm> slot1@vm",
        "      Successfully matched with slot1@vm"]
    assert ("D_MATCH", f"      Rejected 1.1 htcpool@vm {fake_addr(lines)}: no match found") in lines


def fake_addr(lines) -> str:
    matched = next(t for _, t in lines if "Matched" in t)
    return matched.split()[3]


def test_the_submitter_limit_ends_the_conversation():
    async def go():
        fake = FakeSchedd(real_jobs())
        server, addr = await serving(fake)
        reader, writer = await asyncio.open_connection("127.0.0.1", int(addr.split(":")[1].split("?")[0]))
        mm = Matchmaker(candidate_slots(*slots()))
        result = await D.negotiate_with_schedd(_Conn(reader, writer), "htcpool@vm", addr, "vm", mm,
                                               lambda t, c: None, limit=1.0)
        await asyncio.wait_for(fake.done.wait(), 10)
        writer.close()
        server.close()
        return fake, result

    fake, result = asyncio.run(go())
    assert result.matches == 1 and len(fake.answers) == 1 and fake.ended


def real_cycle_lines() -> list[str]:
    """The real NegotiatorLog's cycle with a match (22:39:37), without time stamps and the
    prefetch round (this negotiator asks each schedd once)."""
    text = (FIX / "real-logs" / "main25" / "NegotiatorLog").read_text().splitlines()
    start = text.index("11/23/26 22:39:37 ---------- Started Negotiation Cycle ----------")
    out = []
    for line in text[start:]:
        body = line[18:]
        out.append(body)
        if "Finished Negotiation Cycle" in body:
            return out
    raise AssertionError("no cycle")


def test_a_cycle_logs_what_the_real_one_logs(tmp_path, monkeypatch):
    async def go():
        jobs = read_ads("condor_q-long-after-submit.txt")[:1]
        jobs[0]["ClusterId"], jobs[0]["AutoClusterId"] = 2, 1
        fake = FakeSchedd(jobs)
        server, addr = await serving(fake)
        n = D.Negotiator(ConfigSnapshot("NEGOTIATOR", {**OPEN_POLICY, "SPOOL": str(tmp_path),
                                                       "LOG": str(tmp_path), "FULL_HOSTNAME": "vm"}),
                         MemoryLog())
        n.open_accountant()
        machine, private = slots()
        (submitter,) = read_ads("collector-ad.Submitter.txt")
        submitter["IdleJobs"], submitter["ScheddIpAddr"] = 1, addr

        async def query(cmd, target, ad_type):
            return {"StartdPrivate": private, "Startd": machine, "Submitter": [submitter]}[ad_type]

        async def raw_open(sinful, cmd, subsystem="DAEMON"):
            assert cmd == Cmd.NEGOTIATE and sinful == addr
            return _Conn(*await asyncio.open_connection("127.0.0.1", int(addr.split(":")[1].split("?")[0])))

        async def no_advertise():
            pass

        monkeypatch.setattr(n, "query", query)
        monkeypatch.setattr(n, "advertise", no_advertise)
        monkeypatch.setattr(D.security_client, "open_command", raw_open)
        await n.negotiation_cycle()
        await asyncio.wait_for(fake.done.wait(), 10)
        server.close()
        return n, fake, addr

    n, fake, addr = asyncio.run(go())
    want = [line.replace("<127.0.0.1:29745?addrs=127.0.0.1-29745&alias=vm>", addr)
            for line in real_cycle_lines() if "prefetch" not in line.lower() and "NO_MORE_JOBS" not in line]
    got = [m for _, m in n.log.lines if "prefetch" not in m.lower()]
    assert got == want
    assert (tmp_path / "MatchLog").read_text().endswith(
        f"      Matched 2.0 htcpool@vm {addr} preempting none "
        "<127.0.0.1:29706?addrs=127.0.0.1-29706&alias=vm> slot1@vm\n")
    assert fake.answers[0][0] == Cmd.PERMISSION_AND_AD
    assert n.accountant.get("htcpool@vm", "ResourcesUsed") == 1
    assert n.cycle_stats["matches"] == 1
    ad = n.ad()
    assert ad["LastNegotiationCycleMatches0"] == 1 and ad["LastNegotiationCycleNumSchedulers0"] == 1
    assert "Customer.htcpool@vm ResourcesUsed 1" in (tmp_path / "Accountantnew.log").read_text()
