"""The job history file against what HTCondor 25.14 wrote (fixtures/history/*.history are
the pools' ``$(SPOOL)/history`` files) and against the QUERY_SCHEDD_HISTORY replies captured
from the same pools (transcripts schedd-history*.v25.txt)."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from condor_sim.jobqueue import history as h

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "history"
POOLS = ("main25", "main24")


def real(pool: str) -> Path:
    return FIXTURES / f"{pool}.history"


def records(pool: str) -> list[h.Record]:
    return list(h.iter_newest_first([str(real(pool))]))


@pytest.mark.parametrize("pool", POOLS)
def test_real_file_rewritten_byte_for_byte(pool):
    recs = records(pool)
    assert len(recs) == 4
    text = "".join(h.format_record(r.ad(), r.offset, r.current_time) for r in reversed(recs))
    assert text.encode() == real(pool).read_bytes()


@pytest.mark.parametrize("pool", POOLS)
def test_append_computes_the_real_offsets(pool, tmp_path):
    """Offset = where the file's last line (the previous banner) starts."""
    path = tmp_path / "history"
    hf = h.HistoryFile(str(path))
    for r in reversed(records(pool)):
        hf.append([r.ad()], r.current_time)
    assert path.read_bytes() == real(pool).read_bytes()
    # in one batch too
    path.unlink()
    recs = list(reversed(records(pool)))
    assert len({r.current_time for r in recs[:3]}) == 1
    hf.append([r.ad() for r in recs[:3]], recs[0].current_time)
    hf.append([recs[3].ad()], recs[3].current_time)
    assert path.read_bytes() == real(pool).read_bytes()


def test_banner_fields_read_back():
    newest = records("main25")[0]
    assert (newest.offset, newest.cluster, newest.proc, newest.owner,
            newest.completion_date, newest.current_time) == (6884, 2, 0, "htcpool", 1795473578, 1795473578)
    assert records("main25")[-1].completion_date == -1      # removed, never completed


def test_record_order_private_attributes_and_missing_banner_fields():
    ad = {"Owner": '"u"', "ClaimId": '"secret"', "zz": "1", "Cmd": '"/bin/true"', "aB": "2",
          "_condor_privThing": "3", "JobStatus": "4"}
    text = h.format_record(ad, 0, 100)
    assert text.splitlines()[:-1] == ["aB = 2", "zz = 1", "Cmd = \"/bin/true\"", 'Owner = "u"',
                                      "JobStatus = 4"]
    assert text.splitlines()[-1] == ('*** Offset = 0 ClusterId = -1 ProcId = -1 Owner = "u" '
                                     'CompletionDate = -1 CurrentTime = 100')
    banner = h.format_banner({"ClusterId": "7", "ProcId": "3", "CompletionDate": "5"}, 12, 9)
    assert banner == '*** Offset = 12 ClusterId = 7 ProcId = 3 Owner = "?" CompletionDate = 5 CurrentTime = 9'
    no_env = h.format_ad({"Env": '""', "Environment": '""', "A": "1"}, include_env=False)
    assert no_env == "A = 1\n"


def test_small_file_reports_offset_minus_one(tmp_path):
    """findHistoryOffset's 200-byte read fails on a shorter file."""
    path = tmp_path / "history"
    hf = h.HistoryFile(str(path))
    hf.append([{"ClusterId": "1", "ProcId": "0"}, {"ClusterId": "1", "ProcId": "1"}], 5)
    assert [r.offset for r in h.iter_newest_first([str(path)])] == [-1, 0]


def _ads(n, start=1):
    return [{"ClusterId": str(c), "ProcId": "0", "Owner": '"u"', "Pad": '"' + "x" * 300 + '"'}
            for c in range(start, start + n)]


def test_rotation_keeps_max_rotations_backups_named_by_local_time(tmp_path):
    path = str(tmp_path / "history")
    hf = h.HistoryFile(path, max_log=1000, max_rotations=2)
    now = 1795473000
    for i in range(6):                       # two ads (~700 bytes) per second
        hf.append(_ads(2, start=1 + 2 * i), now + i)
    files = h.find_history_files(path)
    names = [os.path.basename(f) for f in files]
    assert len(names) == 3 and names[-1] == "history"
    assert all(re.fullmatch(r"history\.\d{8}T\d{6}", n) for n in names[:-1])
    assert names[:-1] == [os.path.basename(h.backup_name(path, now + 4)),
                          os.path.basename(h.backup_name(path, now + 5))]
    assert all(os.path.getsize(f) <= 1000 for f in files)
    clusters = [r.cluster for r in h.iter_newest_first(files)]
    assert clusters == list(range(12, 12 - len(clusters), -1))   # newest first, no gap
    assert len(clusters) == 6                                    # two records per file


def test_rotation_within_one_append(tmp_path):
    path = str(tmp_path / "history")
    hf = h.HistoryFile(path, max_log=1000, max_rotations=3)
    hf.append(_ads(1), 1795473000)
    hf.append(_ads(3, start=2), 1795473001)   # the third record rotates the file
    assert [os.path.basename(f) for f in hf.files()] == [
        os.path.basename(h.backup_name(path, 1795473001)), "history"]
    assert [r.cluster for r in h.iter_newest_first(hf.files())] == [4, 3, 2, 1]
    body = len(h.format_ad(_ads(1)[0]))       # the second banner follows the first body
    assert [r.offset for r in h.iter_newest_first(hf.files())] == [body, 0, body, 0]


def test_two_rotations_in_one_second_replace_the_first_backup(tmp_path):
    """As in HTCondor: the backup is named to the second, and the rename overwrites."""
    path = str(tmp_path / "history")
    hf = h.HistoryFile(path, max_log=1000, max_rotations=3)
    hf.append(_ads(6), 1795473000)
    assert [r.cluster for r in h.iter_newest_first(hf.files())] == [6, 5, 4, 3]
    assert len(hf.files()) == 2


@pytest.mark.parametrize("chunk", [7, 100, h.CHUNK])
def test_torn_last_record_is_skipped(tmp_path, chunk):
    data = real("main25").read_bytes()
    last_banner = data.rindex(b"\n***") + 1
    whole = [r.cluster for r in records("main25")]
    for cut in (last_banner - 1000, last_banner - 1, last_banner + 2):
        path = tmp_path / "history"
        path.write_bytes(data[:cut])
        got = list(h.iter_newest_first([str(path)], chunk=chunk))
        assert [r.cluster for r in got] == whole[1:]
        assert got[0].ad() == records("main25")[1].ad()


def test_reader_skips_blank_comment_and_empty_records(tmp_path):
    path = tmp_path / "history"
    path.write_text("A = 1\n\n# note\n*** Offset = 0 ClusterId = 1 ProcId = 0 Owner = \"u\"\n"
                    "*** Offset = 5 ClusterId = 9 ProcId = 9 Owner = \"u\"\n"
                    "B = 2\n*** Offset = 7 ClusterId = 2 ProcId = 0 Owner = \"u\"\n")
    got = list(h.iter_newest_first([str(path)], chunk=5))
    assert [(r.cluster, r.ad()) for r in got] == [(2, {"B": "2"}), (1, {"A": "1"})]
    assert h.query(got, None, [], -1)[1] == 2       # the empty record is not counted


def test_query_as_captured_with_projection():
    """schedd-history.v25: Requirements = ClusterId == 1, NumJobMatches = 10, 4 attributes."""
    three = records("main25")[1:]               # the echo job had not run yet
    ads, scanned = h.query(three, "ClusterId == 1", ["ClusterId", "ProcId", "JobStatus", "RemoveReason"], 10)
    reply = h.reply_ads(ads, scanned)
    reason = 'RemoveReason = "Python-initiated action (by user htcpool)"'
    assert reply == [["ClusterId = 1", "JobStatus = 3", f"ProcId = {p}", reason] for p in (2, 1, 0)] + [
        ["Owner = 0", "AdCount = 3", "MalformedAds = 0", "NumJobMatches = 3"]]


def test_query_as_captured_full_ad():
    """schedd-history-echo.v25: Projection = {}, ClusterId == 2, match 1: the file's lines."""
    ads, scanned = h.query(h.iter_newest_first([str(real("main25"))]), "ClusterId == 2", [], 1)
    reply = h.reply_ads(ads, scanned)
    assert reply[0] == records("main25")[0].text.splitlines()
    assert len(reply[0]) == 133 and reply[0][:3] == ['In = "/dev/null"', 'Cmd = "/bin/echo"',
                                                     'Err = "/srv/rc/pools/main25/jobs/echo.v25.err"']
    assert reply[1] == ["Owner = 0", "AdCount = 1", "MalformedAds = 0", "NumJobMatches = 1"]
    lines, _ = h.query(h.iter_newest_first([str(real("main25"))]), "ClusterId == 2", [], 1, as_lines=True)
    assert lines == reply[:1]


def test_query_constraints_match_and_projection_expansion():
    recs = records("main25")
    ads, scanned = h.query(recs, 'JobStatus == 3 && CaptureTag == "sleep"', ["procid"], -1)
    assert ads == [{"procid": "2"}, {"procid": "1"}, {"procid": "0"}] and scanned == 4
    ads, scanned = h.query(recs, "true", ["ProcId"], 2)
    assert ads == [{"ProcId": "0"}, {"ProcId": "2"}] and scanned == 2
    assert h.query(recs, "false", [], -1) == ([], 4)
    # match <= 0 means no limit, as condor_history's -match
    assert len(h.query(recs, None, ["ProcId"], 0)[0]) == 4
    # an expression whose referenced attribute is itself an expression
    ads, _ = h.query(recs, "MemoryUsage > 7", ["MemoryUsage"], -1)
    assert ads == [{"MemoryUsage": "((ResidentSetSize + 1023) / 1024)", "ResidentSetSize": "7500"}]
    assert h.query(recs, "MemoryUsage > 8", [], -1)[0] == []
    ads, _ = h.query(recs, None, ["Requirements"], 1)
    assert list(ads[0]) == ["RequestDisk", "RequestMemory", "Requirements"]
    ads, _ = h.query(recs[1:], None, ["Requirements"], 1)
    assert list(ads[0]) == ["FileSystemDomain", "RequestDisk", "RequestMemory", "Requirements"]


@pytest.mark.parametrize("since, expect", [
    (1, ([(2, 0)], 2)),                                  # cluster id: its first record stops
    ("1.1", ([(2, 0), (1, 2)], 3)),                      # job id text
    ("ClusterID == 1 && ProcID == 2", ([(2, 0)], 2)),   # what htcondor2 sends for since="1.2"
    ("JobStatus == 3", ([(2, 0)], 2)),
    ("3", ([(2, 0), (1, 2), (1, 1), (1, 0)], 4)),        # never true: scans everything
])
def test_query_since(since, expect):
    ads, scanned = h.query(records("main25"), None, ["ClusterId", "ProcId"], -1, since=since)
    assert ([(int(a["ClusterId"]), int(a["ProcId"])) for a in ads], scanned) == expect


def test_since_that_is_neither_job_id_nor_expression():
    with pytest.raises(ValueError):
        h.query(records("main25"), None, [], -1, since='"x"')


def test_error_ad():
    assert h.error_ad(10, "Remote history has been disabled on this schedd") == [
        "Owner = 0", "ErrorCode = 10", 'ErrorString = "Remote history has been disabled on this schedd"']


def test_10k_records_timing(tmp_path):
    echo = records("main25")[0].ad()
    ads = [{**echo, "ClusterId": str(c), "GlobalJobId": f'"vm#{c}.0#1795473574"'} for c in range(1, 10_001)]
    hf = h.HistoryFile(str(tmp_path / "history"))          # 20 MB: rotates once
    t = time.perf_counter()
    hf.append(ads, 1795473600)
    report = [f"append {time.perf_counter() - t:.3f}s"]
    assert len(hf.files()) == 2
    for req, proj in [(None, []), ('JobStatus == 4 && Owner == "htcpool"', []),
                      ("ClusterId == 1", []), (None, ["ClusterId", "ProcId"]), ("MemoryUsage > 0", [])]:
        t = time.perf_counter()
        got, scanned = h.query(h.iter_newest_first(hf.files()), req, proj, -1, as_lines=True)
        reply = h.reply_ads(got, scanned)
        report.append(f"{req or 'all'}{' ' + ','.join(proj) if proj else ''}: "
                      f"{len(reply) - 1} ads {time.perf_counter() - t:.3f}s")
        assert scanned == 10_000 and len(reply) - 1 == (1 if req == "ClusterId == 1" else 10_000)
    print("\n10k history records: " + "; ".join(report))
