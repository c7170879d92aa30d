"""The epoch history's records (jobqueue/epochs.py) against the real 25.14 shadow's file:
the same job ad gives the same SPAWN and EPOCH records, byte for byte."""
from __future__ import annotations

import re
from pathlib import Path

from condor_sim.jobqueue import epochs as E

REAL = (Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle" / "main25-epoch_history").read_text()
RECORDS = re.findall(r"(.*?\*\*\* .*?\n)", REAL, re.S)
ADDED = ("EpochAdType", "RunInstanceID", "EpochWriteDate")   # what the recording adds


def job_of(record: str) -> dict[str, str]:
    lines = [ln for ln in record.splitlines() if not ln.startswith("*** ")]
    return {k: v for k, v in (ln.split(" = ", 1) for ln in lines) if k not in ADDED}


def written_at(record: str) -> int:
    return int(re.search(r"CurrentTime=(\d+)", record).group(1))


def test_the_real_file_holds_a_spawn_and_an_epoch_record():
    assert [r.rsplit("*** ", 1)[1].split()[0] for r in RECORDS] == ["SPAWN", "EPOCH"]


def test_the_epoch_record_of_the_job_ad_is_the_real_one():
    spawn, epoch = RECORDS
    job = job_of(epoch)
    assert E.epoch_record(job, E.EPOCH, written_at(epoch)) == epoch


def test_the_spawn_record_is_the_real_projection():
    spawn, epoch = RECORDS
    job = job_of(epoch)
    job["ShadowBday"] = job_of(spawn)["ShadowBday"]
    only = E.spawn_attributes(None)
    assert E.epoch_record(job, E.SPAWN, written_at(spawn), only) == spawn
    assert E.spawn_attributes("all") is None
    assert E.spawn_attributes("Cmd, Args")[-2:] == ["Cmd", "Args"]


def test_a_job_that_never_ran_has_no_record():
    job = job_of(RECORDS[1])
    del job["NumShadowStarts"]
    assert E.epoch_record(job, E.EPOCH, 1) is None


def test_the_shadow_copy_adds_its_own_attributes_and_leaves_the_last_update_out():
    job = {"Owner": '"alice"', "BlockReads": "0", "ResidentSetSize_RAW": "12", "Cmd": '"/bin/true"'}
    copy = E.shadow_copy(job, shadow_sinful="<127.0.0.1:9>", uid_domain="vm", version="$CondorVersion: x $")
    assert "BlockReads" not in copy and "ResidentSetSize_RAW" not in copy
    assert copy["OsUser"] == '"alice"' and copy["ShadowIpAddr"] == copy["MyAddress"] == '"<127.0.0.1:9>"'
    assert copy["Cmd"] == '"/bin/true"'
