"""The ``condor-sim`` command (pool lifecycle) and the ``condor_master`` command.

    condor-sim up     [--dir DIR] [--config KEY=VALUE ...] [--security secure|plaintext] [--timeout S]
                      [--simulate-slots N]
    condor-sim down   [--dir DIR] [--fast] [--timeout S]
    condor-sim status [--dir DIR] [--json]
    condor-sim env    [--dir DIR]
    condor-sim token  create ...        (see condor_sim.security.tokens)

DIR defaults to ``$CONDOR_SIM_DIR``, else ``~/.condor-sim/pool``.  ``up`` prints only
``export CONDOR_CONFIG=DIR/condor_config`` on stdout (progress goes to stderr), so
``eval "$(condor-sim up)"`` works.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", metavar="DIR", default=None,
                   help="pool directory (default: $CONDOR_SIM_DIR or ~/.condor-sim/pool)")


def version_text() -> str:
    """``condor-sim <version>``, then the two lines the real ``condor_version`` prints
    for the HTCondor release the daemons announce."""
    from . import CONDOR_PLATFORM, CONDOR_VERSION, __version__
    return f"condor-sim {__version__}\n{CONDOR_VERSION}\n{CONDOR_PLATFORM}\n"


class _Version(argparse.Action):
    """``--version``: argparse's own version action reflows text into one paragraph."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(version_text())
        parser.exit(EXIT_OK)


def _parser() -> argparse.ArgumentParser:
    from .poolconfig import POSTURES
    p = argparse.ArgumentParser(prog="condor-sim",
                                description="A simulated HTCondor personal pool the real client talks to.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.add_argument("--version", action=_Version,
                   help="print condor-sim's version and the HTCondor version it simulates")

    up = sub.add_parser(
        "up", help="create the pool directory and start the pool",
        description="Create the pool directory (if needed) and start condor_master, which starts "
                    "the collector, negotiator, schedd and startd; wait until the real client sees them. Prints "
                    "`export CONDOR_CONFIG=...` on stdout, progress on stderr. On a pool that "
                    "already runs, prints its export line again. Each `up` rewrites "
                    "DIR/config.d/00-condor-sim-overrides from its --config settings (none: "
                    "earlier ones are dropped); other files in DIR/config.d stay.",
        epilog="examples:\n"
               "  eval \"$(condor-sim up)\"                      # ~/.condor-sim/pool\n"
               "  condor-sim up --dir /tmp/pool --config SCHEDD_INTERVAL=2\n"
               "  condor-sim up --security plaintext              # no authentication or encryption",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _dir_arg(up)
    up.add_argument("--config", metavar="KEY=VALUE", action="append", default=[],
                    help="a config setting (repeatable; written to DIR/config.d)")
    up.add_argument("--security", choices=sorted(POSTURES), default="secure",
                    help="security posture (default: secure)")
    up.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the pool (default 30)")
    up.add_argument("--no-jobs", action="store_true",
                    help="only the master, collector and schedd (DAEMON_LIST = MASTER COLLECTOR SCHEDD): "
                         "jobs queue but never run; for suites that only submit and query")
    up.add_argument("--simulate-slots", metavar="N", type=_count, default=None,
                    help="add N simulated execute slots (synthetic machines sim-0001.<domain> ... "
                         "advertised to the collector, with claims coming and going; "
                         "CONDOR_SIM_SIMULATED_SLOTS = N)")

    down = sub.add_parser("down", help="shut the pool down and wait for it")
    _dir_arg(down)
    down.add_argument("--fast", action="store_true", help="fast shutdown (SIGQUIT) instead of graceful")
    down.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")

    st = sub.add_parser("status", help="list the pool's daemons, pids and addresses")
    _dir_arg(st)
    st.add_argument("--json", action="store_true", help="machine-readable output")

    env = sub.add_parser("env", help="print the export line for the pool's CONDOR_CONFIG")
    _dir_arg(env)

    sub.add_parser("token", help="IDTOKENS for the pool (condor-sim token create --help)", add_help=False)
    return p


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"wants a number of slots, got {text!r}")
    return n


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise ValueError(f"--config wants KEY=VALUE, got {item!r}")
        out[key] = value.strip()
    return out


def _pool(args, **kw):
    from .pool import Pool, default_directory
    return Pool(args.dir if args.dir else default_directory(), **kw)


def _err(msg: str) -> None:
    sys.stderr.write(f"condor-sim: {msg}\n")
    sys.stderr.flush()


def _print_daemons(status: dict, out) -> None:
    for d in status["daemons"]:
        out.write(f"  {d['name']:<11} pid {d['pid']:<8} {d['address'] or '-'}\n")


def _usable_dir(path) -> str | None:
    """Why ``path`` cannot be a pool directory (None if it can)."""
    if path.exists() and not path.is_dir():
        return f"{path} is not a directory"
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot create or write {path}: permission denied on {probe}"
    return None


NO_JOBS_DAEMONS = "MASTER COLLECTOR SCHEDD"


def cmd_up(args) -> int:
    from .pool import PoolAlreadyRunning, PoolError
    try:
        overrides = _overrides(args.config)
    except ValueError as e:
        _err(str(e))
        return EXIT_USAGE
    if getattr(args, "no_jobs", False):
        overrides.setdefault("DAEMON_LIST", NO_JOBS_DAEMONS)
    if getattr(args, "simulate_slots", None) is not None:
        overrides["CONDOR_SIM_SIMULATED_SLOTS"] = str(args.simulate_slots)
    pool = _pool(args, config=overrides, security=args.security)
    problem = _usable_dir(pool.directory)
    if problem:
        _err(problem)
        return EXIT_USAGE
    try:
        seconds = pool.start(timeout=args.timeout)
    except PoolAlreadyRunning as e:
        if args.config or args.simulate_slots is not None:
            _err(f"{e}; its settings stay as they are: `condor-sim down --dir {pool.directory}` "
                 f"first to start it with --config")
            return EXIT_FAIL
        sys.stderr.write(f"condor-sim: {e}; using it\n")
        _print_daemons(pool.status(), sys.stderr)
        sys.stderr.flush()
        print(pool.export_line(), flush=True)
        return EXIT_OK
    except PoolError as e:
        _err(str(e))
        return EXIT_FAIL
    sys.stderr.write(f"condor-sim: pool in {pool.directory} is up ({seconds:.2f} s)\n")
    _print_daemons(pool.status(), sys.stderr)
    sys.stderr.flush()
    print(pool.export_line(), flush=True)
    return EXIT_OK


def cmd_down(args) -> int:
    from .pool import PoolNotRunning
    pool = _pool(args)
    try:
        pool.stop(fast=args.fast, timeout=args.timeout)
    except PoolNotRunning as e:
        _err(str(e))
        return EXIT_FAIL
    left = pool.processes()
    if left:
        _err(f"processes left behind: {', '.join(str(p.pid) for p in left)}")
        return EXIT_FAIL
    sys.stderr.write(f"condor-sim: pool in {pool.directory} is down\n")
    return EXIT_OK


def cmd_status(args) -> int:
    pool = _pool(args)
    st = pool.status()
    if args.json:
        print(json.dumps(st, indent=2))
    elif not st["running"]:
        print(f"no pool is running in {pool.directory}")
    else:
        print(f"pool in {pool.directory} (CONDOR_CONFIG={pool.config_file})")
        _print_daemons(st, sys.stdout)
    return EXIT_OK if st["running"] else EXIT_FAIL


def cmd_env(args) -> int:
    print(_pool(args).export_line())
    return EXIT_OK


def cmd_token(argv: list[str]) -> int:
    rest = argv[1:] if argv[:1] == ["create"] else argv
    if any(a.startswith("-") and not a.startswith("--") and a != "-h" for a in rest):
        # condor_token_create's own options (-identity, -lifetime ...): run that tool
        from .tools.condor_token_create import main as condor_token_create
        return condor_token_create(rest)
    from .security.tokens import token_create_main
    return int(token_create_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "token":
        return cmd_token(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env}
    if args.command not in handlers:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handlers[args.command](args)
    except OSError as e:     # a path we cannot use: one line, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        _err(f"{where}{e.strerror or e}")
        return EXIT_FAIL


def condor_master_main(argv: list[str] | None = None) -> int:
    """``condor_master``: reads CONDOR_CONFIG and starts the master (in the background
    unless ``-f``), as the real command does for a user."""
    argv = list(sys.argv if argv is None else argv)
    cfg = os.environ.get("CONDOR_CONFIG")
    if not cfg or not os.path.exists(cfg):
        sys.stderr.write(
            "condor_master: CONDOR_CONFIG does not name a config file"
            + (f" ({cfg})" if cfg else "") + ".\n"
            "For a condor-sim pool run `condor-sim up`, or `eval \"$(condor-sim env)\"` for an existing one.\n")
        return 1
    from .daemons.master import main as master_main
    master_main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
