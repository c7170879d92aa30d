"""What the real 25.14 tools printed (``fixtures/cli/``, format in its README.md): one
reader for the test vectors of every tool."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

CLI = Path(__file__).resolve().parent.parent.parent / "fixtures" / "cli"


def capture(path: Path) -> dict:
    """One capture file: its header ``fields``, ``argv`` (the tool's arguments), ``stdin``
    (None if none was given), ``stdout`` and ``stderr`` cut at their recorded byte counts,
    and ``rc``."""
    head, rest = Path(path).read_bytes().split(b"--- stdout ---\n", 1)
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines() if ": " in line)
    n = int(fields["stdout_bytes"])
    out = rest[:n]
    # a newline is added before the marker when stdout does not end in one
    err = rest[n:].split(b"--- stderr ---\n", 1)[1][:int(fields["stderr_bytes"])]
    stdin = fields["stdin"].encode().decode("unicode_escape") if "stdin" in fields else None
    # the command may hold a quoted newline: it runs up to the next header line
    after = head.decode().split("command: ", 1)[1]
    command = re.split(r"\n(?=(?:stdin|cwd|rc|captured|truncated|note|stdout_bytes|stderr_bytes): )",
                       after, maxsplit=1)[0]
    return {"fields": fields, "argv": shlex.split(command)[1:], "stdin": stdin,
            "stdout": out.decode(), "stderr": err.decode(), "rc": int(fields["rc"])}


# condor_q's header line and a -nobatch row, for masking what differs between pools: the
# schedd's name, address and the time; a row's id, owner, submit date ("12/6  05:40",
# format_date's unpadded month and day), run time and size
SCHEDD_LINE = re.compile(r"^-- Schedd: \S+ : <[\d.]+:\d+\?\.\.\. @ \d\d/\d\d/\d\d \d\d:\d\d:\d\d$", re.M)
NOBATCH_ROW = re.compile(r"^ *\d+\.\d+ +\S+ +\d\d?/\d\d? +\d\d:\d\d +\d+\+\d\d:\d\d:\d\d( \S +\d+ +)[\d.]+ ",
                         re.M)
