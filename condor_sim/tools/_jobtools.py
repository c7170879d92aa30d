"""Small pieces shared by condor_submit, condor_rm/hold/release and condor_qedit: option
matching as the real tools do it, finding the schedd through the real client, printing a
ClassAd the way the C++ tools do, and turning any unexpected failure into one line.

Everything talks to the pool through the ``htcondor2`` bindings, so the tools work against a
simulated pool and a real one alike.
"""
from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import classad2
import htcondor2


@dataclass
class Output:
    """What a tool prints and how it exits; filled by pure code, written out by :func:`emit`."""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    rc: int = 0

    def out(self, text: str) -> None:
        self.stdout.append(text)

    def err(self, text: str) -> None:
        self.stderr.append(text)


class Exit(Exception):
    """Stop the tool now with what has been collected (and this exit code)."""

    def __init__(self, rc: int = 1):
        super().__init__(rc)
        self.rc = rc


def is_dash_arg_prefix(arg: str, name: str, min_len: int = 0) -> bool:
    """``-na`` matches ``name`` (at least ``min_len`` characters); ``--name`` must be whole."""
    if not arg.startswith("-"):
        return False
    rest = arg[1:]
    if rest.startswith("-"):
        return rest[1:] == name
    return bool(rest) and name.startswith(rest) and (len(rest) >= min_len if min_len >= 0
                                                     else rest == name)


def is_dash_arg_colon_prefix(arg: str, name: str, min_len: int = 0) -> tuple[bool, str | None]:
    """As :func:`is_dash_arg_prefix` with an optional ``:options`` tail, which is returned."""
    head, colon, tail = arg.partition(":")
    return is_dash_arg_prefix(head, name, min_len), (tail if colon else None)


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def locate_schedd(name: str | None = None, pool: str | None = None):
    """The schedd's location ad (by name through the collector, else the local one), or None."""
    try:
        collector = htcondor2.Collector(pool) if pool else htcondor2.Collector()
        if name:
            return collector.locate(htcondor2.DaemonType.Schedd, name)
        return collector.locate(htcondor2.DaemonType.Schedd)
    except Exception:
        return None


def schedd_short_name(name: str | None) -> str:
    """The name the real tools print for a schedd they could not find."""
    if name:
        return name
    try:
        return htcondor2.param.get("SCHEDD_NAME") or htcondor2.param.get("FULL_HOSTNAME") or "local"
    except Exception:
        return "local"


def old_ad_lines(ad: classad2.ClassAd) -> list[str]:
    """``Name = value`` lines of ``ad`` in the old syntax, sorted by name like ``fPrintAd``."""
    text = ad.printOld()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sorted(lines, key=lambda ln: ln.split(" = ", 1)[0])


def is_queue_super_user(user: str) -> bool:
    """Whether QUEUE_SUPER_USERS names ``user`` (bare or user@domain)."""
    try:
        raw = htcondor2.param.get("QUEUE_SUPER_USERS") or ""
    except Exception:
        raw = ""
    names = {n.strip() for n in raw.replace(",", " ").split()}
    return user in names or user.split("@", 1)[0] in names


def param_list(name: str) -> list[str]:
    try:
        raw = htcondor2.param.get(name) or ""
    except Exception:
        raw = ""
    return [n.strip() for n in raw.replace(",", " ").split() if n.strip()]


def emit(out: Output) -> int:
    """Write what the tool collected; stdout first, then stderr (each flushed)."""
    if out.stdout:
        sys.stdout.write("".join(out.stdout))
        sys.stdout.flush()
    if out.stderr:
        sys.stderr.write("".join(out.stderr))
        sys.stderr.flush()
    return out.rc


def run_tool(name: str, body: Callable[[Sequence[str], Output], int | None],
             argv: Sequence[str] | None = None) -> int:
    """Run ``body`` and write its output; an unexpected error becomes one ``name: ...`` line."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = Output()
    try:
        rc = body(args, out)
        if rc is not None:
            out.rc = rc
    except Exit as e:
        out.rc = e.rc
    except KeyboardInterrupt:
        out.rc = 1
    except Exception as e:                    # no traceback ever reaches the user
        out.err(f"{name}: {str(e).strip() or type(e).__name__}\n")
        out.rc = 1
    try:
        return emit(out)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return out.rc


def main_exit(name: str, body, argv=None) -> None:
    sys.exit(run_tool(name, body, argv))
