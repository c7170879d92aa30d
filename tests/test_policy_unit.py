"""The user job policy (condor_sim.jobqueue.policy): periodic and on-exit decisions with the
reason texts and hold codes of ``user_job_policy.cpp``, and submit's retry translation
against HTCondor's own condor_submit -dry-run expectations (fixtures/lifecycle)."""
from __future__ import annotations

from pathlib import Path

import pytest

from condor_sim.jobqueue import policy as P
from condor_sim.jobqueue.policy import Decision

RETRIES = Path(__file__).resolve().parent.parent / "fixtures" / "lifecycle" / "submit-retries.txt"


def submit_cases() -> list[tuple[str, dict, dict]]:
    cases = []
    for block in RETRIES.read_text().split("==")[1:]:
        name, _, body = block.partition("\n")
        commands, _, expected = body.partition("--\n")
        cmd = dict(line.split(" = ", 1) for line in commands.splitlines() if line)
        want = dict(line.split("=", 1) for line in expected.splitlines() if line)
        cases.append((name, cmd, want))
    return cases


@pytest.mark.parametrize("name, commands, expected", submit_cases())
def test_retry_attributes_as_condor_submit(name, commands, expected):
    got = P.retry_attributes(
        max_retries=int(commands["max_retries"]) if "max_retries" in commands else None,
        success_exit_code=int(commands["success_exit_code"]) if "success_exit_code" in commands else None,
        on_exit_hold=commands.get("on_exit_hold"))
    for attr in ("JobMaxRetries", "JobSuccessExitCode", "OnExitRemove"):
        assert got.get(attr) == expected.get(attr), attr
    if "OnExitHold" in expected:
        assert got["OnExitHold"] == expected["OnExitHold"]


def test_retry_until_number_and_expression():
    assert P.retry_attributes(retry_until="7")["OnExitRemove"] == \
        "NumJobCompletions > JobMaxRetries || ExitCode =?= 0 || ExitCode =?= 7"
    got = P.retry_attributes(max_retries=1, retry_until="x ? true : false", on_exit_remove="y")
    assert got["OnExitRemove"] == \
        "NumJobCompletions > JobMaxRetries || ExitCode =?= 0 || (x ? true : false) || y"
    assert P.retry_attributes(on_exit_remove="ExitCode == 0") == {"OnExitRemove": "ExitCode == 0"}


def test_on_exit_retries_until_success_or_exhausted():
    attrs = P.retry_attributes(max_retries=3)
    job = {"JobStatus": "2", "ExitBySignal": "false", "ExitCode": "1", "NumJobCompletions": "1", **attrs}
    d = P.on_exit(job, 100)
    assert d == Decision("requeue", "The job attribute OnExitRemove expression "
                         "'NumJobCompletions > JobMaxRetries || ExitCode =?= 0' evaluated to FALSE",
                         P.JOB_POLICY, 0)
    assert P.on_exit({**job, "NumJobCompletions": "4"}, 100).action == "remove"
    assert P.on_exit({**job, "ExitCode": "0"}, 100).action == "remove"


def test_on_exit_hold_uses_its_reason_and_subcode():
    """retries.sub's on_exit_hold with its reason and subcode."""
    job = {"JobStatus": "2", "ExitBySignal": "false", "ExitCode": "50",
           "OnExitHold": "ExitCode > 42", "OnExitHoldReason": '"job fooled by succeeding to well"',
           "OnExitHoldSubCode": "43", "OnExitRemove": "true"}
    assert P.on_exit(job, 1) == Decision("hold", "job fooled by succeeding to well", 3, 43)
    job.pop("OnExitHoldReason")
    assert P.on_exit(job, 1).reason == \
        "The job attribute OnExitHold expression 'ExitCode > 42' evaluated to TRUE"
    assert P.on_exit({**job, "ExitCode": "0"}, 1).action == "remove"


def test_plain_job_completes_without_policy():
    """A job without on-exit expressions (as the Python bindings submit them) completes."""
    d = P.on_exit({"JobStatus": "2", "ExitBySignal": "false", "ExitCode": "3"}, 1)
    assert d.action == "remove"


def test_periodic_hold_release_remove():
    job = {"JobStatus": "1", "NumJobStarts": "0", "PeriodicHold": "NumJobStarts =?= 0"}
    assert P.periodic(job, 1) == Decision(
        "hold", "The job attribute PeriodicHold expression 'NumJobStarts =?= 0' evaluated to TRUE", 3, 0)
    held = {"JobStatus": "5", "HoldReasonCode": "3", "NumHolds": "1", "PeriodicRelease": "true"}
    assert P.periodic(held, 1).action == "release"
    assert P.periodic({**held, "HoldReasonCode": "1"}, 1) is None           # held by a user
    assert P.periodic({**held, "PeriodicHold": "true"}, 1).action == "release"  # no hold when held
    assert P.periodic({"JobStatus": "4", "PeriodicRemove": "true"}, 1).action == "remove"
    assert P.periodic({"JobStatus": "3", "PeriodicRemove": "true"}, 1) is None
    assert P.periodic({"JobStatus": "1", "PeriodicHold": "undefined"}, 1) is None
    assert P.periodic({"JobStatus": "1", "PeriodicHold": "false"}, 1) is None


def test_running_job_sees_its_run_time():
    job = {"JobStatus": "2", "ShadowBday": "1000", "RemoteWallClockTime": "50.0",
           "PeriodicRemove": "RemoteWallClockTime > 100"}
    assert P.periodic(job, 1040) is None
    assert P.periodic(job, 1060).action == "remove"


def test_system_periodic_knobs():
    system = {"SYSTEM_PERIODIC_HOLD": "false", "SYSTEM_PERIODIC_REMOVE": "JobStatus == 5",
              "SYSTEM_PERIODIC_RELEASE_NAMES": "retry",
              "SYSTEM_PERIODIC_RELEASE_retry": "NumHolds < 3",
              "SYSTEM_PERIODIC_RELEASE_retry_REASON": 'strcat("retry ", NumHolds)',
              "SYSTEM_PERIODIC_RELEASE_retry_SUBCODE": "7"}
    held = {"JobStatus": "5", "HoldReasonCode": "13", "NumHolds": "2"}
    assert P.periodic(held, 1, system=system) == Decision("release", "retry 2", P.SYSTEM_POLICY, 7)
    assert P.periodic({**held, "NumHolds": "3"}, 1, system=system) == Decision(
        "remove", "The system macro SYSTEM_PERIODIC_REMOVE expression 'JobStatus == 5' "
        "evaluated to TRUE", P.SYSTEM_POLICY, 0)
    assert P.periodic(held, 1, system={**system, "SYSTEM_MAX_RELEASES": "2"}).action == "remove"
    assert P.periodic({"JobStatus": "1"}, 1, system=system) is None


def test_durations_and_vacate():
    running = {"JobStatus": "2", "ShadowBday": "100", "JobCurrentStartExecutingDate": "110"}
    assert P.periodic({**running, "AllowedJobDuration": "3600"}, 3700) == Decision(
        "hold", "The job exceeded allowed job duration of 1:00:00", P.JOB_DURATION_EXCEEDED, 0)
    assert P.periodic({**running, "AllowedExecuteDuration": "60"}, 171) == Decision(
        "hold", "The job exceeded allowed execute duration of 01:00", P.JOB_EXECUTE_EXCEEDED, 0)
    assert P.periodic({**running, "AllowedExecuteDuration": "60"}, 170) is None
    d = P.periodic({**running, "PeriodicVacate": "true"}, 200)
    assert (d.action, d.code) == ("vacate", P.JOB_POLICY_VACATE)


def test_timer_remove():
    assert P.periodic({"JobStatus": "1", "TimerRemove": "50"}, 60) == Decision(
        "remove", "The job attribute TimerRemove expression '50' evaluated to TRUE", 3, 0)
    assert P.periodic({"JobStatus": "1", "TimerRemove": "50"}, 40) is None


@pytest.mark.parametrize("secs, text", [(0, "00:00"), (60, "01:00"), (3600, "1:00:00"),
                                        (86400 + 3661, "1+01:01:01"), (600, "10:00")])
def test_format_time_short(secs, text):
    assert P.format_time_short(secs) == text
