"""condor_rm, condor_hold and condor_release: one program, three names, as the real tool.

Arguments name jobs (``cluster.proc``), clusters (``cluster``), owners (any other word),
``-constraint expr`` or ``-all``; ``-held`` narrows to held jobs.  Job ids are acted on by
id, everything else by one constraint, and the texts printed are the real tool's.

The ``htcondor2`` bindings only hand back totals for an action (never the per-job result the
real tool asks for with ids), so ids are acted on one at a time and the per-job result is read
from each reply's totals; ``-long`` prints the ad the real schedd would have sent, rebuilt
from those replies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import classad2
import htcondor2

from .common import (ArgCursor, Exit, Output, ToolError, not_dashed, is_dash_arg_colon_prefix,
                     is_dash_arg_prefix, is_queue_super_user, main_exit, schedd_location,
                     schedd_short_name, user_name)

HOLD, RELEASE, REMOVE, REMOVE_X, TRANSFER_AND_REMOVE = "hold", "release", "remove", "remove_x", \
    "transfer_remove"
JOB_ACTION = {HOLD: 1, RELEASE: 2, REMOVE: 3, REMOVE_X: 4, TRANSFER_AND_REMOVE: 10}
BINDING_ACTION = {HOLD: "Hold", RELEASE: "Release", REMOVE: "Remove", REMOVE_X: "RemoveX",
                  TRANSFER_AND_REMOVE: "Remove"}
TOOL = {HOLD: "condor_hold", RELEASE: "condor_release", REMOVE: "condor_rm"}
PAST = {HOLD: "held", RELEASE: "released", REMOVE: "marked for removal",
        REMOVE_X: "removed locally (remote state unknown)",
        TRANSFER_AND_REMOVE: "marked for removal after file transfer"}
PRESENT = {HOLD: "hold", RELEASE: "release", REMOVE: "remove", REMOVE_X: "remove",
           TRANSFER_AND_REMOVE: "remove"}
DEFAULT_REASON = {HOLD: "via condor_hold", RELEASE: "via condor_release", REMOVE: "via condor_rm",
                  REMOVE_X: "via condor_rm -forcex", TRANSFER_AND_REMOVE: "via condor_rm -transfer"}
WORD = {HOLD: "Hold", RELEASE: "Release", REMOVE: "Remove"}
REASON_ATTR = {HOLD: "HoldReason", RELEASE: "ReleaseReason", REMOVE: "RemoveReason"}
# Hooks for the other names of this program (condor_suspend, condor_continue and
# condor_vacate_job, registered by :mod:`.job_state`): extra usage lines per mode, result
# texts per (action, result) as ``str.format`` templates over ``job``, and the action that
# ``-fast`` turns a mode into.
EXTRA_USAGE: dict[str, list[str]] = {}
RESULT_TEXT: dict[tuple[str, int], str] = {}
FAST_ACTION: dict[str, str] = {}

# action results (the schedd's action_result_t)
AR_ERROR, AR_SUCCESS, AR_NOT_FOUND, AR_BAD_STATUS, AR_ALREADY_DONE, AR_PERMISSION_DENIED = range(6)
TOTAL_KEYS = ["TotalError", "TotalSuccess", "TotalNotFound", "TotalBadStatus", "TotalAlreadyDone",
              "TotalPermissionDenied"]
HELD = 5
CT_NONE, CT_ALL, CT_CLUSTER, CT_USER, CT_SIMPLE, CT_COMPLEX = range(6)
_INT = re.compile(r"^[+-]?\d+$")
_REAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+)$")


def usage(mode: str) -> str:
    word = WORD[mode]
    lines = [f"Usage: {TOOL[mode]} [options] [constraints]",
             " where [options] is zero or more of:",
             "  -help               Display this message and exit",
             "  -version            Display version information and exit",
             "  -long               Display full result classad",
             "  -totals             Display success/failure totals",
             "  -debug              Display debugging information while running",
             "  -name schedd_name   Connect to the given schedd",
             "  -pool hostname      Use the given central manager to find daemons",
             '  -addr <ip:port>     Connect directly to the given "sinful string"']
    if mode == REMOVE:
        lines += ["  -reason reason      Use the given RemoveReason",
                  "  -forcex             Force the immediate local removal of jobs in the X state",
                  "                      (only affects jobs already being removed)",
                  "  -transfer           Transfer output files before removing"]
    elif mode == RELEASE:
        lines += ["  -reason reason      Use the given ReleaseReason"]
    elif mode == HOLD:
        lines += ["  -reason reason      Use the given HoldReason",
                  "  -subcode number     Set HoldReasonSubCode"]
    lines += EXTRA_USAGE.get(mode, [])
    lines += [" and where [constraints] is one of:",
              f"  cluster.proc        {word} the given job",
              f"  cluster             {word} the given cluster of jobs",
              f"  user                {word} all jobs owned by user",
              f"  -constraint expr    {word} all jobs matching the boolean expression",
              f"  -all                {word} all jobs (cannot be used with other constraints)",
              f"  -held               {word} only held jobs (may be combined with the above constraints)"]
    return "\n".join(lines) + "\n"


def result_string(action: str, job: str, result: int) -> str:
    """The line the real tool prints for one job id and its action result."""
    if (action, result) in RESULT_TEXT:
        return RESULT_TEXT[(action, result)].format(job=job)
    if result == AR_SUCCESS:
        return f"Job {job} {PAST[action]}"
    if result == AR_NOT_FOUND:
        return f"Job {job} not found"
    if result == AR_PERMISSION_DENIED:
        verb = {REMOVE: "remove", REMOVE_X: "force removal of",
                TRANSFER_AND_REMOVE: "transfer and remove", HOLD: "hold", RELEASE: "release"}[action]
        return f"Permission denied to {verb} job {job}"
    if result == AR_BAD_STATUS:
        if action == RELEASE:
            return f"Job {job} not held to be released"
        if action == REMOVE_X:
            return f"Job {job} not in `X' state to be forcibly removed"
        return f"Invalid result for job {job}"
    if result == AR_ALREADY_DONE:
        if action == HOLD:
            return f"Job {job} already held"
        if action in (REMOVE, TRANSFER_AND_REMOVE):
            return f"Job {job} already marked for removal"
        if action == REMOVE_X:
            return f"Job {job} already marked for forced removal"
        return f"Invalid result for job {job}"
    return f"No result found for job {job}"


def totals_line(totals: Sequence[int]) -> str:
    t = list(totals) + [0] * (6 - len(totals))
    return (f"{t[AR_SUCCESS]} Succeeded, {t[AR_ERROR]} Failed, {t[AR_NOT_FOUND]} Not Found, "
            f"{t[AR_BAD_STATUS]} Bad Status, {t[AR_ALREADY_DONE]} Already Done, "
            f"{t[AR_PERMISSION_DENIED]} Permission Denied\n")


def long_ad(lines: dict[str, str]) -> str:
    """A result ad as ``fPrintAd`` prints it (sorted), then the blank line the tool adds."""
    return "".join(f"{k} = {lines[k]}\n" for k in sorted(lines)) + "\n"


def totals_of(ad) -> list[int]:
    return [int(ad.get(k, 0) or 0) for k in TOTAL_KEYS]


@dataclass
class Request:
    mode: str
    action: str
    reason: str | None = None
    subcode: str | None = None
    long: bool = False
    totals: bool = False
    held: bool = False
    name: str | None = None
    pool: str | None = None
    addr: str | None = None
    job_ids: list[str] = field(default_factory=list)
    constraint: str = ""
    constraint_type: int = CT_NONE
    usercluster: str = ""
    usercluster_type: int = CT_NONE
    had_error: bool = False

    def add_constraint(self, text: str, ctype: int) -> None:
        if self.constraint_type in (CT_NONE, CT_ALL):
            self.constraint, self.constraint_type = text, ctype
        elif self.constraint_type == CT_COMPLEX:
            self.constraint += f" && ({text})"
        else:
            self.constraint = f"({self.constraint}) && ({text})"
            self.constraint_type = CT_COMPLEX

    def add_usercluster(self, text: str, ctype: int, joiner: str = " || ") -> None:
        if self.usercluster_type == CT_NONE:
            self.usercluster, self.usercluster_type = text, ctype
        else:
            self.usercluster += joiner + text
            self.usercluster_type = CT_COMPLEX


def proc_arg(req: Request, arg: str, out: Output) -> None:
    """A bare argument: a job id, a cluster id or an owner's name."""
    if _INT.match(arg) or _REAL.match(arg):
        head, dot, tail = arg.partition(".")
        try:
            c = int(head)
        except ValueError:
            c = 0
        if c <= 0:
            out.err(f"Invalid cluster # from {arg}.\n")
            req.had_error = True
            return
        if not dot:
            req.add_usercluster(f"ClusterId == {c}", CT_CLUSTER)
            return
        m = re.match(r"^[+-]?\d+", tail)
        p = int(m.group(0)) if m else 0
        if p < 0:
            out.err(f"Invalid proc # from {arg}.\n")
            req.had_error = True
            return
        if m and m.end() == len(tail):
            req.job_ids.append(arg)
            return
        out.err(f'Warning: unrecognized "{arg}" skipped.\n')
        return
    req.add_usercluster(f'Owner == "{arg}"', CT_USER)



def parse_args(mode: str, argv: Sequence[str], out: Output) -> Request:
    tool = TOOL[mode]
    req = Request(mode=mode, action=mode)

    def fail_usage(rc: int = 1, to_stdout: bool = False):
        (out.out if to_stdout else out.err)(usage(mode))
        raise Exit(rc)

    if not argv:
        out.err("You did not specify any jobs\n")
        fail_usage()
    cursor = ArgCursor(argv)

    def value(error: str, accept=not_dashed) -> str:
        return cursor.take(f"{tool}: {error}", accept)

    for arg in cursor:
        if arg.startswith("-"):
            if is_dash_arg_colon_prefix(arg, "debug", 1)[0]:
                pass
            elif is_dash_arg_prefix(arg, "long", 1):
                req.long = True
            elif is_dash_arg_prefix(arg, "totals", 3):
                req.totals = True
            elif is_dash_arg_prefix(arg, "constraint", 1):
                req.add_constraint(value("-constraint requires another argument"), CT_SIMPLE)
            elif is_dash_arg_prefix(arg, "all", 1):
                if req.constraint_type or req.usercluster_type:
                    raise ToolError(f"{tool}: can't mix -all with other constraints\n")
                req.add_constraint("ClusterId >= 0", CT_ALL)
            elif is_dash_arg_prefix(arg, "held", 3) or is_dash_arg_prefix(arg, "hold", 3):
                req.held = True
            elif is_dash_arg_prefix(arg, "addr", 2):
                addr = value("-addr requires another argument")
                if not re.match(r"^<[^<>]+>$", addr):
                    raise ToolError(f'{tool}: "{addr}" is not a valid address\n'
                                    "Should be of the form <ip.address.here:port>\n"
                                    "For example: <123.456.789.123:6789>\n")
                req.addr = addr
            elif is_dash_arg_prefix(arg, "reason", 1):
                req.reason = value("-reason requires another argument", None)
            elif is_dash_arg_prefix(arg, "subcode", 1):
                code = value("-subcode requires another argument", None)
                if not re.match(r"^[+-]?\d+$", code):
                    raise ToolError(f"Invalid -subcode {code}!\n")
                req.subcode = code
            elif is_dash_arg_prefix(arg, "forcex", 1 if mode == REMOVE else 2):
                if mode != REMOVE:
                    out.err("-forcex is only valid with condor_rm\n")
                    fail_usage()
                req.action = REMOVE_X
            elif is_dash_arg_prefix(arg, "transfer", 2):
                if mode != REMOVE:
                    out.err("-transfer is only valid with condor_rm\n")
                    fail_usage()
                req.action = TRANSFER_AND_REMOVE
            elif is_dash_arg_prefix(arg, "fast", 1 if mode in FAST_ACTION else 2):
                if mode not in FAST_ACTION:
                    out.err("-fast is only valid with condor_vacate_job\n")
                    fail_usage()
                req.action = FAST_ACTION[mode]
            elif is_dash_arg_prefix(arg, "name", 1):
                req.name = value("-name requires another argument", None)
            elif is_dash_arg_prefix(arg, "pool", 1):
                req.pool = value("-pool requires another argument", None)
            elif is_dash_arg_prefix(arg, "version", 1):
                raise ToolError(rc=0, stdout=version_text())
            elif is_dash_arg_prefix(arg, "help", 1):
                fail_usage(0, to_stdout=False)
            else:
                out.err(f"Unrecognized option: {arg}\n")
                fail_usage()
        else:
            if req.constraint_type == CT_ALL:
                fail_usage()
            proc_arg(req, arg, out)
    if not req.constraint_type and not req.usercluster_type and not req.job_ids and not req.held:
        out.err("You did not specify any jobs\n")
        fail_usage()
    if req.held and req.job_ids:
        for jid in req.job_ids:
            c, _, p = jid.partition(".")
            one = f"(ClusterId == {int(c)} && ProcId == {int(p)})"
            if req.usercluster_type == CT_NONE:
                req.usercluster = one
            else:
                req.usercluster += f" || {one}"
            req.usercluster_type = CT_COMPLEX
        req.job_ids = []
    if req.reason is None:
        req.reason = DEFAULT_REASON[req.action]
    return req


def version_text() -> str:
    try:
        return f"{htcondor2.version()}\n{htcondor2.platform()}\n"
    except Exception:
        return ""


def binding_reason(req: Request):
    if req.action == HOLD and req.subcode is not None:
        return (req.reason, int(req.subcode))
    return (req.reason, None)


def act(schedd, req: Request, spec):
    return schedd.act(getattr(htcondor2.JobAction, BINDING_ACTION[req.action]), spec,
                      binding_reason(req))


def result_code(totals: Sequence[int]) -> int:
    """The one job's result, read from the totals of a single-job request."""
    for code in (AR_SUCCESS, AR_NOT_FOUND, AR_BAD_STATUS, AR_ALREADY_DONE, AR_PERMISSION_DENIED):
        if totals[code]:
            return code
    return AR_ERROR


def work_by_list(schedd, req: Request, out: Output) -> None:
    results: dict[str, int] = {}
    total_job_ads = 0
    for jid in req.job_ids:
        ad = act(schedd, req, [jid])
        if ad is None:
            results[jid] = AR_ERROR
            continue
        results[jid] = result_code(totals_of(ad))
        total_job_ads = int(ad.get("TotalJobAds", 0) or 0)
    any_ok = any(r == AR_SUCCESS for r in results.values())
    if req.long:
        lines = {"ActionResult": "1" if any_ok else "0", "ActionResultType": "1",
                 "IsQueueSuperUser": "true" if is_queue_super_user(user_name()) else "false",
                 "JobAction": str(JOB_ACTION[req.action]), "TotalJobAds": str(total_job_ads)}
        for jid, r in results.items():
            c, _, p = jid.partition(".")
            lines[f"job_{int(c)}_{int(p)}"] = str(r)
        out.out(long_ad(lines))
    elif req.totals:
        out.out(totals_line([0] * 6))        # a by-id reply carries no totals
    if not any_ok:
        req.had_error = True
        out.err("\n")
    for jid in req.job_ids:
        c, _, p = jid.partition(".")
        line = result_string(req.action, f"{int(c)}.{int(p)}", results[jid])
        (out.out if results[jid] == AR_SUCCESS else out.err)(line + "\n")


def constraint_message(req: Request) -> str:
    text = req.constraint
    if req.constraint_type == CT_USER:
        return f" of user {text.split(' == ', 1)[1]}"
    if req.constraint_type == CT_CLUSTER:
        return f" in cluster {text.split(' == ', 1)[1]}"
    if req.constraint_type in (CT_ALL, CT_NONE):
        return ""
    return f" matching constraint ({text})"


def handle_constraints(schedd, req: Request, out: Output) -> None:
    if req.usercluster_type:
        req.add_constraint(req.usercluster, req.usercluster_type)
    if not req.constraint_type and not req.held:
        return
    cmsg = constraint_message(req)
    constraint = req.constraint
    if req.held:
        constraint = f"JobStatus == {HELD}" if not constraint else f"{constraint} && (JobStatus == {HELD})"
    jobs_word = "held jobs" if req.held else "jobs"
    ad = act(schedd, req, constraint)
    ok = True
    no_jobs = False
    if ad is None:
        req.had_error, ok = True, False
    else:
        totals = totals_of(ad)
        if req.long:
            lines = {"ActionResult": str(int(ad.get("TotalChangedAds", 0) or 0)),
                     "ActionResultType": "2",
                     "IsQueueSuperUser": "true" if is_queue_super_user(user_name()) else "false",
                     "JobAction": str(JOB_ACTION[req.action]),
                     "TotalJobAds": str(int(ad.get("TotalJobAds", 0) or 0))}
            for n, v in enumerate(totals + [0]):
                lines[f"result_total_{n}"] = str(v)
            out.out(long_ad(lines))
        elif req.totals:
            out.out(totals_line(totals))
        if not int(ad.get("TotalChangedAds", 0) or 0):
            ok = False
            if int(ad.get("TotalJobAds", 0) or 0) > 0:
                req.had_error = True
            else:
                no_jobs = True
    if ok:
        out.out(f"All {jobs_word}{cmsg} have been {PAST[req.action]}\n")
        return
    out.err(f"{TOOL[req.mode]}:0:There are no jobs in the queue\n" if no_jobs else "\n")
    if req.had_error:
        out.err(f"Couldn't find/{PRESENT[req.action]} all {jobs_word}{cmsg}\n")


def find_schedd(req: Request, out: Output):
    tool = TOOL[req.mode]
    if req.addr:
        return htcondor2.Schedd(classad2.ClassAd({"MyAddress": req.addr}))
    ad = schedd_location(req.name, req.pool)
    if ad is None:
        if req.name:
            out.err(f"Error: cannot get address of schedd {req.name.split('@')[-1]}\n")
        else:
            out.err(f"{tool}: Can't find address for schedd {schedd_short_name(None)}\n")
        raise Exit(1)
    return htcondor2.Schedd(ad)


def run(mode: str, argv: Sequence[str], out: Output) -> int:
    req = parse_args(mode, argv, out)
    schedd = find_schedd(req, out)
    try:
        if req.job_ids:
            if req.constraint_type:
                out.err("Warning, -constraint is ignored for fully qualified job ids\n")
            work_by_list(schedd, req, out)
        handle_constraints(schedd, req, out)
    except htcondor2.HTCondorException as e:
        if not out.stdout and not out.stderr and "locate" in str(e).lower():
            out.err(f"{TOOL[mode]}: Can't find address for schedd {schedd_short_name(req.name)}\n")
            return 1
        out.err(f"{TOOL[mode]}: {str(e).strip()}\n")
        return 1
    if req.action == RELEASE and not req.had_error:
        try:
            schedd.reschedule()
        except Exception:
            pass
    return 1 if req.had_error else 0


def rm_main(argv: Sequence[str] | None = None) -> None:
    main_exit("condor_rm", lambda a, o: run(REMOVE, a, o), argv)


def hold_main(argv: Sequence[str] | None = None) -> None:
    main_exit("condor_hold", lambda a, o: run(HOLD, a, o), argv)


def release_main(argv: Sequence[str] | None = None) -> None:
    main_exit("condor_release", lambda a, o: run(RELEASE, a, o), argv)

