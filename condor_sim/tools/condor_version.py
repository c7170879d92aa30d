"""condor_version: the version and platform strings of the simulated pool
(``condor_sim.CONDOR_VERSION``, ``CONDOR_PLATFORM``), and ``-arch`` / ``-opsys`` parsed from
the platform string as the real tool's CondorVersionInfo does.

Options as the real tool reads them: only the letter after the dash counts (``-a...`` arch,
``-o...`` opsys, ``-h...`` help); anything else is an error with the usage on stderr.
"""
from __future__ import annotations

import os
import sys

from condor_sim import CONDOR_PLATFORM, CONDOR_VERSION
from condor_sim.tools.common import ToolError, run_tool

USAGE_BODY = (
    '   If no options are specified, print the version and platform strings\n'
    '   where the tool was built.  Valid options are:\n'
    '   -help\t(this message)\n'
    '   -arch\t(print the ARCH string)\n'
    '   -opsys\t(print the OPSYS string)\n'
)


def usage(prog: str) -> str:
    return f"Usage: {prog} [options]\n" + USAGE_BODY


def platform_parts(platform: str = CONDOR_PLATFORM) -> tuple[str, str]:
    """(ARCH, OPSYS) of a ``$CondorPlatform: ARCH-OPSYS $`` string."""
    text = platform.split(":", 1)[1].strip().rstrip("$").strip() if ":" in platform else platform
    arch, _, opsys = text.partition("-")
    return arch, opsys


def render(args: list[str], prog: str = "condor_version") -> str:
    """What condor_version prints on stdout for ``args``; ToolError for help and errors."""
    arch = opsys = opsys_first = False
    for a in args:
        if not a.startswith("-"):
            raise ToolError(f"ERROR: invalid argument: '{a}'\n" + usage(prog))
        letter = a[1:2]
        if letter == "a":
            arch = True
        elif letter == "o":
            opsys = True
            opsys_first = opsys_first or not arch
        elif letter == "h":
            raise ToolError(usage(prog), rc=0)
        else:
            raise ToolError(f"ERROR: unrecognized argument: '{a}'\n" + usage(prog))
    a_text, o_text = platform_parts()
    out = []
    if opsys_first:
        out.append(o_text)
    if arch:
        out.append(a_text)
    if opsys and not opsys_first:
        out.append(o_text)
    if not out:
        out = [CONDOR_VERSION, CONDOR_PLATFORM]
    return "".join(line + "\n" for line in out)


def main(argv: list[str] | None = None) -> int:
    """condor_version's command line; returns the exit code."""
    prog = os.path.basename(sys.argv[0]) if argv is None and sys.argv[0] else "condor_version"
    if prog.endswith(".py") or prog == "__main__.py" or prog == "-m":
        prog = "condor_version"

    def body(args: list[str]) -> int:
        sys.stdout.write(render(args, prog))
        return 0
    return run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
