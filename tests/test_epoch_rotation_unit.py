"""The rotation the history file and the epoch history share (jobqueue/history.py
``maybe_rotate``), the per-job epoch files (jobqueue/epochs.py) and the files
``condor_history -epochs`` reads (tools/_history_sources.py, tools/condor_history.py),
in temporary directories."""
from __future__ import annotations

import os
import re
import time

import pytest

from condor_sim.jobqueue import epochs as E
from condor_sim.jobqueue import history as H
from condor_sim.tools import _history_sources as S
from condor_sim.tools import condor_history as CH

NOW = 1795473578.0


def backups(directory, base: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.startswith(base + "."))


def stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.localtime(now))


# ---------------------------------------------------------------------- the rotation
def test_a_file_that_would_grow_over_the_limit_is_renamed_to_its_local_iso_time(tmp_path):
    path = tmp_path / "epoch_history"
    path.write_bytes(b"x" * 10)
    assert H.maybe_rotate(str(path), 10, 20, 2, NOW) is None         # 10 + 10 is not over 20
    assert path.exists() and backups(tmp_path, "epoch_history") == []
    target = H.maybe_rotate(str(path), 11, 20, 2, NOW)
    assert target == f"{path}.{stamp(NOW)}" and not path.exists()
    assert re.fullmatch(r"epoch_history\.\d{8}T\d{6}", os.path.basename(target))
    assert open(target, "rb").read() == b"x" * 10


def test_no_file_no_rotation_but_an_empty_file_rotates_for_an_oversized_record(tmp_path):
    path = tmp_path / "f"
    assert H.maybe_rotate(str(path), 10**9, 1, 2, NOW) is None
    path.write_bytes(b"")
    assert H.maybe_rotate(str(path), 2, 1, 2, NOW) == f"{path}.{stamp(NOW)}"
    assert H.must_rotate(None, 5, 1) is False and H.must_rotate(0, 2, 1) is True
    assert H.must_rotate(10, 10, 20) is False and H.must_rotate(10, 11, 20) is True


@pytest.mark.parametrize("rotations,kept", [(2, 2), (3, 3), (1, 1), (0, 1)])
def test_at_most_max_rotations_backups_remain_the_oldest_go(tmp_path, rotations, kept):
    path = tmp_path / "epoch_history"
    for i in range(5):
        path.write_text(f"run {i}\n")
        H.maybe_rotate(str(path), 1, 1, rotations, NOW + 10 * i)
    names = backups(tmp_path, "epoch_history")
    assert names == [f"epoch_history.{stamp(NOW + 10 * i)}" for i in range(5 - kept, 5)]
    assert (tmp_path / names[-1]).read_text() == "run 4\n"


def test_a_second_rotation_within_the_same_second_replaces_the_first_backup(tmp_path):
    path = tmp_path / "h"
    for text in ("first\n", "second\n"):
        path.write_text(text)
        H.maybe_rotate(str(path), 1, 1, 2, NOW)
    assert backups(tmp_path, "h") == [f"h.{stamp(NOW)}"]
    assert (tmp_path / f"h.{stamp(NOW)}").read_text() == "second\n"


def test_which_backups_go_ignores_other_files_and_other_bases():
    names = ["h", "h.20260101T000000", "h.20250101T000000", "h.notatime", "hh.20200101T000000",
             "h.2024-01-01T00:00:00", "other"]
    assert H.backups_to_remove("h", names, 2) == ["h.2024-01-01T00:00:00", "h.20250101T000000"]
    assert H.backups_to_remove("h", names, 4) == []
    assert H.backups_to_remove("h", names, 3) == ["h.2024-01-01T00:00:00"]


def test_the_history_file_rotates_through_the_same_function(tmp_path):
    path = tmp_path / "history"
    hf = H.HistoryFile(str(path), max_log=300, max_rotations=2)
    ad = {"ClusterId": "1", "ProcId": "0", "Owner": '"u"', "Cmd": '"' + "x" * 150 + '"'}
    for i in range(4):
        hf.append([{**ad, "ClusterId": str(i + 1)}], int(NOW) + i)
    names = backups(tmp_path, "history")
    assert names == [f"history.{stamp(NOW + 2)}", f"history.{stamp(NOW + 3)}"]
    assert [r.cluster for r in H.iter_newest_first(hf.files())] == [4, 3, 2]


# ---------------------------------------------------------------------- per-job files
def test_per_job_file_names_and_where_records_go(tmp_path):
    assert E.per_job_file(str(tmp_path), 12, 3) == str(tmp_path / "job.runs.12.3.ads")
    both = E.destinations("/s/epoch_history", str(tmp_path), True, 12, 3, 5000, 0)
    assert both == [E.Destination("/s/epoch_history", 5000, 1),
                    E.Destination(str(tmp_path / "job.runs.12.3.ads"), 100 * 1024 * 1024, 2)]
    assert E.destinations(None, str(tmp_path), True, 1, 0) == [both[1].__class__(
        str(tmp_path / "job.runs.1.0.ads"), E.PER_JOB_MAX_SIZE, E.PER_JOB_ROTATIONS)]
    assert E.destinations("/s/e", "/no/such", False, 1, 0) == [
        E.Destination("/s/e", E.DEFAULT_MAX_EPOCH_HISTORY_LOG, E.DEFAULT_MAX_EPOCH_HISTORY_ROTATIONS)]
    assert E.INVALID_DIR.format(dir="/x") == ("Invalid JOB_EPOCH_HISTORY_DIR (/x): must point to a "
                                              "valid directory; disabling per-job run instance recording.")


def test_append_record_rotates_then_appends(tmp_path):
    dest = E.Destination(str(tmp_path / "job.runs.1.0.ads"), 10, 2)
    E.append_record(dest, b"12345678\n", NOW)
    E.append_record(dest, b"abc\n", NOW + 1)                 # 9 + 4 > 10: rotated first
    assert (tmp_path / "job.runs.1.0.ads").read_bytes() == b"abc\n"
    assert (tmp_path / f"job.runs.1.0.ads.{stamp(NOW + 1)}").read_bytes() == b"12345678\n"


# ---------------------------------------------------------------------- what -epochs reads
def test_which_per_job_files_the_tool_reads():
    names = ["job.runs.1.0.ads", "job.runs.1.1.ads", "job.runs.11.0.ads", "job.runs.2.1.ads",
             "job.runs.1.0.ads.20260101T000000", "epoch_history", "job.runs.3.0.txt"]
    every = ["job.runs.1.0.ads", "job.runs.1.1.ads", "job.runs.11.0.ads", "job.runs.2.1.ads"]
    assert S.epoch_dir_files(names, [], backwards=False) == every
    assert S.epoch_dir_files(names, [], backwards=True) == every[::-1]
    assert S.epoch_dir_files(names, [(1, -1)], False) == ["job.runs.1.0.ads", "job.runs.1.1.ads"]
    assert S.epoch_dir_files(names, [(1, 1)], True) == ["job.runs.1.1.ads"]
    assert S.epoch_dir_files(names, [(2, 1), (1, 0)], False) == ["job.runs.1.0.ads", "job.runs.2.1.ads"]
    assert S.epoch_dir_files(names, [(1, 0), (1, -1)], False) == ["job.runs.1.0.ads", "job.runs.1.1.ads"]
    assert S.job_ids(["12", "3.4", "alice"]) == [(12, -1), (3, 4)]


def record(cluster: int, proc: int, run: int, kind: str = "EPOCH") -> str:
    return (f"ClusterId = {cluster}\nProcId = {proc}\nRunInstanceID = {run}\nOwner = \"u\"\n"
            f"EpochWriteDate = {run}\n*** {kind} ClusterId={cluster} ProcId={proc} "
            f"RunInstanceId={run} Owner=\"u\" CurrentTime={run}\n")


def runs(ads) -> list[tuple[int, int, int]]:
    return [(a["ClusterId"], a["ProcId"], a["RunInstanceID"]) for a in ads]


def test_epochs_reads_the_backups_newest_first_or_forwards(tmp_path):
    path = tmp_path / "epoch_history"
    (tmp_path / f"epoch_history.{stamp(NOW)}").write_text(record(1, 0, 0, "SPAWN") + record(1, 0, 0))
    (tmp_path / f"epoch_history.{stamp(NOW + 5)}").write_text(record(2, 0, 0) + record(2, 0, 1))
    path.write_text(record(3, 0, 0) + record(3, 0, 1, "SPAWN"))
    (tmp_path / "epoch_history.old").write_text(record(9, 9, 9))     # no time: not a backup
    assert runs(CH.epoch_ads(CH.parse_args(["-epochs"]), str(path), None)) == \
        [(3, 0, 0), (2, 0, 1), (2, 0, 0), (1, 0, 0)]
    assert runs(CH.epoch_ads(CH.parse_args(["-epochs", "-forwards"]), str(path), None)) == \
        [(1, 0, 0), (2, 0, 0), (2, 0, 1), (3, 0, 0)]
    assert runs(CH.epoch_ads(CH.parse_args(["-epochs", "2", "-limit", "1"]), str(path), None)) == [(2, 0, 1)]


def test_epochs_directory_reads_the_per_job_files(tmp_path):
    (tmp_path / "job.runs.1.0.ads").write_text(record(1, 0, 0, "SPAWN") + record(1, 0, 0) + record(1, 0, 1))
    (tmp_path / "job.runs.2.0.ads").write_text(record(2, 0, 0))
    (tmp_path / f"job.runs.2.0.ads.{stamp(NOW)}").write_text(record(2, 0, 7))   # never read
    o = CH.parse_args(["-epochs", "-dir"])
    assert sorted(runs(CH.epoch_ads(o, None, str(tmp_path)))) == [(1, 0, 0), (1, 0, 1), (2, 0, 0)]
    o = CH.parse_args(["-epochs", "-directory", "1.0"])
    assert runs(CH.epoch_ads(o, "/nowhere/epoch_history", str(tmp_path))) == [(1, 0, 1), (1, 0, 0)]
    o = CH.parse_args(["-epochs", "-dir", "-search", str(tmp_path), "2"])
    assert runs(CH.epoch_ads(o, None, "/elsewhere")) == [(2, 0, 0)]


def test_epochs_errors_as_the_real_tool(tmp_path):
    from condor_sim.tools import common as C
    with pytest.raises(C.ToolError) as e:
        CH.epoch_ads(CH.parse_args(["-epochs", "-dir"]), "/s/epoch_history", str(tmp_path / "no"), CH.HEADER)
    assert e.value.stderr == f"Error: {tmp_path / 'no'} is not a valid directory.\n"
    assert e.value.stdout == CH.HEADER
    with pytest.raises(C.ToolError) as e:
        CH.epoch_ads(CH.parse_args(["-epochs"]), None, str(tmp_path))
    assert e.value.stderr.startswith("Error: No passed search file and configuration key "
                                     "JOB_EPOCH_HISTORY is unset.\n\nExtra Info: ")


# ---------------------------------------------------------------------- the schedd's writer
class _Config(dict):
    def get(self, name, default=None):
        return super().get(name, default)

    def get_int(self, name, default):
        return int(self[name]) if name in self else default


class _Log:
    def __init__(self):
        self.lines = []

    def log(self, msg, cat="D_ALWAYS"):
        self.lines.append((cat, msg))


def _writer(**config):
    from types import SimpleNamespace
    return SimpleNamespace(config=_Config(config), in_memory={}, shadow_log=_Log())


JOB = {"ClusterId": "7", "ProcId": "2", "NumShadowStarts": "1", "Owner": '"u"', "Cmd": '"/bin/true"'}


def test_the_writer_appends_to_both_files(tmp_path):
    from condor_sim.daemons.schedd.running import JobRunner
    runs = tmp_path / "runs"
    runs.mkdir()
    w = _writer(JOB_EPOCH_HISTORY=str(tmp_path / "epoch_history"), JOB_EPOCH_HISTORY_DIR=str(runs))
    JobRunner.write_epoch(w, JOB, E.SPAWN)
    JobRunner.write_epoch(w, JOB, E.EPOCH)
    text = (runs / "job.runs.7.2.ads").read_text()
    assert text == (tmp_path / "epoch_history").read_text() and w.shadow_log.lines == []
    assert [ln.split()[1] for ln in text.splitlines() if ln.startswith("***")] == ["SPAWN", "EPOCH"]


def test_the_writer_says_once_that_the_directory_is_no_directory(tmp_path):
    from condor_sim.daemons.schedd.running import JobRunner
    not_dir = tmp_path / "file"
    not_dir.write_text("")
    w = _writer(JOB_EPOCH_HISTORY=str(tmp_path / "epoch_history"), JOB_EPOCH_HISTORY_DIR=str(not_dir))
    for banner in (E.SPAWN, E.EPOCH, E.SPAWN):
        JobRunner.write_epoch(w, JOB, banner)
    assert w.shadow_log.lines == [("D_ERROR", f"Invalid JOB_EPOCH_HISTORY_DIR ({not_dir}): must point to "
                                              "a valid directory; disabling per-job run instance recording.")]
    assert len(records_of(tmp_path / "epoch_history")) == 3 and sorted(os.listdir(tmp_path)) == \
        ["epoch_history", "file"]


def test_the_writer_rotates_the_aggregate_file_at_its_knobs(tmp_path):
    from condor_sim.daemons.schedd.running import JobRunner
    w = _writer(JOB_EPOCH_HISTORY=str(tmp_path / "epoch_history"), MAX_EPOCH_HISTORY_LOG="1",
                MAX_EPOCH_HISTORY_ROTATIONS="0")
    for banner in (E.SPAWN, E.EPOCH):
        JobRunner.write_epoch(w, JOB, banner)
    [backup] = backups(tmp_path, "epoch_history")            # at least one backup is kept
    assert records_of(tmp_path / backup) == ["SPAWN"] and records_of(tmp_path / "epoch_history") == ["EPOCH"]


def records_of(path) -> list[str]:
    return [ln.split()[1] for ln in open(path).read().splitlines() if ln.startswith("***")]
