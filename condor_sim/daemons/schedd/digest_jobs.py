"""The jobs of a factory's submit digest, made by the real client code: the process the
schedd starts (``python -m`` this module ``DIGEST CLUSTER``) to learn them.

The digest is a submit description (the client's, its macros kept) with a ``Queue``
statement.  This process reads it with ``htcondor2.Submit``, leaves out the commands
that made it a factory, submits it to a private recording queue
(:mod:`condor_sim.daemons.private_queue`) from the submitter's directory
(``FACTORY.Iwd``), and the queue prints each job's own attributes as the client sends
them (the cluster's are already in the queue).  So ``$(Process)``, ``$(Item)`` and
every other macro are expanded as the real submit code expands them.
"""
from __future__ import annotations

import os
import sys

# the executable given to a digest that names none (it shapes only the cluster ad,
# which is not kept)
PLACEHOLDER_EXECUTABLE = sys.executable


def submit_of_digest(text: str):
    """The ``htcondor2.Submit`` of a digest with its factory commands emptied, and the
    submitter's directory (``FACTORY.Iwd``).

    The ``FACTORY.*`` commands speak to the schedd's own submit code
    (``FACTORY.Requirements = MY.Requirements`` keeps the cluster's); they are emptied
    too.  A digest holds only the commands whose values differ from job to job: the rest is
    already in the cluster ad.  So an executable and a universe are supplied when it
    names none; they shape only the recorded cluster ad, which is not used."""
    import htcondor2
    from ...jobqueue.factory import FACTORY_COMMANDS, empty_commands
    sub = htcondor2.Submit(text)
    iwd = sub.get("FACTORY.Iwd")
    names = {k.lower() for k in sub.keys()}
    empty_commands(sub, FACTORY_COMMANDS, prefix="factory.")
    if "executable" not in names:
        sub["executable"] = PLACEHOLDER_EXECUTABLE
    if "universe" not in names:
        sub["universe"] = "vanilla"
    return sub, iwd


def main(argv: list[str]) -> int:
    """``DIGEST CLUSTER``: each job as a JSON line ``[proc, attributes]`` on stdout as
    soon as the client has sent it (so the schedd can queue the first ones while the
    rest are still made), then ``{"done": N}``; a failure's reason on stderr, exit 1."""
    import json
    from ..private_queue import record_submit
    path, cluster = argv[0], int(argv[1])
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        sub, iwd = submit_of_digest(text)
        if iwd and os.path.isdir(iwd):
            os.chdir(iwd)
        sys.stdout.flush()
        rec = record_submit(sub, first_cluster=cluster, stream_fd=sys.stdout.fileno())
    except Exception as e:            # noqa: BLE001 - the schedd reads the reason
        print(f"{type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
        return 1
    print(json.dumps({"done": rec.count}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
