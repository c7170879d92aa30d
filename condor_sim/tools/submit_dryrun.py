"""condor_submit -dry-run and -dump: the job ads the bindings would send, never queued.

The real tool builds its job ads in C++ and hands them to a simulated queue that writes
each SetAttribute as ``Name=value`` (``SimScheddQ`` in ``submit_simulate.cpp``).  The
``htcondor2`` bindings cannot build ads without a schedd, but they send the ads to a
schedd as QMGMT SetAttribute calls in the same order.  So the tool lets
``Schedd.submit`` talk to a private, throw-away queue
(:mod:`condor_sim.daemons.private_queue`, which records the stream with
:class:`~condor_sim.jobqueue.recorder.QmgmtRecorder`) and prints what it recorded:
:func:`render_stream` (pure) is what the real ``SimScheddQ`` writes for those ads, and
:func:`dry_run_output` the tool's whole stdout around it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..daemons.private_queue import record_submit
from ..jobqueue.recorder import Recorded

# The real dry-run has no schedd to name the owner: its ads carry Owner=undefined.
DRY_RUN_OWNER = "undefined"

__all__ = ["DRY_RUN_OWNER", "Recorded", "dry_run_output", "hash_dump", "header", "live_vars",
           "record_submit", "render_stream", "proc_blocks", "verbose_output"]


# ---------------------------------------------------------------------- what is printed
def _value(name: str, value: str) -> str:
    return DRY_RUN_OWNER if name == "Owner" else value


def proc_blocks(rec: Recorded) -> list[str]:
    """Per proc, the text ``SimScheddQ`` writes: a new line when the proc is made, then
    ``Name=value`` per SetAttribute (the cluster ad goes before proc 0's attributes)."""
    if rec.digest is not None and not rec.procs:      # a factory: its cluster ad only
        return ["\n" + "".join(f"{k}={_value(k, v)}\n" for k, v in rec.cluster_attrs)]
    blocks = []
    for p in sorted(rec.procs):
        attrs = (rec.cluster_attrs if p == 0 else []) + rec.procs[p]
        blocks.append("\n" + "".join(f"{k}={_value(k, v)}\n" for k, v in attrs))
    return blocks


def render_stream(rec: Recorded) -> str:
    """The whole stream as written to a file (``-dry-run FILE``, ``-dump FILE``)."""
    return "".join(proc_blocks(rec))


def header(*, dump: bool, to_stdout: bool, terse: bool, from_stdin: bool) -> str:
    """The first words on stdout: none from stdin, with -terse or for a dump to stdout."""
    if from_stdin or terse or (dump and to_stdout):
        return ""
    return "Storing job ClassAd(s)" if dump else "Dry-Run job(s)"


def verbose_output(rec: Recorded, blocks_of_ads: list[str], *, to_stdout: bool,
                   from_stdin: bool) -> str:
    """-verbose (or a description from stdin): each proc's stream (when on stdout) and
    its whole ad, then the new lines the real tool ends with."""
    out = []
    for block, shown in zip(proc_blocks(rec), blocks_of_ads):
        if to_stdout:
            out.append(block)
        out.append(shown)
    if not from_stdin:
        out.append("\n")
    out.append("\n")
    return "".join(out)


@dataclass
class Printed:
    stdout: str
    stderr: str = ""
    file_text: str | None = None        # what goes to the -dry-run/-dump file, if any


_QUEUE_VARS = re.compile(r"^(?:\d+\s+)?(.*?)\s*\b(?:in|from|matching)\b", re.I | re.S)


def live_vars(qargs: str) -> list[str]:
    """The loop variables a queue statement's arguments declare (``x,y from f`` -> x, y),
    or ``Item`` when they name none."""
    m = _QUEUE_VARS.match(qargs.strip())
    names = [n for n in re.split(r"[\s,]+", m.group(1)) if n] if m else []
    return names or ["Item"]


def hash_dump(commands: list[tuple[str, str]], qargs: str, expanded: str, iwd: str, *,
              factory: bool, itemdata_newline: bool) -> str:
    """``-dry-run:hash``: the queue statement as written and expanded, then the submit hash
    as it stands when queuing begins: the description's commands, ``FACTORY.Iwd`` and the
    loop variables (empty), sorted without case (a factory's loop variables come last,
    set after the others); ``itemdata_newline`` is the line a factory's item data puts
    between the two when the stream goes to stdout."""
    out = ["\n----- Queue arguments -----\n", f"Specified: {('queue ' + qargs).rstrip()}\n",
           f"Expanded : {('queue ' + expanded).rstrip()}\n"]
    if itemdata_newline:
        out.append("\n")
    out.append("----- submit hash at queue begin -----\n")
    entries = list(commands) + [("FACTORY.Iwd", iwd)]
    live = [(v, "") for v in live_vars(expanded)]
    if not factory:
        entries += live
    entries.sort(key=lambda kv: kv[0].lower())
    if factory:
        entries += live
    out += [f"  {k} = {v}\n" for k, v in entries]
    out.append("-----\n")
    return "".join(out)


def dry_run_output(rec: Recorded, *, dump: bool, to_stdout: bool, terse: bool,
                   from_stdin: bool, jobs: int | None = None, dots: bool = True) -> Printed:
    """The real tool's output for a dry run (``dump`` False) or a dump, after its header
    (:func:`header`, printed before the description is read).

    Progress (a dot per proc) is printed unless reading from stdin or -terse; with the
    stream on stdout the dots land after each proc's attributes.  The
    summary follows unless the dump goes to stdout; a dump to a file also names the
    watch tool, as a real submit does (only the dry run leaves it out).

    A factory (``rec.digest``) sends its cluster ad only, and makes ``jobs`` jobs: no
    dots, one block."""
    blocks = proc_blocks(rec)
    count = len(blocks) if jobs is None else jobs
    cluster = rec.cluster
    progress = not from_stdin and not terse
    dots = dots and progress and not (dump and to_stdout) and rec.digest is None
    out: list[str] = []
    err = ""
    for block in blocks:
        if to_stdout:
            out.append(block)
        if dots:
            out.append(".")
    if progress:
        out.append("\n")
    if not (dump and to_stdout) and count:
        if terse:
            out.append(f"{cluster}.0 - {cluster}.{count - 1}\n")
        else:
            out.append(f"{count} job(s) {'submitted' if dump else 'dry-run'} to cluster {cluster}.\n")
            if dump:
                err = f"To monitor your job(s), run: condor_watch_q -clusters {cluster}\n"
    return Printed("".join(out), err, None if to_stdout else "".join(blocks))


