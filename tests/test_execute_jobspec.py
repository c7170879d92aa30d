"""The starter's reading of job ads: argument and environment syntaxes (condor_arglist.cpp,
env.cpp), file transfer resolution and the Iwd hold, on the real ads of the captures."""
from __future__ import annotations

import os
from pathlib import Path

import classad2
import pytest

from condor_sim.execute import syntax
from condor_sim.execute.jobspec import (Hold, JobSpec, StarterError, job_args, job_env, job_spec,
                                        kill_signal, _remaps)
from support.captures import CLI, capture

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle"


REAL = {"condor_q-long-after-submit.txt": FIX.parent / "job_queue" / "condor_q-long-after-submit.txt",
        "condor_history-long.txt": FIX.parent / "lifecycle" / "main25-condor_history-long.txt"}


def real_ads(name: str) -> list:
    return list(classad2.parseAds(REAL[name].read_text()))


def sleep_ad(**changes) -> classad2.ClassAd:
    ad = real_ads("condor_q-long-after-submit.txt")[0]
    for k, v in changes.items():
        ad[k] = v
    return ad


def echo_ad(**changes) -> classad2.ClassAd:
    ad = real_ads("condor_history-long.txt")[0]
    for k, v in changes.items():
        ad[k] = v
    return ad


def exit3_ad() -> classad2.ClassAd:
    return classad2.parseOne(capture(CLI / "condor_history" / "long-2.0.txt")["stdout"])


# -- arguments ------------------------------------------------------------------

def test_v2_raw_arguments_of_a_real_ad():
    # submit file: arguments = "-c 'exit 3'"; the ad holds the V2 raw form
    ad = exit3_ad()
    assert ad["Arguments"] == "-c exit' '3"
    assert job_args(ad) == ["-c", "exit 3"]


def test_submit_quoted_form_joins_to_what_the_real_ad_holds():
    raw = syntax.v2_quoted_to_raw("\"-c 'exit 3'\"")
    assert raw == "-c 'exit 3'"
    assert syntax.join_args(syntax.split_v2_raw(raw)) == exit3_ad()["Arguments"]


def test_v1_args_of_real_ads():
    assert job_args(sleep_ad()) == ["600"]
    assert job_args(echo_ad()) == ["hello", "from", "a", "capture", "job"]


@pytest.mark.parametrize("raw,args", [
    ("a b  c", ["a", "b", "c"]),
    ("'one arg' two", ["one arg", "two"]),
    ("it''s", ["its"]),                       # two quoted-empty sections around nothing
    ("'it''s'", ["it's"]),                    # doubled quote inside a group
    ("''", [""]),
    ("a'b c'd", ["ab cd"]),
    ("\t x \n y ", ["x", "y"]),
    ('say "hi"', ["say", '"hi"']),           # double quotes are ordinary in V2 raw
])
def test_split_v2_raw(raw, args):
    assert syntax.split_v2_raw(raw) == args


def test_join_args_round_trips():
    for args in (["a"], ["one arg", "it's", ""], ["x\ty", "''"]):
        assert syntax.split_v2_raw(syntax.join_args(args)) == args
    assert syntax.join_args(["it's", "", "a b"]) == "it''''s '' a' 'b"


def test_unbalanced_quote_is_an_error():
    with pytest.raises(syntax.SyntaxErrorInAd, match="Unbalanced quote starting here: 'abc"):
        syntax.split_v2_raw("x 'abc")


def test_v1_args_have_no_quoting():
    assert syntax.split_v1_raw("a 'b c' \"d\"") == ["a", "'b", "c'", '"d"']
    ad = sleep_ad(Args="x 'y z'")
    assert job_args(ad) == ["x", "'y", "z'"]


def test_arguments_win_over_args():
    ad = sleep_ad(Arguments="'new style'")
    assert job_args(ad) == ["new style"]


def test_v2_quoted_errors():
    with pytest.raises(syntax.SyntaxErrorInAd, match="Unterminated double-quote."):
        syntax.v2_quoted_to_raw('"abc')
    with pytest.raises(syntax.SyntaxErrorInAd, match="Unexpected characters following double-quote"):
        syntax.v2_quoted_to_raw('"abc" def')
    assert syntax.v2_quoted_to_raw('"say ""hi"""') == 'say "hi"'


# -- environment ------------------------------------------------------------------

def test_environment_v2():
    assert syntax.env_from_v2_raw("A=1 B='x y' C='it''s' D=") == {"A": "1", "B": "x y", "C": "it's", "D": ""}
    with pytest.raises(syntax.SyntaxErrorInAd, match="Missing '=' after environment variable 'NOEQ'"):
        syntax.env_from_v2_raw("NOEQ")
    with pytest.raises(syntax.SyntaxErrorInAd, match="missing variable in '=x'"):
        syntax.env_from_v2_raw("=x")


def test_environment_v1():
    assert syntax.env_from_v1_raw("A=1;B=two words; C=3") == {"A": "1", "B": "two words", "C": "3"}
    assert syntax.env_from_v1_raw("|A=1;x|B=2") == {"A": "1;x", "B": "2"}      # leading delimiter
    assert syntax.env_from_v1_raw("A=1\nB=2") == {"A": "1", "B": "2"}
    assert syntax.env_from_v1_raw("A=1,B=2", ",") == {"A": "1", "B": "2"}


def test_env_in_ads():
    assert job_env(sleep_ad()) == {}                        # Environment = "" in the real ad
    ad = sleep_ad()
    del ad["Environment"]
    ad["Env"] = "A=1;B=2"
    assert job_env(ad) == {"A": "1", "B": "2"}
    ad["EnvDelim"] = "#"
    ad["Env"] = "A=1;x#B=2"
    assert job_env(ad) == {"A": "1;x", "B": "2"}
    ad["Environment"] = "C=3"                               # V2 wins
    assert job_env(ad) == {"C": "3"}


def test_env_v1_or_v2_quoted():
    assert syntax.env_from_v1_or_v2_quoted("\"A=1 B='x y'\"") == {"A": "1", "B": "x y"}
    assert syntax.env_from_v1_or_v2_quoted("A=1;B=2") == {"A": "1", "B": "2"}


# -- other attributes -------------------------------------------------------------

def test_remaps_and_kill_sig():
    assert _remaps("a.out = res/a.txt; b=/abs/b ;c\\;d = e") == {"a.out": "res/a.txt", "b": "/abs/b", "c;d": "e"}
    assert kill_signal("SIGINT") == 2 and kill_signal("USR1") == 10 and kill_signal(9) == 9
    assert kill_signal(None) == 15 and kill_signal("bogus") == 15


# -- whole specs ------------------------------------------------------------------

def test_real_ad_with_its_iwd_missing_is_held(tmp_path):
    # the capture's Iwd (/srv/rc) does not exist here: the shadow's hold
    got = job_spec(sleep_ad(), str(tmp_path), slot_env={})
    assert got == Hold("Cannot access initial working directory /srv/rc: No such file or directory", 14, 2)
    f = tmp_path / "file"
    f.write_text("")
    got = job_spec(sleep_ad(Iwd=str(f)), str(tmp_path), slot_env={})
    assert (got.code, got.subcode) == (14, 20)
    assert got.reason == f"Cannot access initial working directory {f}: Not a directory"


def _as_owner(ad):
    if os.geteuid() == 0:
        ad["Owner"] = "nobody"
    return ad


def test_sleep_ad_without_transfer(tmp_path):
    scratch = str(tmp_path / "scratch")
    spec = job_spec(_as_owner(sleep_ad(Iwd=str(tmp_path), RequestCpus=2)), scratch,
                    slot_env={"SLOTVAR": "1", "BATCH_SYSTEM": "overridden"})
    assert isinstance(spec, JobSpec)
    assert (spec.cluster, spec.proc) == (1, 0)
    assert spec.executable == "/bin/sleep" and spec.args == ["600"]
    assert not spec.transfer and spec.cwd == str(tmp_path) and spec.iwd == str(tmp_path)
    assert (spec.stdin, spec.stdout, spec.stderr) == (None, None, None)     # all /dev/null
    assert spec.input_files == [] and spec.output_files is None
    assert spec.env["SLOTVAR"] == "1" and spec.env["BATCH_SYSTEM"] == "HTCondor"
    assert spec.env["_CONDOR_SCRATCH_DIR"] == scratch and spec.env["TMPDIR"] == scratch
    assert spec.env["_CONDOR_JOB_IWD"] == str(tmp_path)
    assert spec.env["OMP_NUM_THREADS"] == "2"
    assert spec.run_as == ("nobody" if os.geteuid() == 0 else None)


def test_echo_ad_with_transfer(tmp_path):
    # the real echo job: ShouldTransferFiles YES, absolute Out/Err; the real starter ran
    # <scratch>/echo and wrote _condor_stdout/_condor_stderr
    log = (FIX.parent / "real-logs" / "main25" / "StarterLog.slot1_1").read_text()
    assert "/scratch/echo hello from a capture job" in log
    assert "scratch/_condor_stdout" in log
    scratch = str(tmp_path / "dir_1" / "scratch")
    spec = job_spec(_as_owner(echo_ad(Iwd=str(tmp_path))), scratch, slot_env={})
    assert spec.transfer and spec.cwd == scratch
    assert spec.executable == f"{scratch}/echo" and spec.executable_src == "/bin/echo"
    assert spec.input_files == ["/bin/echo"]
    assert spec.stdout == f"{scratch}/_condor_stdout" and spec.stderr == f"{scratch}/_condor_stderr"
    assert spec.stdout_dest == "/srv/rc/pools/main25/jobs/echo.v25.out"
    assert spec.stderr_dest == "/srv/rc/pools/main25/jobs/echo.v25.err"
    assert spec.env["_CONDOR_JOB_IWD"] == scratch


def test_transfer_lists(tmp_path):
    ad = _as_owner(echo_ad(Iwd=str(tmp_path), In="in.txt", TransferIn=True, Out="out.txt", Err="out.txt",
                           TransferInput="a.dat, sub/b.dat,/abs/c, dir/",
                           TransferOutput="r1,r2", TransferOutputRemaps="r1=x/y",
                           TransferExecutable=False, WhenToTransferOutput="ON_SUCCESS"))
    spec = job_spec(ad, "/s", slot_env={})
    assert spec.executable == "/bin/echo" and spec.executable_src is None
    assert spec.input_files == [f"{tmp_path}/in.txt", f"{tmp_path}/a.dat", f"{tmp_path}/sub/b.dat",
                                "/abs/c", f"{tmp_path}/dir/"]
    assert spec.stdin == "/s/in.txt"
    assert spec.stdout == spec.stderr == "/s/_condor_stdout"      # Out == Err: one file
    assert spec.stdout_dest == f"{tmp_path}/out.txt" and spec.stderr_dest is None
    assert spec.output_files == ["r1", "r2"] and spec.output_remaps == {"r1": "x/y"}
    assert spec.when_to_transfer_output == "ON_SUCCESS"


def test_trailing_slash_of_a_directory_input_is_kept(tmp_path):
    spec = job_spec(_as_owner(echo_ad(Iwd=str(tmp_path), TransferInput="dir/")), "/s", slot_env={})
    assert spec.input_files[-1] == f"{tmp_path}/dir/"


def test_standard_files_not_transferred_stay_on_the_submit_side(tmp_path):
    ad = _as_owner(echo_ad(Iwd=str(tmp_path), Out="o", TransferOut=False, Err="/dev/null"))
    spec = job_spec(ad, "/s", slot_env={})
    assert spec.stdout == f"{tmp_path}/o" and spec.stdout_dest is None and spec.stderr is None


def test_job_environment_is_kept_but_starter_variables_win(tmp_path):
    # getenv at submit folds the submitter's variables into Environment
    ad = _as_owner(sleep_ad(Iwd=str(tmp_path), Environment="HOME=/home/u OMP_NUM_THREADS=7 TMPDIR=/mine"))
    spec = job_spec(ad, "/s", slot_env={"HOME": "/slot"})
    assert spec.env["HOME"] == "/home/u"
    assert spec.env["OMP_NUM_THREADS"] == "7"            # the job's own wins for thread counts
    assert spec.env["TMPDIR"] == "/s"                    # the starter's wins for the rest


@pytest.mark.skipif(os.geteuid() != 0, reason="owners matter only to a root starter")
def test_unknown_owner_stops_a_root_starter(tmp_path):
    with pytest.raises(StarterError, match='Uid for "no_such_user_x" not found in passwd file'):
        job_spec(sleep_ad(Iwd=str(tmp_path), Owner="no_such_user_x"), "/s", slot_env={})
    assert job_spec(sleep_ad(Iwd=str(tmp_path), Owner="root"), "/s", slot_env={}).run_as is None


@pytest.mark.skipif(os.geteuid() == 0, reason="as non-root the job runs as ourselves")
def test_non_root_runs_as_itself(tmp_path):
    assert job_spec(sleep_ad(Iwd=str(tmp_path)), "/s", slot_env={}).run_as is None


def test_unparsable_arguments_stop_the_starter(tmp_path):
    with pytest.raises(StarterError, match="Unbalanced quote starting here: 'x"):
        job_spec(_as_owner(sleep_ad(Iwd=str(tmp_path), Arguments="a 'x")), "/s", slot_env={})
