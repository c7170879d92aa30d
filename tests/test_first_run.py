"""What a new user meets first: the CLI's errors are one line with the cause and a non-zero
exit, a bad setting or a daemon that dies fails `up` at once, and the help says what to do."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from support.pools import CONDOR_MASTER, CONDOR_SIM, assert_nothing_left, run_cli, running_pool
from condor_sim.pool import Pool


def lines(text: str) -> list[str]:
    return [x for x in text.splitlines() if x.strip()]


def test_a_file_as_pool_directory_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    for target in (f, f / "below"):
        r = run_cli("up", "--dir", str(target))
        assert r.returncode == 2 and r.stdout == ""
        assert lines(r.stderr) == [f"condor-sim: {f} is not a directory"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_an_uncreatable_pool_directory_is_one_line(tmp_path):
    r = run_cli("up", "--dir", "/proc/condor-sim-x")
    assert r.returncode != 0 and r.stdout == ""
    assert len(lines(r.stderr)) == 1 and lines(r.stderr)[0].startswith("condor-sim: ")
    assert "/proc/condor-sim-x" in r.stderr and "Traceback" not in r.stderr


def _up_fails_fast(tmp_path, *args) -> subprocess.CompletedProcess:
    d = tmp_path / "pool"
    t0 = time.monotonic()
    r = run_cli("up", "--dir", str(d), "--timeout", "30", *args)
    took = time.monotonic() - t0
    pool = Pool(d)
    try:
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert took < 10, f"`up` took {took:.1f} s to fail"
    finally:
        if pool.processes():
            pool.stop(fast=True)
        assert_nothing_left(pool)
    return r


def test_a_setting_the_pool_cannot_start_with_fails_before_any_daemon(tmp_path):
    r = _up_fails_fast(tmp_path, "--config", "COLLECTOR_HOST=$(")
    first, second = lines(r.stderr)[:2]
    assert first == "condor-sim: the pool's configuration has an error:"
    assert second == (f"ERROR: COLLECTOR_HOST = $( is not a host[:port] or an address (set in "
                      f"{tmp_path}/pool/config.d/00-condor-sim-overrides, line 2)")
    assert "Started DaemonCore process" not in (tmp_path / "pool" / "log" / "MasterLog").read_text()


def test_a_config_syntax_error_names_the_file_and_line(tmp_path):
    d = tmp_path / "pool"
    Pool(d).create()
    (d / "config.d" / "50-mine").write_text("FOO = 1\nif $(\n")
    r = run_cli("up", "--dir", str(d), "--timeout", "30")
    assert r.returncode == 1 and r.stdout == ""
    assert lines(r.stderr)[:3] == [
        "condor-sim: the pool's configuration has an error:",
        f"Configuration Error Line 2 while reading config source {d}/config.d/50-mine",
        "$( is not a valid if condition because complex conditionals are not supported"]
    assert_nothing_left(Pool(d))


def test_a_daemon_that_dies_at_start_up_fails_up_at_once(tmp_path):
    r = _up_fails_fast(tmp_path, "--config", "SCHEDD=/bin/false")
    assert lines(r.stderr)[0] == "condor-sim: the SCHEDD exited with status 1 during start-up"
    assert "MasterLog (tail):" in r.stderr


def test_up_again_gives_the_export_line(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        r = run_cli("up", "--dir", str(pool.directory))
        assert r.returncode == 0
        assert r.stdout.strip() == f"export CONDOR_CONFIG={pool.config_file}"
        assert "is already running" in r.stderr and "using it" in r.stderr


def test_condor_master_h_prints_its_usage_even_with_a_running_pool(tmp_path):
    with running_pool(tmp_path / "p") as pool:
        env = {**os.environ, "CONDOR_CONFIG": str(pool.config_file)}
        for arg in ("-h", "-help", "-x"):
            r = subprocess.run([CONDOR_MASTER, arg], env=env, capture_output=True, text=True, timeout=30)
            assert r.returncode == 2 and r.stdout == ""
            assert r.stderr == "Usage: condor_master [-f] [-t] [-n name]\n"
        assert "Can't get lock" not in (pool.directory / "log" / "MasterLog").read_text()


def test_help_texts_say_what_to_do():
    r = subprocess.run([CONDOR_SIM, "up", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "examples:" in r.stdout and 'eval "$(condor-sim up)"' in r.stdout
    assert "other files in DIR/config.d stay" in r.stdout
    r = subprocess.run([CONDOR_SIM, "token", "create", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "the pool directory whose signing key signs the token" in r.stdout
