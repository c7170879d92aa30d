"""condor_wait: watch a job event log until the jobs it names have finished.

As the real tool: the log (and optionally a ``cluster[.proc[.subproc]]``) are arguments;
``-wait SECONDS`` gives up with ``Time expired.`` (exit 1), ``-num N`` stops after N jobs
ended, ``-status`` prints each submit/execute/terminate/abort, ``-echo`` copies the events,
``-allevents`` reads to the end of the log.  A job is finished when the log holds its
terminate or abort event; exit 0 only when that is confirmed.

The decisions are made by :class:`Watcher`, which is fed parsed events and returns the text
to print; :func:`main` feeds it from the real reader, ``htcondor2.JobEventLog``.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

from .common import ArgCursor, ToolError, is_dash_arg_prefix, run_tool

ANY = -1
SUBMIT, EXECUTE, TERMINATED, ABORTED = 0, 1, 5, 9
INT_MAX = 2 ** 31 - 1

USAGE_BODY = """
    -help             Display options
    -version          Display Condor version
    -debug            Show extra debugging info
    -status           Show job start and terminate info
    -echo[:<fmt>]     Echo log events relevant to [job-number]
       optional <fmt> is one or more log format options:
         ISO_DATE     date in Year-Month-Day form
         UTC          echo time as UTC time
         XML          echo in XML log format
         JSON         echo in JSON log format
    -num <number>     Wait for this many jobs to end
                       (default is all jobs)
    -wait <seconds>   Wait no more than this time
                       (default is unlimited)
    -allevents        Continue on even if all jobs have ended.
                      use with -echo to transcribe the whole log
                      cannot be used with -num

This command watches a log file, and indicates when
a specific job (or all jobs mentioned in the log)
have completed or aborted. It returns success if
all such jobs have completed or aborted, and returns
failure otherwise. 

"""


def usage(cmd: str = "condor_wait") -> str:
    return (f"\nUse: {cmd} [options] <log-file> [job-number]\nWhere options are:" + USAGE_BODY
            + "Examples:\n"
            f"    {cmd} logfile\n"
            f"    {cmd} logfile 35\n"
            f"    {cmd} logfile 1406.35\n"
            f"    {cmd} -wait 60 logfile 13.25.3\n"
            f"    {cmd} -num 2 logfile\n"
            f"\nTranscribe an entire log to UTC timestamps:\n    {cmd} -all -echo:UTC logfile\n")


def atoi(text: str) -> int:
    """C's ``atoi``: the leading integer of ``text``, 0 when there is none."""
    m = re.match(r"\s*[+-]?\d+", text)
    return int(m.group(0)) if m else 0


def job_number(text: str) -> tuple[int, int, int] | None:
    """``cluster[.proc[.subproc]]`` read as ``sscanf("%d.%d.%d")`` does; None if no number."""
    parts = [ANY, ANY, ANY]
    rest = text
    for n in range(3):
        m = re.match(r"\s*[+-]?\d+", rest)
        if not m:
            return None if n == 0 else tuple(parts)
        parts[n] = int(m.group(0))
        rest = rest[m.end():]
        if not rest.startswith("."):
            break
        rest = rest[1:]
    return tuple(parts)


@dataclass
class Options:
    log: str = ""
    job: tuple[int, int, int] = (ANY, ANY, ANY)
    wait: int = 0                 # seconds; 0 means no limit
    dont_wait: bool = False       # read what is there, then stop
    minjobs: int = 0
    status: bool = False
    echo: bool = False
    special_event: int = 0
    min_special: int = 0


def parse_args(argv: Sequence[str], cmd: str = "condor_wait") -> Options:
    """The options as wait.cpp reads them; bad ones raise :class:`ToolError` (usage, exit 1)."""
    o = Options()
    log: str | None = None
    job: str | None = None

    def fail(message: str = "") -> ToolError:
        return ToolError(message + usage(cmd), rc=1)

    cursor = ArgCursor(argv)

    def value(message: str) -> str:
        word = cursor.take()
        if word is None:
            raise fail(message + "\n")
        return word

    for a in cursor:
        if a == "-help":
            raise ToolError(usage(cmd), rc=0)
        elif a == "-version":
            import htcondor2
            raise ToolError("", rc=1, stdout=f"{htcondor2.version()}\n{htcondor2.platform()}\n")
        elif is_dash_arg_prefix(a.split(":", 1)[0], "debug", 1):
            o.status = False
        elif a == "-status":
            o.status = True
        elif is_dash_arg_prefix(a, "attach"):
            pass
        elif is_dash_arg_prefix(a.split(":", 1)[0], "echo", -1):
            o.echo = True
        elif is_dash_arg_prefix(a.split(":", 1)[0], "event-id", -1):
            o.special_event = atoi(value("-event-id requires an id"))
            o.min_special = atoi(a.split(":", 1)[1]) if ":" in a else 1
        elif is_dash_arg_prefix(a, "allevents", 3):
            if o.minjobs:
                raise fail("-allevents cannot be used with -num\n")
            o.minjobs = INT_MAX
            if not o.wait:
                o.dont_wait = True
        elif a == "-wait":
            o.wait = atoi(value("-wait requires an argument"))
            o.dont_wait = not o.wait
        elif a == "-num":
            count = value("-num requires an argument")
            if o.minjobs == INT_MAX:
                raise fail("-num cannot be used with -allevents\n")
            o.minjobs = atoi(count)
            if o.minjobs < 1:
                raise fail("-num must be greater than zero\n")
        elif a == "-log":
            log = value("-log requires an argument")
        elif log is not None and job is None and a == "-1":
            job = a
        elif not a.startswith("-"):
            if log is None:
                log = a
            elif job is None:
                job = a
            else:
                raise fail(f"Extra argument: {a}\n\n")
        else:
            raise fail()
    if log is None:
        raise fail()
    o.log = log
    if job is not None:
        parsed = job_number(job)
        if parsed is None:
            raise ToolError(f"Couldn't understand job number: {job}\n", rc=1)
        o.job = parsed
    return o


@dataclass
class Event:
    """What the watcher needs of one log event."""
    number: int
    cluster: int
    proc: int
    subproc: int = 0
    text: str = ""                # the event as the log spells it (for -echo)
    execute_host: str = ""


_HEADER = re.compile(r"^\d+ \((-?\d+)\.(-?\d+)\.(-?\d+)\)")


def event_from(job_event) -> Event:
    """An :class:`Event` from an ``htcondor2.JobEvent``."""
    text = str(job_event)
    m = _HEADER.match(text)
    subproc = int(m.group(3)) if m else 0
    host = job_event.get("ExecuteHost", "") if int(job_event.type) == EXECUTE else ""
    return Event(int(job_event.type), job_event.cluster, job_event.proc, subproc, text,
                 host if isinstance(host, str) else "")


@dataclass
class Watcher:
    """The bookkeeping of wait.cpp: which jobs were submitted and have not ended yet."""
    opts: Options
    submitted: int = 0
    ended: int = 0
    special: int = 0
    pending: set = field(default_factory=set)
    initial_scan: bool = True

    def matches(self, ev: Event) -> bool:
        c, p, s = self.opts.job
        return (c in (ANY, ev.cluster)) and (p in (ANY, ev.proc)) and (s in (ANY, ev.subproc))

    def on_event(self, ev: Event) -> tuple[str, int | None]:
        """Text to print for one event, and the exit code if the wait is over."""
        out = []
        if self.matches(ev):
            key = f"{ev.cluster}.{ev.proc}.{ev.subproc}"
            if self.opts.echo:
                out.append(ev.text + ("" if ev.text.endswith("\n") else "\n") + "...\n")
            if ev.number == SUBMIT:
                if self.opts.status:
                    out.append(f"{key} submitted\n")
                self.pending.add(key)
                self.submitted += 1
            elif ev.number in (TERMINATED, ABORTED):
                if self.opts.status:
                    out.append(f"{key} {'completed' if ev.number == TERMINATED else 'aborted'}\n")
                self.pending.discard(key)
                self.ended += 1
            elif ev.number == EXECUTE:
                if self.opts.status:
                    out.append(f"{key} executing on host {ev.execute_host}\n")
            elif ev.number == self.opts.special_event:
                if self.opts.status:
                    out.append(f"{key} event {self.opts.special_event} found\n")
                self.special += 1
        o = self.opts
        if o.minjobs and self.ended >= o.minjobs:
            return "".join(out) + f"Specifed number of jobs ({o.minjobs}) done.\n", 0
        if not self.pending and self.submitted and not o.minjobs and not self.initial_scan \
                and not o.special_event:
            return "".join(out) + "All jobs done.\n", 0
        if o.special_event and self.special >= o.min_special:
            return "".join(out) + f"Got {self.special} events of id {o.special_event}\n", 0
        return "".join(out), None

    def on_no_event(self) -> tuple[str, str, int | None]:
        """(stdout, stderr, exit code or None) when the log has nothing new."""
        o = self.opts
        err = ""
        if self.initial_scan:
            self.initial_scan = False
            if not self.pending and not o.minjobs and not o.special_event:
                return "All jobs done.\n", "", 0
        elif not self.pending and not self.submitted:
            if o.job[0] == ANY:
                err = (f"Saw only {self.special} events of id {o.special_event}!\n"
                       if o.special_event else "This log does not mention any jobs!\n")
            else:
                err = "This log does not mention that job!\n"
            if not o.dont_wait:
                return "", err, 1
        if o.dont_wait:
            return "", err, 0
        return "", err, None


def write(text: str, stream=None) -> None:
    if text:
        (stream or sys.stdout).write(text)
        (stream or sys.stdout).flush()


def open_log(path: str):
    """The real reader on ``path``; the C library's message when it cannot be opened."""
    import htcondor2
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as e:
        raise ToolError(f"Couldn't open {path}: {e.strerror}\n", rc=1)
    try:
        return htcondor2.JobEventLog(path)
    except Exception as e:
        raise ToolError(f"Couldn't open {path}: {e}\n", rc=1)


def body(argv: list[str]) -> int:
    opts = parse_args(argv)
    log = open_log(opts.log)
    stoptime = int(time.time()) + opts.wait if opts.wait else 0
    w = Watcher(opts)
    while True:
        if w.initial_scan or opts.dont_wait:
            timeout = 0
        elif stoptime:
            now = int(time.time())
            if now > stoptime:
                write("Time expired.\n")
                return 1
            timeout = stoptime - now + 1         # wake just after the limit passes
        else:
            timeout = None                       # no limit: block until an event comes
        try:
            ev = next(iter(log.events(stop_after=timeout)))
        except StopIteration:
            text, err, rc = w.on_no_event()
            write(text)
            write(err, sys.stderr)
            if rc is not None:
                return rc
            continue
        except Exception:                        # the log could not be read: not confirmed
            return 1
        text, rc = w.on_event(event_from(ev))
        write(text)
        if rc is not None:
            return rc


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
