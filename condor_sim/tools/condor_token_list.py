"""``condor_token_list``: the IDTOKENS available to the user, decoded, as HTCondor's
``token_list.cpp`` prints them: one ``Header: {...} Payload: {...} File: PATH`` line per token
(the JSON exactly as it is inside the token), from every file of the tokens directory
(``-dir PATH``, else as :func:`condor_sim.tools._token_files.token_directory` finds it) or from
one file (``-file NAME``).  Lines that are blank, comments or not JWTs are skipped silently, as
are missing files and directories.

``-capability`` (asking a daemon about capability tokens) is accepted and, as capability tokens
are not issued by this pool, has nothing to add.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

from condor_sim.security import tokens
from condor_sim.tools import _token_files as T
from condor_sim.tools.common import ArgCursor, ToolError, is_dash_arg_prefix, run_tool

PROG = "condor_token_list"
USAGE = (
    "Usage: {prog} [-dir PATH]\n"
    "Lists the tokens available to the current user.\n"
    "\nToken options:\n"
    "    -dir  <path>  Look in the given directory for tokens\n"
    "    -file  <filename>  Look in the given file for a token\n"
    "Daemon query options:\n"
    "    -capability                      Query a daemon for capability token details\n"
    "    -pool    <host>                  Use this collector to locate daemon\n"
    "    -name    <name>                  Find a daemon with this name\n"
    "    -type    <subsystem>             Type of daemon to contact (default: SCHEDD)\n"
    "    -help         print this message\n"
    "\nIf no -dir agument is supplied, tokens are located by using the condor config files.\n"
    "Ordinary users will use SEC_TOKEN_DIRECTORY or ~/tokens.d, The root user will use "
    "SEC_TOKEN_SYSTEM_DIRECTORY.\n"
)
DAEMON_TYPES = ("MASTER", "SCHEDD", "STARTD", "COLLECTOR", "NEGOTIATOR", "KBDD", "VIEW_COLLECTOR",
                "CLUSTER", "CREDD", "HAD", "GENERIC", "SHADOW", "STARTER", "GRIDMANAGER", "TRANSFERD",
                "LEASEMANAGER", "ANY")


def render_token_lines(text: str, shown_name: str) -> str:
    """The lines for one token file's contents (``shown_name`` is printed as given)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            head, payload = tokens.decode_raw(line)
        except ValueError:
            continue
        out.append(f"Header: {head} Payload: {payload} File: {shown_name}\n")
    return "".join(out)


def list_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return render_token_lines(f.read(), path)
    except OSError:
        return ""


def list_dir(directory: str) -> str:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return ""
    out = []
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path) or T.excluded(name):
            continue
        out.append(list_file(path))
    return "".join(out)


def _usage_error(msg: str) -> ToolError:
    return ToolError(msg + USAGE.format(prog=PROG))


def _body(args: list[str]) -> int:
    directory = None
    cursor = ArgCursor(args)
    for a in cursor:
        if is_dash_arg_prefix(a.split(":", 1)[0], "debug", 1):
            pass
        elif is_dash_arg_prefix(a, "help", 1):
            sys.stdout.write(USAGE.format(prog=PROG))
            return 0
        elif is_dash_arg_prefix(a, "dir", 1):
            directory = cursor.take()
            if directory is None:
                raise _usage_error(f"{PROG}: -dir requires path argument.\n")
        elif is_dash_arg_prefix(a, "file", 1):
            name = cursor.take()
            if name is None:
                raise _usage_error(f"{PROG}: -file requires file argument.\n")
            sys.stdout.write(list_file(name))
            return 0
        elif is_dash_arg_prefix(a, "capability", 1):
            pass
        elif is_dash_arg_prefix(a, "pool", 1) or is_dash_arg_prefix(a, "name", 1):
            what = "a pool name" if is_dash_arg_prefix(a, "pool", 1) else "a daemon name"
            word = "pool" if is_dash_arg_prefix(a, "pool", 1) else "name"
            cursor.take(f"{PROG}: -{word} requires {what} argument.")
        elif is_dash_arg_prefix(a, "type", 1):
            kind = cursor.take(f"{PROG}: -type requires a daemon type argument.")
            if kind.upper() not in DAEMON_TYPES:
                raise _usage_error(f"ERROR: unrecognized daemon type: {kind}\n")
        else:
            raise _usage_error(f"{PROG}: Invalid command line argument: {a}\n")
    sys.stdout.write(list_dir(directory if directory else T.token_directory()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
