"""dprintf-format daemon logs: the header options, levels, banner and rotation of HTCondor's
dprintf (condor_utils/dprintf*.cpp), for the simulated daemons."""
from __future__ import annotations

import os
import time

from . import CONDOR_PLATFORM, CONDOR_VERSION
from .registry import spec

ALWAYS_ON = ("D_ALWAYS", "D_ERROR", "D_STATUS")
CATEGORY_ORDER = ("D_ALWAYS", "D_ERROR", "D_STATUS", "D_ZKM", "D_JOB", "D_MACHINE", "D_CONFIG",
                  "D_PROTOCOL", "D_PRIV", "D_DAEMONCORE", "D_FULLDEBUG", "D_SECURITY", "D_COMMAND",
                  "D_MATCH", "D_NETWORK", "D_KEYBOARD", "D_PROCFAMILY", "D_IDLE", "D_THREADS",
                  "D_ACCOUNTANT", "D_SYSCALLS", "D_CRON", "D_HOSTNAME", "D_PERF_TRACE", "D_LOAD",
                  "D_25", "D_26", "D_AUDIT", "D_TEST", "D_STATS", "D_MATERIALIZE", "D_DYE")


def log_name_from_daemon_name(name: str) -> str:
    """make_log_name_from_daemon_name(): "my_schedd2" -> "MySchedd2"."""
    out, upper = [], True
    for ch in name:
        if ch.isspace() or ch == "_":
            upper = True
            continue
        out.append(ch.upper() if upper else ch.lower())
        upper = False
    return "".join(out)


_CONTROL = ({c: f"\\x{c:02x}" for c in (*range(32), *range(0x7f, 0xa0))}
            | {0x2028: "\\u2028", 0x2029: "\\u2029", 10: "\\n", 13: "\\r", 9: "\\t"})


def one_line(text: str) -> str:
    """Control characters (C0, DEL, C1 with NEL) and the Unicode line and paragraph
    separators written as escapes, so that text a peer chose (a knob name, a command
    argument) can never start a line of its own in a log, whatever splits its lines."""
    return text.translate(_CONTROL)


class DaemonLog:
    def __init__(self, config, subsystem: str, exe_name: str, exe_path: str | None = None):
        self.config = config
        self.subsystem = subsystem.upper()
        self.exe_name = exe_name
        self.exe_path = exe_path
        self.fd = None
        self.reconfigure()

    def reconfigure(self) -> None:
        c = self.config
        local = getattr(c, "local_name", None)
        if local:
            # dprintf_config(): L.<SUBSYS>_LOG only, else $(LOG)/<Localname>Log, so that two
            # daemons of one subsystem never share a log.
            path = c.get_local(f"{self.subsystem}_LOG")
            default_name = log_name_from_daemon_name(local) + "Log"
        else:
            path = c.get(f"{self.subsystem}_LOG")
            known = spec(self.subsystem)
            default_name = known.log_name if known else log_name_from_daemon_name(self.subsystem) + "Log"
        if path is None and c.get("LOG"):
            path = os.path.join(c.get("LOG"), default_name)
        self.path = path
        flags = (c.get("ALL_DEBUG") or "") + " " + (c.get(f"{self.subsystem}_DEBUG") or c.get("DEFAULT_DEBUG") or "")
        self.cats: dict[str, int] = {k: 1 for k in ALWAYS_ON}
        self.headers: set[str] = set()
        for tok in flags.replace(",", " ").replace("|", " ").split():
            name, _, lvl = tok.partition(":")
            off = name.startswith("-")
            name = name.lstrip("-").upper()
            if name in ("D_PID", "D_FDS", "D_CAT", "D_SUB_SECOND", "D_TIMESTAMP"):
                (self.headers.discard if off else self.headers.add)(name)
            elif name == "D_FULLDEBUG":
                self.cats["D_ALWAYS"] = 1 if off else 2
            elif name in ("D_ALL", "D_ANY"):
                pass
            elif off or lvl == "0":
                self.cats.pop(name, None)
            else:
                self.cats[name] = 2 if lvl == "2" else 1
        self.time_format = (c.get("DEBUG_TIME_FORMAT") or "%m/%d/%y %H:%M:%S").strip('"')
        self.max_size = c.get_size_bytes(f"MAX_{self.subsystem}_LOG", c.get_size_bytes("MAX_DEFAULT_LOG", 10 << 20))
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _open(self) -> None:
        if self.fd is None and self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _header(self, cat: str, verbose: bool) -> str:
        now = time.time()
        stamp = time.strftime(self.time_format, time.localtime(now))
        if "D_SUB_SECOND" in self.headers:
            stamp += f".{int(now * 1000) % 1000:03d}"
        h = stamp + " "
        if "D_PID" in self.headers:
            h += f"(pid:{os.getpid()}) "
        if "D_CAT" in self.headers:
            shown = "D_ALWAYS" if cat == "D_STATUS" else cat
            h += f"({shown}{':2' if verbose else ''}) "
        return h

    def log(self, msg: str, cat: str = "D_ALWAYS", verbose: bool = False) -> None:
        if cat == "D_FULLDEBUG":
            cat, verbose = "D_ALWAYS", True
        level = self.cats.get(cat, 0)
        if level == 0 or (verbose and level < 2) or not self.path:
            return
        self._open()
        self._rotate_if_needed()
        if not msg.isprintable():      # a tab stays (real lines have them; it starts no line)
            msg = "\t".join(one_line(part) for part in msg.split("\t"))
        os.write(self.fd, (self._header(cat, verbose) + msg + "\n").encode("utf-8", "replace"))

    def _rotate_if_needed(self) -> None:
        if not self.max_size:
            return
        size = os.fstat(self.fd).st_size
        if size < self.max_size:
            return
        old = self.path + ".old"
        h = self._header("D_ALWAYS", False)
        os.write(self.fd, f"{h}MaxLog = {self.max_size} bytes, length = {size}\n".encode())
        os.write(self.fd, f'{h}Saving log file to "{old}"\n'.encode())
        os.close(self.fd)
        os.replace(self.path, old)
        self.fd = None
        self._open()
        os.write(self.fd, f"{self._header('D_ALWAYS', False)}Now in new log file {self.path}\n".encode())

    def banner(self, extra_config_sources=None) -> None:
        touched = "** Log last touched time unavailable (No such file or directory)"
        if self.path and os.path.exists(self.path):
            t = time.localtime(os.stat(self.path).st_mtime)
            touched = f"** Log last touched {t.tm_mon}/{t.tm_mday} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        s = self.subsystem
        lines = ["*" * 54, f"** {self.exe_name} (CONDOR_{s}) STARTING UP"]
        if self.exe_path:
            lines.append(f"** {self.exe_path}")
        lines += [f"** SubsystemInfo: name={s} type={s}({spec(s).type_number if spec(s) else 0}) class=DAEMON(1)",
                  f"** Configuration: subsystem:{s} local:{getattr(self.config, 'local_name', None) or '<NONE>'} class:DAEMON",
                  f"** {CONDOR_VERSION}", f"** {CONDOR_PLATFORM}",
                  f"** PID = {os.getpid()} RealUID = {os.getuid()}", touched, "*" * 54,
                  f"Using config source: {os.environ.get('CONDOR_CONFIG', '')}"]
        if extra_config_sources:
            lines.append("Using local config sources: ")
            lines += [f"   {p}" for p in extra_config_sources]
        caching = self.config.get_bool("ENABLE_CLASSAD_CACHING", True)
        lines.append(f"CLASSAD_CACHING is {'ENABLED' if caching else 'OFF'}")
        order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        cats = sorted(self.cats.items(), key=lambda cv: order.get(cv[0], len(order)))
        lines.append("Daemon Log is logging: " + " ".join(f"{c}{':2' if v == 2 else ''}" for c, v in cats))
        for line in lines:
            self.log(line)

    def exiting(self, status: int) -> None:
        self.log(f"**** {self.exe_name} (condor_{self.subsystem}) pid {os.getpid()} EXITING WITH STATUS {status}")
