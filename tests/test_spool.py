"""Spooling: the FileTransfer protocol (unit tests of :mod:`condor_sim.spool.wire`), the
spool directory and ad rewrite, and end to end through the real client: a job submitted
with ``spool=True`` is held for its input, ``spool()`` sends the files and releases it,
it runs on its spooled input, ``retrieve()`` brings its output back; ``condor_submit
-spool`` does the same; a hostile peer is refused and the schedd lives."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from condor_sim.cedar.stream import MessageReader, MessageWriter
from condor_sim.cedar.classad_wire import get_ad, put_lines
from condor_sim.jobqueue.queue import quote
from condor_sim.spool import layout, wire

from support.pools import FIVE_DAEMONS, client, daemon_pids, log, running_pool, wait_log


# ---------------------------------------------------------------------------- codec
class MemSink:
    def __init__(self):
        self.files: dict[str, bytearray] = {}
        self.modes: dict[str, int] = {}
        self.dirs: list[str] = []
        self.current = None

    def mkdir(self, name, mode):
        self.dirs.append(name)

    def open(self, name, mode):
        self.current = self.files.setdefault(name, bytearray())
        self.modes[name] = mode

    def write(self, data):
        self.current += data

    def close(self):
        self.current = None


class MemSource:
    def __init__(self, files: dict[str, bytes]):
        self.data = files

    def chunks(self, name, size, chunk):
        b = self.data[name]
        for i in range(0, len(b), chunk):
            yield b[i:i + chunk]


def pair(sender, receiver, encrypted: bool):
    """Run an uploader against a downloader in memory; both outcomes and the wire items."""
    to_recv: list = []          # messages/raw bytes from the sender
    to_send: list = []          # messages from the receiver
    wire_log: list = []
    out = {}
    gens = {"s": sender, "r": receiver}
    pending = {"s": None, "r": None}
    values = {"s": None, "r": None}
    inbox = {"s": to_send, "r": to_recv}
    outbox = {"s": to_recv, "r": to_send}
    for _ in range(100000):
        progressed = False
        for side in ("s", "r"):
            if side in out:
                continue
            op = pending[side]
            if op is None:
                try:
                    op = gens[side].send(values[side])
                except StopIteration as stop:
                    out[side] = stop.value
                    progressed = True
                    continue
                values[side] = None
            if isinstance(op, (wire.Send, wire.SendRaw)):
                item = op.payload if isinstance(op, wire.Send) else ("raw", op.data)
                wire_log.append((side, item))
                outbox[side].append(item)
                pending[side] = None
                progressed = True
            elif op is wire.RECV:
                q = inbox[side]
                if q and not isinstance(q[0], tuple):
                    values[side] = MessageReader(q.pop(0), encrypted)
                    pending[side] = None
                    progressed = True
                else:
                    pending[side] = op
            elif isinstance(op, wire.RecvRaw):
                q = inbox[side]
                if q and isinstance(q[0], tuple):
                    data = q[0][1]
                    take, rest = data[:op.n], data[op.n:]
                    if rest:
                        q[0] = ("raw", rest)
                    else:
                        q.pop(0)
                    values[side] = take
                    pending[side] = None
                    progressed = True
                else:
                    pending[side] = op
        if len(out) == 2:
            return out["s"], out["r"], wire_log
        assert progressed, f"deadlock: {pending}"
    raise AssertionError("no end")


@pytest.mark.parametrize("encrypted", [False, True])
def test_codec_round_trip(encrypted):
    files = {"in.txt": b"hello\n", "empty": b"", "big.bin": os.urandom(300_000)}
    items = [wire.Item("sub", 0o755, is_dir=True)] + \
        [wire.Item(n, 0o640, len(b)) for n, b in files.items()]
    sink = MemSink()
    up, down, log_ = pair(wire.upload(MemSource(files), items, encrypted=encrypted, final=False),
                          wire.download(sink, encrypted=encrypted), encrypted)
    assert up.ok and down.ok, (up, down)
    assert {k: bytes(v) for k, v in sink.files.items()} == files
    assert sink.dirs == ["sub"]
    assert sink.modes["in.txt"] == 0o640
    assert down.files == list(files) and down.bytes == sum(map(len, files.values()))
    assert down.final is False
    # the first message: not final, the sandbox size; the file bytes raw in clear, in
    # messages of at most 256 KiB under AES-GCM
    first = MessageReader(log_[0][1], encrypted)
    assert first.get_int() == 0 and get_ad(first)["SandboxSize"] == sum(map(len, files.values()))
    raw = [x for side, x in log_ if isinstance(x, tuple)]
    if encrypted:
        assert not raw
    else:
        assert sum(len(x[1]) for x in raw) == down.bytes


def _upload_messages(name: str, size: int, encrypted: bool = False) -> list:
    """What a peer would send, by hand: one file ``name`` announced as ``size`` bytes."""
    def m():
        return MessageWriter(encrypted)
    return [put_lines(m().put_int(0), ["SandboxSize = 1"]).getvalue(),
            m().put_int(wire.XFER_FILE).getvalue(), m().put_string(name).getvalue(),
            m().put_int(300).getvalue(),
            put_lines(m(), ["Result = 2"]).getvalue(),
            m().put_int(0o644).getvalue(), m().put_int(size).getvalue()]


def _feed(gen, messages: list, raw: bytes = b""):
    value = None
    sent = []
    while True:
        op = gen.send(value)
        value = None
        if op is wire.RECV:
            value = MessageReader(messages.pop(0))
        elif isinstance(op, wire.RecvRaw):
            value, raw = raw[:op.n], raw[op.n:]
        else:
            sent.append(op)


@pytest.mark.parametrize("name", ["../escape", "a/../../b", "/etc/passwd", "", "..", "C:evil"])
def test_codec_refuses_names(name):
    assert wire.bad_name(name) is not None
    sink = MemSink()
    gen = wire.download(sink, encrypted=False)
    msgs = _upload_messages(name, 3) + [MessageWriter().put_int(0).getvalue(),
                                         put_lines(MessageWriter(), ["Result = 0"]).getvalue()]
    with pytest.raises(StopIteration) as stop:
        _feed(gen, msgs, b"abc")
    out = stop.value.value
    assert not out.ok and out.refused and "illegal sandbox path" in out.error
    assert sink.files == {}


def test_codec_accepts_plain_names():
    for name in ("a", "dir/b", "./c", "name with spaces", "a..b"):
        assert wire.bad_name(name) is None
    assert wire.bad_name("x\0y") == "NUL in name"
    assert wire.bad_name("a" * 300) == "path component too long"


def test_codec_refuses_oversized_file():
    gen = wire.download(MemSink(), encrypted=False, limits=wire.Limits(max_file_bytes=100))
    with pytest.raises(wire.Refused):
        _feed(gen, _upload_messages("f", 101))
    gen = wire.download(MemSink(), encrypted=False)
    with pytest.raises(wire.Refused):
        _feed(gen, _upload_messages("f", -5))


def test_layout_rewrite():
    ad = {"Iwd": quote("/home/u/run"), "Cmd": quote("/home/u/run/job.sh"),
          "TransferInput": quote("/data/in.txt,rel/x.txt"), "UserLog": quote("/home/u/run/j.log"),
          "TransferOutputRemaps": quote("_condor_stdout=/home/u/run/out.txt"),
          "JobStatus": "5", "HoldReasonCode": "16"}
    d = layout.job_spool_dir("/sp", 12345, 3)
    assert d == "/sp/2345/3/cluster12345.proc3.subproc0"
    new = layout.rewrite(ad.get, d)
    assert layout.spooling(ad.get)
    assert new["SUBMIT_Iwd"] == quote("/home/u/run") and new["Iwd"] == quote(d)
    assert new["Cmd"] == quote("job.sh") and new["SUBMIT_Cmd"] == ad["Cmd"]
    assert new["TransferInput"] == quote("in.txt,x.txt")
    assert new["UserLog"] == quote("j.log")
    assert new["TransferOutputRemaps"] == "undefined"
    assert new["SUBMIT_TransferOutputRemaps"] == quote("_condor_stdout=/home/u/run/out.txt")
    assert layout.rewrite({**ad, "SUBMIT_Iwd": quote("/x")}.get, d) == {}


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    base = tmp_path_factory.mktemp("spool")
    with running_pool(base / "pool", DAEMON_LIST=FIVE_DAEMONS, NUM_CPUS="2", MEMORY="2048") as p:
        yield p


SPOOL_RUN = """
import htcondor2 as htcondor, time, os
schedd = htcondor.Schedd()
def main():
    os.chdir({work!r})
    sub = htcondor.Submit({desc!r})
    r = schedd.submit(sub, spool=True)
    c = r.cluster()
    before = dict(schedd.query(f"ClusterId == {{c}}", ["JobStatus", "HoldReasonCode", "HoldReason",
                                                      "Iwd", "SUBMIT_Iwd"])[0])
    schedd.spool(r)
    deadline = time.time() + 60
    while time.time() < deadline:
        ads = schedd.query(f"ClusterId == {{c}}", ["JobStatus"])
        if ads and ads[0]["JobStatus"] == 4:
            break
        time.sleep(0.1)
    after = dict(schedd.query(f"ClusterId == {{c}}")[0])
    schedd.retrieve(f"{{c}}.0")
    # LeaveJobInQueue turns false once the output is retrieved: the job leaves the queue
    deadline = time.time() + 30
    while time.time() < deadline and schedd.query(f"ClusterId == {{c}}", ["JobStatus"]):
        time.sleep(0.1)
    left = not schedd.query(f"ClusterId == {{c}}", ["JobStatus"])
    history = [dict(a) for a in schedd.history(f"ClusterId == {{c}}", ["JobStatus", "StageOutFinish"], 1)]
    return {{"cluster": c, "before": before, "after": after, "left": left, "history": history}}
"""


@pytest.fixture(scope="module")
def plain_pool(tmp_path_factory):
    """A pool with no encryption (its jobs stay idle: only its schedd is needed here)."""
    base = tmp_path_factory.mktemp("spoolplain")
    with running_pool(base / "pool", security="plaintext") as p:
        yield p


def test_spool_run_retrieve(pool, tmp_path):
    """Under AES-GCM (the secure posture): each file buffer is a message."""
    spool_run_retrieve(pool, tmp_path)


SPOOL_ONLY = """
import htcondor2 as htcondor, os
schedd = htcondor.Schedd()
def main():
    os.chdir({work!r})
    r = schedd.submit(htcondor.Submit({desc!r}), spool=True)
    schedd.spool(r)
    return r.cluster()
"""

RETRIEVE = """
import htcondor2 as htcondor
schedd = htcondor.Schedd()
schedd.retrieve("{job}")
return [dict(a) for a in schedd.query("ClusterId == {cluster}", ["JobStatus", "StageInFinish"])]
"""


def test_spool_and_retrieve_in_clear(plain_pool, tmp_path):
    """With no encryption the file bytes go raw on the socket, outside the packets, both
    ways: spool() puts the input in the spool directory and releases the job; a file that
    appears there later comes back with retrieve()."""
    work = tmp_path / "clear"
    work.mkdir()
    blob = os.urandom(300_000)
    (work / "blob.bin").write_bytes(blob)
    (work / "empty.txt").write_bytes(b"")
    desc = {"executable": "/bin/cat", "transfer_executable": "false", "arguments": "blob.bin",
            "transfer_input_files": "blob.bin,empty.txt", "output": "out.txt",
            "should_transfer_files": "YES"}
    cluster = client(plain_pool, SPOOL_ONLY.format(work=str(work), desc=desc) + "\nreturn main()\n")
    spool_dir = Path(layout.job_spool_dir(str(plain_pool.directory / "spool"), cluster, 0))
    assert (spool_dir / "blob.bin").read_bytes() == blob
    assert (spool_dir / "empty.txt").read_bytes() == b""
    (spool_dir / "out.txt").write_bytes(blob[:1000])       # as if the job had run
    (spool_dir / "made.txt").write_text("new\n")
    ads = client(plain_pool, RETRIEVE.format(job=f"{cluster}.0", cluster=cluster))
    assert [a["JobStatus"] for a in ads] == [1]               # released from the spooling hold
    assert (work / "out.txt").read_bytes() == blob[:1000]
    assert (work / "made.txt").read_text() == "new\n"
    assert (work / "blob.bin").read_bytes() == blob           # input not sent back
    wait_log(plain_pool, rf"Job {cluster}\.0 released from hold: Data files spooled", "SchedLog")
    # a job that leaves the queue takes its spool directory along
    client(plain_pool, f"import htcondor2\nhtcondor2.Schedd().act(htcondor2.JobAction.Remove, "
                       f"'ClusterId == {cluster}')\nreturn 1\n")
    deadline = time.monotonic() + 10
    while spool_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool_dir.exists() and not spool_dir.parent.exists()


def spool_run_retrieve(pool, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "job.sh").write_text("#!/bin/sh\necho \"read: $(cat in.txt)\"\ncp blob.bin made.bin\n"
                                 "echo made > made.txt\n")
    (work / "job.sh").chmod(0o755)
    (work / "in.txt").write_text("spooled input 42")
    (work / "blob.bin").write_bytes(os.urandom(700_000))     # several buffers
    desc = {"executable": "job.sh", "transfer_input_files": "in.txt,blob.bin", "output": "out.txt",
            "error": "err.txt", "should_transfer_files": "YES", "when_to_transfer_output": "ON_EXIT"}
    r = client(pool, SPOOL_RUN.format(work=str(work), desc=desc) + "\nreturn main()\n", timeout=120)
    before, after = r["before"], r["after"]
    assert before["JobStatus"] == 5 and before["HoldReasonCode"] == 16
    assert before["HoldReason"] == "Spooling input data files"
    assert before["SUBMIT_Iwd"] == str(work)
    spool_dir = layout.job_spool_dir(str(pool.directory / "spool"), r["cluster"], 0)
    assert before["Iwd"] == spool_dir
    assert after["JobStatus"] == 4, after
    assert "StageOutFinish" in str(after["LeaveJobInQueue"])      # condor_submit's spool expression
    assert r["left"] and r["history"][0]["JobStatus"] == 4 and r["history"][0]["StageOutFinish"] > 0
    assert after["StageInStart"] <= after["StageInFinish"] + 1
    assert after["LastHoldReasonCode"] == 16
    assert (work / "out.txt").read_text() == "read: spooled input 42\n"
    assert (work / "made.txt").read_text() == "made\n"
    assert (work / "made.bin").read_bytes() == (work / "blob.bin").read_bytes()
    # the job has left the queue, and its spool directory with it
    assert not os.path.exists(spool_dir)


# ---------------------------------------------------------------------------- hostile peer
HOSTILE = """
import htcondor2 as htcondor, os
schedd = htcondor.Schedd()
def main():
    os.chdir({work!r})
    r = schedd.submit(htcondor.Submit({desc!r}), spool=True)
    return r.cluster()
"""


async def _hostile_spool(sinful: str, cluster: int, name: str, size: int, data: bytes):
    """Start SPOOL_JOB_FILES_WITH_PERMS as the job's owner and send one file ``name``
    announced as ``size`` bytes; what the schedd answered (None if it hung up)."""
    from condor_sim.cedar.commands import Cmd
    from condor_sim.security import client as sc
    conn = await sc.open_command(sinful, Cmd.SPOOL_JOB_FILES_WITH_PERMS, subsystem="TOOL")
    enc = conn.framer.encrypted
    try:
        await conn.send(conn.message().put_string("$CondorVersion: 25.14.1 $").put_int(1).getvalue())
        await conn.send(conn.message().put_int(cluster).put_int(0).getvalue())
        await conn.send(put_lines(conn.message().put_int(0), ["SandboxSize = 3"]).getvalue())
        await conn.send(conn.message().put_int(wire.XFER_FILE).getvalue())
        await conn.send(conn.message().put_string(name).getvalue())
        await conn.send(conn.message().put_int(300).getvalue())
        go = get_ad(await conn.read())
        assert go["Result"] == wire.GO_AHEAD_ALWAYS
        assert (await conn.read()).get_int() == 300
        await conn.send(put_lines(conn.message(), ["Result = 2"]).getvalue())
        await conn.send(conn.message().put_int(0o644).getvalue())
        w = conn.message().put_int(size)
        if enc:
            w.put_int(wire.AES_FILE_BUF_SZ)
        await conn.send(w.getvalue())
        if enc:
            await conn.send(data)
        else:
            conn.writer.write(data)
        await conn.send(conn.message().put_int(0).getvalue())
        await conn.send(put_lines(conn.message(), wire.ack_lines(True)).getvalue())
        return dict(get_ad(await conn.read()))
    except (sc.ClientRefused, ConnectionError):
        return None
    finally:
        conn.close()


def test_hostile_spool_peer(pool, tmp_path):
    import asyncio
    work = tmp_path / "hostile"
    work.mkdir()
    (work / "in.txt").write_text("x")
    desc = {"executable": "/bin/true", "transfer_executable": "false",
            "transfer_input_files": "in.txt", "should_transfer_files": "YES"}
    cluster = client(pool, HOSTILE.format(work=str(work), desc=desc) + "\nreturn main()\n")
    pid = daemon_pids(pool)["SCHEDD"]
    sinful = (pool.directory / "spool" / ".schedd_address").read_text().splitlines()[0]
    start = len(log(pool, "SchedLog"))
    ack = asyncio.run(_hostile_spool(sinful, cluster, "../escape", 3, b"abc"))
    assert ack is not None and ack["Result"] == -1 and "illegal sandbox path" in ack["HoldReason"]
    wait_log(pool, r"DoDownload: attempt to write to illegal sandbox path by our peer .*'\.\./escape'",
             "SchedLog", start=start)
    spool_dir = layout.job_spool_dir(str(pool.directory / "spool"), cluster, 0)
    assert not os.path.exists(os.path.join(os.path.dirname(spool_dir), "escape"))
    ack = asyncio.run(_hostile_spool(sinful, cluster, "big", 1 << 40, b""))
    assert ack is None
    wait_log(pool, r"DoDownload: refusing the transfer of job .*file size 1099511627776 out of bounds",
             "SchedLog", start=start)
    # the job is still waiting for its files, and the schedd still serves
    ads = client(pool, f"import htcondor2\nreturn [dict(a) for a in htcondor2.Schedd().query("
                       f"'ClusterId == {cluster}', ['JobStatus', 'HoldReasonCode'])]\n")
    assert [(a["JobStatus"], a["HoldReasonCode"]) for a in ads] == [(5, 16)]
    assert daemon_pids(pool)["SCHEDD"] == pid


# ---------------------------------------------------------------------------- condor_submit -spool
WAIT_AND_RETRIEVE = """
import htcondor2 as htcondor, time
schedd = htcondor.Schedd()
deadline = time.time() + 60
while time.time() < deadline:
    ads = schedd.query("ClusterId == {cluster}", ["JobStatus"])
    if ads and all(a["JobStatus"] == 4 for a in ads):
        break
    time.sleep(0.1)
schedd.retrieve("ClusterId == {cluster}")
return [dict(a) for a in schedd.query("ClusterId == {cluster}", ["ProcId", "JobStatus", "SUBMIT_Iwd",
                                                                  "StageOutStart", "StageOutFinish"])]
"""


def test_condor_submit_spool(pool, tmp_path):
    work = tmp_path / "cli"
    work.mkdir()
    (work / "words.txt").write_text("alpha beta\n")
    (work / "count.sh").write_text("#!/bin/sh\nwc -w < words.txt | tr -d ' ' > \"count.$1\"\n")
    (work / "count.sh").chmod(0o755)
    (work / "job.sub").write_text("executable = count.sh\narguments = $(Process)\n"
                                  "transfer_input_files = words.txt\noutput = out.$(Process)\n"
                                  "should_transfer_files = YES\nqueue 2\n")
    env = dict(pool.env)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-m", "condor_sim.tools.condor_submit", "-spool", "job.sub"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=60)
    m = re.fullmatch(r"Submitting job\(s\)\.\.\n2 job\(s\) submitted to cluster (\d+)\.\n", p.stdout)
    assert m and p.returncode == 0, (p.stdout, p.stderr)
    cluster = int(m.group(1))
    assert p.stderr == f"To monitor your job(s), run: condor_watch_q -clusters {cluster}\n"
    ads = client(pool, WAIT_AND_RETRIEVE.format(cluster=cluster), timeout=120)
    assert [(a["ProcId"], a["JobStatus"], a["SUBMIT_Iwd"]) for a in ads] == \
        [(0, 4, str(work)), (1, 4, str(work))]
    assert all(a["StageOutFinish"] >= a["StageOutStart"] for a in ads)
    assert (work / "count.0").read_text() == "2\n" and (work / "count.1").read_text() == "2\n"
    assert (work / "out.0").read_text() == "" and (work / "out.1").read_text() == ""
