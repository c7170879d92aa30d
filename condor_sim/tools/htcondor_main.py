"""The ``htcondor`` command: the noun/verb tool (``htcondor job status 1``, ``htcondor ap
status``, ``htcondor cm status`` ...) whose code ships in the wheel as ``htcondor_cli``.

HTCondor installs it as a few-line script calling ``htcondor_cli.cli.main``; the wheel has
the package but not the script, so this is that script.  ``main`` takes an argument list
(for tests and ``python -m``) and names the program ``htcondor`` in help and errors.
"""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    saved = sys.argv
    sys.argv = ["htcondor", *args]            # the parser reads sys.argv; prog is its [0]
    try:
        from htcondor_cli.cli import main as cli_main
        rc = cli_main()
    except SystemExit as e:                   # --help / --version exit through argparse
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        rc = 130
    finally:
        sys.argv = saved
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
