"""condor_suspend, condor_continue and condor_vacate_job: the other names of the program behind
condor_rm/condor_hold/condor_release, so they share its arguments, its per-job and totals
output and its exit codes (:mod:`.job_actions`); this module adds what differs for them.

Suspend, Continue and Vacate act on running jobs (Continue on suspended ones), so on an idle
or held job the schedd answers "bad status" and the tool prints ``Job C.P not running to be
suspended`` (continued, vacated, fast-vacated) on stderr and exits 1.  ``-fast`` turns
condor_vacate_job into a fast (hard-kill) vacate; the other names refuse it.
"""
from __future__ import annotations

from typing import Sequence

from . import job_actions as JA
from .common import Output, run_collected

SUSPEND, CONTINUE, VACATE, VACATE_FAST = "suspend", "continue", "vacate", "vacate_fast"

TOOL = {SUSPEND: "condor_suspend", CONTINUE: "condor_continue", VACATE: "condor_vacate_job"}
JOB_ACTION = {VACATE: 5, VACATE_FAST: 6, SUSPEND: 8, CONTINUE: 9}      # the schedd's JobAction
BINDING_ACTION = {SUSPEND: "Suspend", CONTINUE: "Continue", VACATE: "Vacate",
                  VACATE_FAST: "VacateFast"}
PAST = {SUSPEND: "suspended", CONTINUE: "continued", VACATE: "vacated",
        VACATE_FAST: "fast-vacated"}
PRESENT = {SUSPEND: "suspend", CONTINUE: "continue", VACATE: "vacate", VACATE_FAST: "fast-vacate"}
WORD = {SUSPEND: "Suspend", CONTINUE: "Continue", VACATE: "Vacate"}
# A vacate carries no reason in the real tool; the bindings always send one, so the
# simulated schedd sees this text.
DEFAULT_REASON = {SUSPEND: "via condor_suspend", CONTINUE: "via condor_continue",
                  VACATE: "via condor_vacate_job", VACATE_FAST: "via condor_vacate_job"}
RESULT_TEXT = {
    **{(a, JA.AR_BAD_STATUS): "Job {job} not running to be " + PAST[a] for a in PAST},
    (SUSPEND, JA.AR_ALREADY_DONE): "Job {job} already suspended",
    (CONTINUE, JA.AR_ALREADY_DONE): "Job {job} already running",
    **{(a, JA.AR_PERMISSION_DENIED): "Permission denied to " + PRESENT[a] + " job {job}"
       for a in PRESENT},
}
EXTRA_USAGE = {VACATE: ["  -fast               Use a fast vacate (hardkill)"]}


def register() -> None:
    """Teach :mod:`.job_actions` the three extra names (idempotent)."""
    JA.TOOL.update(TOOL)
    JA.JOB_ACTION.update(JOB_ACTION)
    JA.BINDING_ACTION.update(BINDING_ACTION)
    JA.PAST.update(PAST)
    JA.PRESENT.update(PRESENT)
    JA.WORD.update(WORD)
    JA.DEFAULT_REASON.update(DEFAULT_REASON)
    JA.RESULT_TEXT.update(RESULT_TEXT)
    JA.EXTRA_USAGE.update(EXTRA_USAGE)
    JA.FAST_ACTION[VACATE] = VACATE_FAST


register()


def run(mode: str, argv: Sequence[str], out: Output) -> int:
    """One run of the tool named by ``mode`` (collects its output in ``out``)."""
    return JA.run(mode, argv, out)


def main_for(mode: str, argv: Sequence[str] | None = None) -> int:
    return run_collected(TOOL[mode], lambda a, o: run(mode, a, o), argv)


def suspend_main(argv: Sequence[str] | None = None) -> int:
    return main_for(SUSPEND, argv)


def continue_main(argv: Sequence[str] | None = None) -> int:
    return main_for(CONTINUE, argv)


def vacate_main(argv: Sequence[str] | None = None) -> int:
    return main_for(VACATE, argv)
