"""The user job policy (``user_job_policy.cpp``'s ``UserPolicy``), sans-IO: what a job's
periodic and on-exit expressions, and the pool's SYSTEM_PERIODIC_* knobs, decide.

:func:`periodic` is the evaluation the schedd (idle and held jobs) and the shadow (running
jobs) make every PERIODIC_EXPR_INTERVAL; :func:`on_exit` the shadow's when the job has
exited (its ad already carries ExitCode or ExitSignal).  Each returns a :class:`Decision`
with the reason text, hold code and subcode the real daemons write (HoldReason,
RemoveReason, ReleaseReason, or the requeue event's reason).

:func:`retry_attributes` is how submit turns ``max_retries``, ``success_exit_code`` and
``retry_until`` into OnExitRemove (``SubmitHash::SetJobRetries``).

Expressions are evaluated by the real ClassAd library (classad2) against the whole job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

import classad2

from .queue import COMPLETED, HELD, REMOVED, RUNNING, SUSPENDED, int_value

# CONDOR_HOLD_CODE (condor_holdcodes.h)
USER_REQUEST = 1
JOB_POLICY = 3
JOB_POLICY_UNDEFINED = 5
SYSTEM_POLICY = 26
SYSTEM_POLICY_UNDEFINED = 27
JOB_DURATION_EXCEEDED = 46
JOB_EXECUTE_EXCEEDED = 47
JOB_POLICY_VACATE = 1000
SYSTEM_POLICY_VACATE = 1001

SYSTEM_KNOBS = {"hold": "SYSTEM_PERIODIC_HOLD", "release": "SYSTEM_PERIODIC_RELEASE",
                "remove": "SYSTEM_PERIODIC_REMOVE", "vacate": "SYSTEM_PERIODIC_VACATE"}
JOB_ATTRS = {"hold": "PeriodicHold", "release": "PeriodicRelease", "remove": "PeriodicRemove",
             "vacate": "PeriodicVacate"}
_VALUE_WORDS = {1: "TRUE", 0: "FALSE", -1: "UNDEFINED"}


@dataclass(frozen=True)
class Decision:
    """What a policy decided.  ``action``: "hold", "release", "remove", "vacate" (evict a
    running job and requeue it), "requeue" (at exit: run the job again) or "leave" (at
    exit: nothing fired, which :func:`on_exit` never returns; it returns "remove", the job
    completing, when OnExitRemove is not false).  ``code``/``subcode`` are the hold codes
    (HoldReasonCode, or the vacate code for "vacate")."""
    action: str
    reason: str
    code: int = 0
    subcode: int = 0


# ------------------------------------------------------------------ evaluation

def job_classad(job: Mapping[str, str]) -> classad2.ClassAd:
    """The job (name -> old-syntax expression text) as a ClassAd; values that do not
    parse are left out."""
    ad = classad2.ClassAd()
    for name, text in job.items():
        try:
            ad[name] = classad2.ExprTree(text)
        except Exception:
            continue
    return ad


def _number(value) -> Optional[float]:
    """The value as a number (booleans count, as the ClassAd IsNumber does), else None
    (undefined and error are classad2.Value members, which are ints too)."""
    if isinstance(value, classad2.Value):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _eval(ad: classad2.ClassAd, expr: classad2.ExprTree):
    try:
        return expr.eval(ad)
    except Exception:
        return None


def _fires(ad: classad2.ClassAd, expr: classad2.ExprTree) -> bool:
    n = _number(_eval(ad, expr))
    return n is not None and n != 0


def old_text(expr: classad2.ExprTree) -> str:
    """An expression as the old-ClassAd unparser writes it (``=?=``, not ``is``)."""
    ad = classad2.ClassAd()
    ad["X"] = expr
    return ad.printOld().rstrip("\n")[len("X = "):]


def _reason_text(source: str, name: str, expr_text: str, value: int) -> str:
    return f"The {source} {name} expression '{expr_text}' evaluated to {_VALUE_WORDS[value]}"


def _attr_string(ad: classad2.ClassAd, name: str) -> str:
    try:
        v = ad.eval(name)
    except Exception:
        return ""
    return v if isinstance(v, str) else ""


def _attr_int(ad: classad2.ClassAd, name: str) -> int:
    try:
        n = _number(ad.eval(name))
    except Exception:
        return 0
    return int(n) if n is not None else 0


def _job_attribute(ad: classad2.ClassAd, attr: str, action: str, code: int = JOB_POLICY
                   ) -> Optional[Decision]:
    """A job's own policy attribute: fires when it evaluates to a non-zero number; the
    reason is <attr>Reason if the job has one, else the standard sentence."""
    expr = ad.lookup(attr) if attr in ad else None
    if expr is None or not _fires(ad, expr):
        return None
    subcode = _attr_int(ad, attr + "SubCode")
    reason = _attr_string(ad, attr + "Reason") or _reason_text("job attribute", attr, old_text(expr), 1)
    return Decision(action, reason, code, subcode)


def _system_policies(system: Mapping[str, str], base: str) -> list[tuple[str, str]]:
    """(knob, expression text) of each non-trivial policy: the tagged ones of
    <base>_NAMES in order, then <base> itself."""
    out = []
    for tag in re.split(r"[\s,]+", system.get(base + "_NAMES", "").strip()):
        if tag and tag.upper() != "NAMES":
            knob = f"{base}_{tag}"
            text = (system.get(knob) or "").strip()
            if text and not _trivial(text):
                out.append((knob, text))
    text = (system.get(base) or "").strip()
    if text and not _trivial(text):
        out.append((base, text))
    return out


def _trivial(text: str) -> bool:
    try:
        v = classad2.ExprTree(text).eval()
    except Exception:
        return True                                   # unparseable: ignored, as the real one
    return _number(v) == 0 and _is_literal(text)


def _is_literal(text: str) -> bool:
    return bool(re.fullmatch(r"\s*(false|0+(\.0*)?|true|\d+(\.\d*)?)\s*", text, re.I))


def _system(ad: classad2.ClassAd, system: Mapping[str, str], action: str) -> Optional[Decision]:
    base = SYSTEM_KNOBS[action]
    for knob, text in _system_policies(system, base):
        try:
            expr = classad2.ExprTree(text)
        except Exception:
            continue
        if not _fires(ad, expr):
            continue
        subcode, reason = 0, ""
        sub_text = (system.get(knob + "_SUBCODE") or "").strip()
        if sub_text:
            n = _number(_eval(ad, classad2.ExprTree(sub_text)))
            subcode = int(n) if n is not None else 0
        reason_text = (system.get(knob + "_REASON") or "").strip()
        if reason_text:
            v = _eval(ad, classad2.ExprTree(reason_text))
            reason = v if isinstance(v, str) else ""
        return Decision(action, reason or _reason_text("system macro", base, text, 1),
                        SYSTEM_POLICY, subcode)
    return None


def _single(ad: classad2.ClassAd, system: Mapping[str, str], action: str) -> Optional[Decision]:
    return _job_attribute(ad, JOB_ATTRS[action], action) or _system(ad, system, action)


def format_time_short(secs: int) -> str:
    """``format_time_short``: d+hh:mm:ss without the leading zero fields."""
    days, rest = divmod(int(secs), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, s = divmod(rest, 60)
    text = "%3d+%02d:%02d:%02d" % (days, hours, minutes, s)
    i = 0
    while i < len(text) and text[i] in " 0+":
        i += 1
    if i < len(text) and text[i] == ":":
        i += 1
    return text[i:]


def _durations(job: Mapping[str, str], now: int) -> Optional[Decision]:
    """AllowedJobDuration (since the shadow started) and AllowedExecuteDuration (since the
    job began executing, or since its last output checkpoint)."""
    bday = int_value(job.get("ShadowBday"))
    allowed = int_value(job.get("AllowedJobDuration"))
    if allowed is not None and bday is not None and now - bday >= allowed:
        return Decision("hold", "The job exceeded allowed job duration of "
                        + format_time_short(allowed), JOB_DURATION_EXCEEDED, 0)
    allowed = int_value(job.get("AllowedExecuteDuration"))
    began = int_value(job.get("JobCurrentStartExecutingDate"))
    if allowed is not None and began is not None and bday is not None and began >= bday:
        out_done = int_value(job.get("TransferOutFinished"))
        if out_done is not None and out_done > began:
            began = out_done
        if now - began > allowed:
            return Decision("hold", "The job exceeded allowed execute duration of "
                            + format_time_short(allowed), JOB_EXECUTE_EXCEEDED, 0)
    return None


def _with_run_time(job: Mapping[str, str], now: int) -> dict:
    """The shadow evaluates a running job with this run's wall time already counted in
    RemoteWallClockTime."""
    out = dict(job)
    bday = int_value(job.get("ShadowBday"))
    if bday:
        try:
            previous = float(job.get("RemoteWallClockTime") or 0)
        except ValueError:
            previous = 0.0
        out["RemoteWallClockTime"] = repr(previous + (now - bday))
    return out


def _periodic(job: Mapping[str, str], ad: classad2.ClassAd, now: int, state: int,
              system: Mapping[str, str], *, exiting: bool = False) -> Optional[Decision]:
    if state in (RUNNING, SUSPENDED):
        d = _durations(job, now)
        if d is not None:
            return d
        d = None if exiting else _single(ad, system, "vacate")
        if d is not None:
            code = {JOB_POLICY: JOB_POLICY_VACATE, SYSTEM_POLICY: SYSTEM_POLICY_VACATE}.get(d.code, d.code)
            return Decision("vacate", d.reason, code, d.subcode)
    timer = job.get("TimerRemove")
    if timer is not None:
        value = int_value(timer)
        if value is None and _number(_eval(ad, ad.lookup("TimerRemove"))) is None:
            return Decision("hold", _reason_text("job attribute", "TimerRemove", old_text(ad.lookup("TimerRemove")), -1),
                            JOB_POLICY_UNDEFINED, 0)
        if value is not None and 0 <= value < now:
            return Decision("remove", _reason_text("job attribute", "TimerRemove", old_text(ad.lookup("TimerRemove")), 1),
                            JOB_POLICY, 0)
    if state not in (HELD, COMPLETED):
        d = _single(ad, system, "hold")
        if d is not None:
            return d
    if state == HELD:
        max_releases = int_value(system.get("SYSTEM_MAX_RELEASES"), -1)
        if max_releases == -1:
            max_releases = 2**31 - 1
        if int_value(job.get("NumHolds"), 0) < max_releases and \
                int_value(job.get("HoldReasonCode"), 0) != USER_REQUEST:
            d = _single(ad, system, "release")
            if d is not None:
                return d
    return _single(ad, system, "remove")


def periodic(job: Mapping[str, str], now: int, *, system: Mapping[str, str] = {}
             ) -> Optional[Decision]:
    """The periodic policy of ``job`` at ``now``: None when it stays as it is.
    ``system``: the SYSTEM_PERIODIC_{HOLD,RELEASE,REMOVE,VACATE} knobs (with their
    _NAMES, _<tag>, _REASON, _SUBCODE forms) and SYSTEM_MAX_RELEASES, as config text."""
    state = int_value(job.get("JobStatus"), 0)
    if state == REMOVED or state == 0:
        return None
    if state in (RUNNING, SUSPENDED):
        job = _with_run_time(job, now)
    return _periodic(job, job_classad(job), now, state, system)


def on_exit(job: Mapping[str, str], now: int, *, system: Mapping[str, str] = {}) -> Decision:
    """The policy when the job has exited (``job`` carries ExitBySignal and ExitCode or
    ExitSignal): the periodic expressions first, then OnExitHold, then OnExitRemove.
    "remove" means the job leaves the queue as Completed (as the shadow's terminateJob
    does whichever expression fired); "requeue" that OnExitRemove was false."""
    state = int_value(job.get("JobStatus"), RUNNING)
    if state == REMOVED:
        return Decision("remove", _reason_text("job attribute", "OnExitRemove", "true", 1), JOB_POLICY)
    job = _with_run_time(job, now)
    ad = job_classad(job)
    d = _periodic(job, ad, now, state, system, exiting=True)
    if d is not None:
        return d
    d = _job_attribute(ad, "OnExitHold", "hold")
    if d is not None:
        return d
    expr = ad.lookup("OnExitRemove") if "OnExitRemove" in ad else None
    if expr is not None:
        n = _number(_eval(ad, expr))
        if n is not None and n == 0:
            return Decision("requeue", _reason_text("job attribute", "OnExitRemove", old_text(expr), 0),
                            JOB_POLICY, 0)
        return Decision("remove", _reason_text("job attribute", "OnExitRemove", old_text(expr), 1), JOB_POLICY)
    return Decision("remove", "", 0, 0)


# ------------------------------------------------------------------ submit's translation

def _wrap_for_or(text: str) -> str:
    """Parenthesize an expression whose top operator binds looser than || (the ?: one)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    depth = 0
    for c in stripped:
        depth += c in "([{"
        depth -= c in ")]}"
        if c == "?" and depth == 0:
            return f"({text})"
    return text


def retry_attributes(*, max_retries: Optional[int] = None, success_exit_code: Optional[int] = None,
                     retry_until: Optional[str] = None, on_exit_remove: Optional[str] = None,
                     on_exit_hold: Optional[str] = None, default_max_retries: int = 2
                     ) -> dict[str, str]:
    """The attributes submit writes for these submit commands (SetJobRetries): without
    retries, only the on-exit expressions given; with any of max_retries,
    success_exit_code or retry_until, JobMaxRetries (DEFAULT_JOB_MAX_RETRIES when not
    given) and OnExitRemove ``NumJobCompletions > JobMaxRetries || ExitCode =?= <success>``
    with retry_until (a number means that exit code) and on_exit_remove or-ed in."""
    out: dict[str, str] = {}
    if max_retries is None and success_exit_code is None and retry_until is None:
        if on_exit_remove is not None:
            out["OnExitRemove"] = on_exit_remove
        if on_exit_hold is not None:
            out["OnExitHold"] = on_exit_hold
        return out
    until = ""
    if retry_until is not None:
        text = retry_until.strip()
        code = int_value(text) if re.fullmatch(r"[-+]?\d+", text) else None
        until = f"ExitCode =?= {code}" if code is not None else _wrap_for_or(text)
    out["JobMaxRetries"] = str(default_max_retries if max_retries is None else max_retries)
    out["OnExitHold"] = on_exit_hold if on_exit_hold is not None else "false"
    if success_exit_code is not None:
        out["JobSuccessExitCode"] = str(success_exit_code)
        check = "JobSuccessExitCode"
    else:
        check = "0"
    if until:
        check += " || " + until
    remove = "NumJobCompletions > JobMaxRetries || ExitCode =?= " + check
    if on_exit_remove is not None:
        remove += " || " + _wrap_for_or(on_exit_remove)
    out["OnExitRemove"] = remove
    return out
