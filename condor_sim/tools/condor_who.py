"""``condor_who``: what runs on this machine, found as HTCondor's ``who.cpp`` finds it, from
the log directory (``LOG``): the address files and the daemons' logs.

* ``-quick`` and ``-wait:N EXPR`` read the master's address there and ask it for the
  daemons' ready states (DC_QUERY_READY, which answers at once, or once ``EXPR`` holds on
  the reply, or after ``N`` seconds); the reply ad is printed, attributes in name order.
  This is what ``htcondor2.personal.PersonalPool`` and HTCondor's test harness wait on.
* ``-daemons`` scans the logs for each daemon's pid, exit status and address, and asks the
  live ones for their parent pid and executable (``RemoteParam``).
* The default view (and ``-long``/``-af``) asks the startd for its slots with jobs (the
  collector, where the startd does not answer) and prints one line per running job, with
  the job's pid and working directory read from this machine; a pool without a startd,
  or a startd running nothing, shows nothing.

The log scanning (:func:`scan_log_dir`) and the renderings (:func:`render_ready`,
:func:`render_daemons`) are pure functions of file names, log text and ads.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field

import classad2

from condor_sim.tools import common as C

DC_QUERY_READY = 60044
LOG_TO_DAEMON = {"Sched": "Schedd", "Start": "Startd", "Match": "Negotiator", "Cred": "Credd",
                 "Kbd": "Kbdd"}
FILE_TO_DAEMON = {"shared_port": "SharedPort", "job_router": "JobRouter",
                  "ckpt_server": "CkptServer"}
DAEMON_TO_SUBSYS = {"SharedPort": "SHARED_PORT", "JobRouter": "JOB_ROUTER",
                    "CkptServer": "CKPT_SERVER"}


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    verbose: bool = False
    daemons: bool = False          # -daemons: the table of daemons
    quick: bool = False            # -quick / -wait: ask the master
    daemon_mode: bool = False
    wait: int = 0
    requirements: str = ""
    log_dirs: list[str] = field(default_factory=list)
    long: bool = False
    af: C.AutoFormat | None = None
    formats: list[tuple[str, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    help: bool = False


def _is_arg(word: str, name: str, least: int) -> bool:
    """is_arg_prefix (the dash already removed), ignoring a ``:options`` tail."""
    word = word.split(":", 1)[0]
    return len(word) >= max(least, 1) and name.startswith(word)



def parse_args(args: list[str]) -> Options:
    o = Options()
    cursor = C.ArgCursor(args)

    def needs(message: str) -> str:
        return cursor.take(message, C.not_dashed)

    for a in cursor:
        if not a.startswith("-"):
            continue        # a target name: not used here
        w = a[1:]
        if _is_arg(w, "help", 1):
            o.help = True
        elif _is_arg(w, "debug", 1):
            cursor.take(accept=lambda v: v.lstrip("\"'").startswith("D_"))
        elif _is_arg(w, "verbose", 4):
            o.verbose = True
        elif _is_arg(w, "daemons", 3):
            o.daemons = o.daemon_mode = True
        elif _is_arg(w, "quickdaemons", 4):
            o.quick = o.daemon_mode = True
        elif _is_arg(w, "wait-for-ready", 4):
            o.quick = o.daemon_mode = True
            if ":" in w:
                digits = re.match(r"\s*([-+]?\d*)", w.split(":", 1)[1]).group(1)
                o.wait = int(digits) if digits not in ("", "-", "+") else 0
            o.requirements = needs(f"Error: Argument {a} requires a requirements expression")
        elif _is_arg(w, "logdir", 3):
            o.log_dirs.append(needs(f"Error: Argument {a} requires a directory"))
        elif _is_arg(w, "wide", 1):
            pass
        elif _is_arg(w, "long", 1):
            o.long = True
        elif _is_arg(w, "format", 1):
            if cursor.peek(2) is None:
                raise C.ToolError("Error: -format requires two other arguments\n")
            o.formats.append((cursor.take(), cursor.take()))
        elif _is_arg(w, "autoformat", 5) or _is_arg(w, "af", 2):
            o.af = C.autoformat_from(cursor, a)
            if not o.af.attrs:
                raise C.ToolError(f"Error: Argument {a} requires at least one attribute "
                                  f"parameter\nUse \"condor_who -help\" for details\n")
        elif _is_arg(w, "constraint", 3):
            text = needs("Error: -constraint requires an expression")
            if not C.constraint_ok(text):
                raise C.ToolError(f"Error: could not parse constraint {text}\n")
            o.constraints.append(text)
        elif _is_arg(w, "timed", 5) or _is_arg(w, "allpids", 2) or _is_arg(w, "jobs", 3) \
                or _is_arg(w, "startd", 6) or _is_arg(w, "ospool", 3):
            pass
        else:
            raise C.ToolError(f"Error: {a} is not a valid argument\n")
    return o


# ------------------------------------------------------------------------------ the log directory
@dataclass
class LogInfo:
    name: str
    log_dir: str
    addr: str = ""
    pid: str = ""
    exit_code: str = ""
    log: str = ""
    log_old: str = ""
    exe_path: str = ""


def classify(file: str) -> tuple[str, int] | None:
    """query_log_dir: (daemon name, kind) of a file in the log directory, kind 1 an
    address file, 2 a log, 3 an old log; None for anything else."""
    if file.startswith(".") and file.endswith("_address") and len(file) > len("._address"):
        name = file[1:-len("_address")]
        return name[0].upper() + name[1:], 1
    if file.endswith("Log") and len(file) > 3:
        name = file[:-3]
        return LOG_TO_DAEMON.get(name, name), 2
    if file.endswith("Log.old") and len(file) > 7:
        name = file[:-7]
        return LOG_TO_DAEMON.get(name, name), 3
    if file.startswith("StarterLog.") and len(file) > len("StarterLog."):
        rest = file[len("StarterLog."):]
        if rest.endswith(".old"):
            rest = rest[:-4]
            return (rest[0].upper() + rest[1:], 3) if rest else None
        return rest[0].upper() + rest[1:], 2
    return None


def subsys_to_daemon(word: str) -> str:
    word = word.lower()
    return FILE_TO_DAEMON.get(word, word[:1].upper() + word[1:])


def daemon_to_subsys(name: str) -> str:
    return DAEMON_TO_SUBSYS.get(name, name.upper())


def read_address_file(path: str) -> str:
    try:
        with open(path) as f:
            line = f.readline().strip()
    except OSError:
        return ""
    return line if line.startswith("<") else ""


def query_log_dir(log_dir: str, files: list[str], read=read_address_file) -> dict[str, LogInfo]:
    info: dict[str, LogInfo] = {}
    for file in files:
        kind = classify(file)
        if kind is None:
            continue
        name, k = kind
        li = info.setdefault(name, LogInfo(name, log_dir))
        if k == 1:
            li.addr = read(os.path.join(log_dir, file))
        elif k == 2:
            li.log = file
        else:
            li.log_old = file
    return info


def scan_log(info: dict[str, LogInfo], name: str, lines: list[str]) -> None:
    """scan_a_log_for_info: from the end of a daemon's log back to its last start-up
    banner, its pid and command address; in the master's log also the pids the master
    started and the exits it saw."""
    li = info[name]
    master = name == "Master"
    subsys = "MASTER" if master else daemon_to_subsys(name)
    banner = f" (CONDOR_{subsys}) STARTING UP"
    pid = addr = ""
    inside = False
    for line in reversed(lines):
        if banner in line:
            if not li.pid:
                li.pid = pid
            if not li.addr:
                li.addr = addr
            return
        if " ** Log last touched " in line:
            inside = True
            continue
        if inside:
            ix = line.find(" ** PID = ")
            if ix >= 0:
                pid = line[ix + 10:]
            continue
        m = re.search(r" DaemonCore: (?:private )?command socket at (<.*)$", line)
        if m:
            addr = m.group(1)
            continue
        if not master:
            continue
        ix = line.find("Started DaemonCore process")
        if ix >= 0:
            ix2 = line.find(", pid and pgroup = ", ix)
            ix3 = line.rfind("condor_")
            if ix2 >= 0 and ix < ix3 < ix2:
                end = min(p for p in (line.find('"', ix3), line.find(".", ix3), ix2) if p >= 0)
                d = subsys_to_daemon(line[ix3 + 7:end])
                if d in info and not info[d].pid:
                    info[d].pid = line[ix2 + len(", pid and pgroup = "):]
        m = re.search(r"The (\S+) \(pid (\d+)\) exited with status (.*)$", line)
        if m:
            d = subsys_to_daemon(m.group(1))
            if d in info and not info[d].pid:
                info[d].pid, info[d].exit_code = m.group(2), m.group(3)
        m = re.search(r" \(condor_MASTER\) pid (\d+) EXITING WITH STATUS (.*)$", line)
        if m and not li.pid:
            li.pid, li.exit_code = m.group(1), m.group(2)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def scan_log_dir(log_dir: str, files: list[str] | None = None) -> dict[str, LogInfo]:
    """The daemons of a log directory with what their logs and address files say."""
    if files is None:
        try:
            files = os.listdir(log_dir)
        except OSError:
            files = []
    info = query_log_dir(log_dir, files)
    if "Master" in info:
        scan_log(info, "Master", _read_lines(os.path.join(log_dir, info["Master"].log)))
    for name, li in sorted(info.items()):
        if name == "Master" or name == "Shadow" or name.startswith(("Slot", "Starter")):
            continue
        if li.pid and li.addr:
            continue
        if li.log:
            scan_log(info, name, _read_lines(os.path.join(log_dir, li.log)))
    return info


# ------------------------------------------------------------------------------ renderings
def render_ready(ad) -> str:
    """The ready ad as ``-quick`` prints it: ``name = value`` in name order, then a blank line."""
    return C.long_ad(ad) + "\n"


def render_master_exited(li: LogInfo) -> str:
    pid = int(re.match(r"\s*(\d*)", li.pid).group(1) or 0)
    return f"\nMaster {li.addr or 'NULL'} pid={pid} Exited with code={li.exit_code}\n"


@dataclass
class DaemonRow:
    name: str
    alive: bool
    pid: str
    ppid: str
    exit: str
    addr: str
    exe: str


def daemon_rows(info: dict[str, LogInfo], ask=None) -> list[DaemonRow]:
    """print_daemon_info's rows; ``ask(addr, knob)`` reads a daemon's parameter (None when
    it cannot be asked)."""
    rows = []
    for name in sorted(info):
        li = info[name]
        if not li.pid and not li.exit_code and not li.addr:
            continue
        if li.exit_code:
            pid, exit_ = "no", li.exit_code
        else:
            pid, exit_ = li.pid or "?", "no"
        alive, ppid, exe = False, None, None
        if ask is not None and li.addr and li.pid and not li.exit_code:
            ppid = ask(li.addr, "PPID")
            if ppid is not None:
                alive = True
                exe = ask(li.addr, daemon_to_subsys(name))
            else:
                alive, ppid = _from_environment(li.pid)
        rows.append(DaemonRow(name, alive, pid, ppid or "no", exit_, li.addr,
                              exe if exe is not None else li.exe_path))
    return rows


def _from_environment(pid_text: str) -> tuple[bool, str | None]:
    """A daemon that cannot be asked: alive if its environment is readable; its parent
    is the first field of CONDOR_INHERIT."""
    m = re.match(r"\s*(\d+)", pid_text)
    if not m:
        return False, None
    try:
        with open(f"/proc/{m.group(1)}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return False, None
    for item in env:
        if item.startswith(b"CONDOR_INHERIT="):
            first = item[len(b"CONDOR_INHERIT="):].split(b" ", 1)[0]
            return True, first.decode(errors="replace") or None
    return True, None


def render_daemons(log_dir: str, rows: list[DaemonRow]) -> str:
    out = [f'\nLOG directory "{log_dir}"\n', "\n"]
    fmt = "{:<12} {:<6} {:<6} {:<6} {:<6} {:<24} {}\n"
    out.append(fmt.format("Daemon", "Alive", "PID", "PPID", "Exit", "Addr", "Executable"))
    out.append(fmt.format("------", "-----", "---", "----", "----", "----", "----------"))
    for r in rows:
        out.append(fmt.format(r.name, "yes" if r.alive else "no", r.pid, r.ppid, r.exit,
                              r.addr, r.exe))
    return "".join(out)


# ------------------------------------------------------------------------------ I/O
def query_ready(addr: str, requirements: str, wait: int):
    """DC_QUERY_READY to the master: the reply ad, or None."""
    from htcondor2.htcondor2_impl import _send_generic_payload_command
    q = classad2.ClassAd()
    q["WaitTimeout"] = max(int(wait), 0)
    if requirements:
        try:
            q["ReadyRequirements"] = classad2.ExprTree(requirements)
        except Exception:
            sys.stderr.write("invalid expression for DC_QUERY_READY ReadyRequirements.  "
                             f"Expr = '{requirements}'\n")
            return None
    q["WantAddrs"] = True
    try:
        result, rc, _ = _send_generic_payload_command(addr, DC_QUERY_READY, q._handle)
    except Exception:
        return None
    if result is None:
        return None
    return result if isinstance(result, classad2.ClassAd) else None


def ask_param(addr: str, knob: str) -> str | None:
    import htcondor2
    ad = classad2.ClassAd({"MyAddress": addr, "MyType": "DaemonMaster", "Name": "who",
                           "CondorVersion": htcondor2.version()})
    try:
        return htcondor2.RemoteParam(ad).get(knob)
    except Exception:
        return None


def poll_for_master(log_dir: str, timeout: float) -> dict[str, LogInfo]:
    """poll_log_dir_for_active_master: wait (up to ``timeout``) for a master with an
    address that has not exited."""
    start = time.monotonic()
    delay = 1.0
    while True:
        try:
            files = os.listdir(log_dir)
        except OSError:
            files = []
        info = query_log_dir(log_dir, files)
        li = info.get("Master")
        if li is not None:
            scan_log(info, "Master", _read_lines(os.path.join(log_dir, li.log)))
            if li.addr and not li.exit_code:
                return info
        left = start + timeout - time.monotonic()
        if left <= 0:
            return info
        time.sleep(min(delay, left))
        delay = min(delay * 2, 10)


def quick(o: Options, log_dir: str) -> str:
    info = poll_for_master(log_dir, o.wait * 2 / 3)
    li = info.get("Master")
    if li is None:
        return ""
    if li.addr and not li.exit_code:
        ad = query_ready(li.addr, o.requirements, o.wait)
        return render_ready(ad) if ad is not None else ""
    return render_master_exited(li)


def body(args: list[str]) -> int:
    import htcondor2
    o = parse_args(args)
    if o.help:
        sys.stdout.write("Usage: condor_who [options] [<addr>|<pid>]\n")
        return 0
    log_dirs = list(o.log_dirs)
    if not log_dirs:
        configured = htcondor2.param.get("LOG")
        if configured and os.path.isdir(configured):
            log_dirs.append(configured)
    out = sys.stdout
    for log_dir in log_dirs:
        if o.quick:
            out.write(quick(o, log_dir))
            out.flush()
            if not o.daemons:
                continue
        if o.daemons:
            info = scan_log_dir(log_dir)
            out.write(render_daemons(log_dir, daemon_rows(info, ask_param)))
    if o.daemon_mode:
        return 0
    for log_dir in log_dirs:
        info = scan_log_dir(log_dir)
        startd = info.get("Startd")
        if startd is None or not startd.addr or startd.exit_code:
            continue
        out.write(startd_view(o, startd.addr))
    return 0


# ------------------------------------------------------------------------------ the startd's jobs
WHO_COLUMNS = ("OWNER", "CLIENT", "SLOT", "JOB", "  RUNTIME", "PID", "JOB_DIR")


def format_runtime(secs) -> str:
    """``PRINTAS RUNTIME``: HTCondor's ``format_time``, days right-aligned in three."""
    secs = max(int(secs), 0)
    return f"{secs // 86400:3d}+{secs % 86400 // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def slot_id_text(ad) -> str:
    """The SLOT column (``SLOT_ID``): ``1_1`` for a dynamic slot named ``slot1_1@...``."""
    slot = ad.get("SlotID")
    if not isinstance(slot, int):
        return ""
    if ad.get("DynamicSlot") is True:
        name = ad.get("Name")
        if isinstance(name, str) and name.startswith("slot"):
            return name[4:].split("@", 1)[0][:9]
        return f"{slot}_?"
    return str(slot)


def startd_banner(ad, count: int) -> str:
    """``--Startd : HOST has N job(s) running:`` (the host of the slot's name)."""
    name = ad.get("Name") if isinstance(ad.get("Name"), str) else ad.get("RemoteHost")
    host = name.split("@", 1)[1] if isinstance(name, str) and "@" in name else (name or "")
    return f"\n--Startd : {host} has {count} job(s) running:\n"


def job_rows(ads, pid_of, cwd_of) -> list[list[str]]:
    """The cells of each slot with a job; ``pid_of(ad)`` finds the job's pid (None when
    unknown), ``cwd_of(pid)`` its working directory."""
    rows = []
    for ad in ads:
        pid = pid_of(ad)
        run = ad.get("TotalJobRunTime")
        rows.append([_text(ad.get("RemoteOwner")), _text(ad.get("ClientMachine")), slot_id_text(ad),
                     _text(ad.get("JobId")), format_runtime(run) if isinstance(run, int) else "",
                     str(pid) if pid else "", (cwd_of(pid) or "") if pid else ""])
    return rows


def _text(v) -> str:
    return v if isinstance(v, str) else ("" if v is None else str(v))


def render_jobs(ads, pid_of, cwd_of) -> str:
    """The default view of one startd: its banner, the headings and one line per slot
    with a job, then a blank line; nothing for a startd running no job.  Columns are as
    wide as their widest cell or heading; the last cell of a line is not padded."""
    ads = list(ads)
    if not ads:
        return ""
    rows = job_rows(ads, pid_of, cwd_of)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(WHO_COLUMNS)]
    out = [startd_banner(ads[0], len(ads))]
    out.append(" ".join(h.ljust(w) for h, w in zip(WHO_COLUMNS, widths)) + "\n")
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]
        out.append(" ".join(cells) + "\n")
    out.append("\n")
    return "".join(out)


def job_pid(ad) -> int | None:
    """The job's pid: the slot's ``JobPid``, else the first child of its starter
    (``StarterPid``) on this machine."""
    pid = ad.get("JobPid")
    if isinstance(pid, int) and pid > 0:
        return pid
    starter = ad.get("StarterPid")
    if not isinstance(starter, int) or starter <= 0:
        return None
    try:
        import psutil
        kids = psutil.Process(starter).children()
    except Exception:
        return None
    return kids[0].pid if kids else None


def process_cwd(pid: int) -> str | None:
    try:
        import psutil
        return psutil.Process(pid).cwd()
    except Exception:
        return None


def startd_ads(addr: str, constraint: str) -> list:
    """The startd's slot ads that match: asked of the startd itself (as the real tool
    does), else of the collector (the same public ads, as of the startd's last update)."""
    import htcondor2
    for where in (addr, None):
        try:
            coll = htcondor2.Collector(where) if where else htcondor2.Collector()
            c = constraint if where else f"({constraint}) && StartdIpAddr == {_quote(addr)}"
            ads = list(coll.query(htcondor2.AdType.Startd, constraint=c))
            return sorted(ads, key=lambda a: (_int(a.get("SlotID")), _int(a.get("DSlotId"))))
        except Exception:
            continue
    return []


def _int(v) -> int:
    return v if isinstance(v, int) else 0


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def startd_view(o: Options, addr: str) -> str:
    """The slots running jobs of the startd at ``addr``."""
    constraint = " && ".join(["JobId =!= undefined"] + [f"({c})" for c in o.constraints])
    ads = startd_ads(addr, constraint)
    if o.long:
        return C.render_long(ads)
    if o.af is not None:
        return o.af.render(ads)
    if o.formats:
        return C.render_format(ads, o.formats)
    return render_jobs(ads, job_pid, process_cwd)


def main(argv: list[str] | None = None) -> int:
    return C.run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
