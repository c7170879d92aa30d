"""The startd's slots and the ads it advertises for them, without any I/O of its own.

A startd with the default configuration has one partitionable slot (``slot1``) owning the
whole machine.  Each claim carves a dynamic slot (``slot1_N``, N the lowest free number)
out of it, with the job's request rounded by the ``MODIFY_REQUEST_EXPR_REQUEST*`` knobs;
releasing the claim gives the resources back.  :class:`Machine` keeps that bookkeeping,
the slots' states and activities with their times, and builds what the real startd sends
to the collector: one public ``Machine`` ad per slot, the matching private ad (the claim
ids the negotiator hands out) and the ``StartD`` daemon ad.

The host is read once, by :func:`machine_resources` and :func:`host_facts`; everything
else is a function of the values given (``now`` included), so tests drive it directly.
"""
from __future__ import annotations

import os
import platform
import secrets
import socket
import time
from dataclasses import dataclass, field

import classad2

# The real WithinResourceLimits of a 25.x startd (the catalog term comes from CATALOG_SPACE).
WITHIN_RESOURCE_LIMITS = (
    'MY.Cpus > 0 && TARGET.RequestCpus <= MY.Cpus && MY.Memory > 0 && '
    'TARGET.RequestMemory <= MY.Memory && MY.Disk > 0 && (TARGET.RequestDisk - '
    'ifthenelse(MappingMethod ?: "" != "Copy",ifthenelse(RequestedCatalogs =?= undefined || '
    'catalogs =?= undefined,0,sum(evalInEachContext(member(CatalogID,RequestedCatalogIDs) ? '
    'CatalogSize : 0,catalogs))),0)) <= MY.Disk && '
    '(TARGET.RequestGPUs =?= undefined || MY.GPUs >= TARGET.RequestGPUs)')

# param_info defaults of the request rounding (the disk one without its catalog term,
# which is 0 for a job that names no catalogs).
MODIFY_REQUEST_DEFAULTS = {
    "Cpus": ("MODIFY_REQUEST_EXPR_REQUESTCPUS", "quantize(RequestCpus,{1})"),
    "Memory": ("MODIFY_REQUEST_EXPR_REQUESTMEMORY", "quantize(RequestMemory,{128})"),
    "Disk": ("MODIFY_REQUEST_EXPR_REQUESTDISK", "quantize(RequestDisk,{Target.DiskQuantum?:1024})"),
}

STARTER_ABILITIES = (
    "HasVM", "HasTDP", "HasSshd", "HasOsUser", "HasReconnect", "HasJobDeferral",
    "HasFileTransfer", "HasJICLocalStdin", "HasJobNetworking", "HasJICLocalConfig",
    "HasPerFileEncryption", "HasJobTransferPlugins", "HasCommonFilesTransfer",
    "HasTransferInputRemaps", "HasSelfCheckpointTransfers")
_ABILITY_VALUES = {"HasVM": False, "HasSshd": False, "HasCommonFilesTransfer": 2}

# The daemon ad attributes (DaemonCore::publish and the collector client) a slot ad carries.
SLOT_DAEMON_ATTRS = (
    "Machine", "MyAddress", "AddressV1", "CondorVersion", "CondorPlatform", "MyCurrentTime",
    "DaemonStartTime", "DaemonLastReconfigTime", "MonitorSelfTime", "MonitorSelfAge",
    "MonitorSelfCPUUsage", "MonitorSelfImageSize", "MonitorSelfResidentSetSize",
    "MonitorSelfRegisteredSocketCount", "MonitorSelfSecuritySessions", "DaemonCoreDutyCycle",
    "RecentDaemonCoreDutyCycle", "DetectedCpus", "DetectedMemory", "PrivateNetworkName",
    "COLLECTOR_HOST_STRING")

# States a slot goes through and its activities in them (the names the ads carry).
UNCLAIMED, CLAIMED, PREEMPTING, OWNER, MATCHED = "Unclaimed", "Claimed", "Preempting", "Owner", "Matched"
IDLE, BUSY, VACATING, KILLING, SUSPENDED = "Idle", "Busy", "Vacating", "Killing", "Suspended"


@dataclass
class Resources:
    cpus: int
    memory: int     # MB
    disk: int       # KB


@dataclass
class Detected:
    """What the host has before any knob cuts it down (the Detected* attributes)."""
    cpus: int
    memory: int     # MB
    disk: int       # KB: the size of the execute file system


# ---------------------------------------------------------------------- detection
def _knob_int(config, name: str) -> int | None:
    """A knob that is an integer or a constant expression (``DISK = 10 * 1024 * 1024``)."""
    text = config.get(name)
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = classad2.ExprTree(text).eval()
    except Exception:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def detected_cpus() -> int:
    """The CPU count the startd sees (hyperthreads counted, as COUNT_HYPERTHREAD_CPUS)."""
    try:
        import psutil
        n = psutil.cpu_count(logical=True)
    except Exception:
        n = None
    return int(n or os.cpu_count() or 1)


def detected_memory_mb() -> int:
    """Physical memory in MB (sysapi_phys_memory_raw, without its cgroup clamp)."""
    try:
        import psutil
        return int(psutil.virtual_memory().total // (1024 * 1024))
    except Exception:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024))


def disk_kb(path: str) -> tuple[int, int]:
    """(free, total) KB of the file system holding ``path``, as statfs gives them to the
    startd: free counts the blocks an ordinary user may take (``f_bavail``)."""
    while path and not os.path.exists(path):
        parent = os.path.dirname(path.rstrip("/"))
        if parent == path:
            break
        path = parent
    try:
        st = os.statvfs(path or "/")
    except OSError:
        return 0, 0
    return int(st.f_bavail * st.f_frsize // 1024), int(st.f_blocks * st.f_frsize // 1024)


def execute_dir(config) -> str:
    return config.get("EXECUTE") or os.path.join(config.get("LOCAL_DIR") or os.getcwd(), "execute")


def detected(config) -> Detected:
    _free, total = disk_kb(execute_dir(config))
    return Detected(cpus=_knob_int(config, "DETECTED_CPUS") or detected_cpus(),
                    memory=_knob_int(config, "DETECTED_MEMORY") or detected_memory_mb(),
                    disk=total)


def machine_resources(config) -> Resources:
    """What the startd gives its slots: ``NUM_CPUS``, ``MEMORY`` and ``DISK`` when set, else
    the detected CPUs, the physical memory less ``RESERVED_MEMORY`` and the free space of
    ``EXECUTE`` less ``RESERVED_DISK`` (in MB, as sysapi reads it)."""
    cpus = _knob_int(config, "NUM_CPUS")
    if cpus is None or cpus <= 0:
        cpus = _knob_int(config, "DETECTED_CPUS") or detected_cpus()
    memory = _knob_int(config, "MEMORY")
    if not memory:
        memory = (_knob_int(config, "DETECTED_MEMORY") or detected_memory_mb()) - \
            (_knob_int(config, "RESERVED_MEMORY") or 0)
    disk = _knob_int(config, "DISK")
    if disk is None:
        free, _total = disk_kb(execute_dir(config))
        disk = free - (_knob_int(config, "RESERVED_DISK") or 0) * 1024
    return Resources(cpus=max(cpus, 1), memory=max(memory, 0), disk=max(disk, 0))


# ---------------------------------------------------------------------- host facts
def _linux_long_name() -> str:
    """sysapi_get_linux_info: the first line of /etc/issue (and the like) naming a known
    distribution, else PRETTY_NAME of /etc/os-release."""
    for path in ("/etc/issue", "/etc/redhat-release", "/etc/system-release", "/etc/issue.net"):
        try:
            with open(path) as f:
                line = f.readline()
        except OSError:
            continue
        line = line.rstrip()
        while len(line) > 2 and line[-2] == "\\" and line[-1] in "nl":
            line = line[:-2].rstrip()
        if _linux_name(line) != "LINUX":
            return line
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if "PRETTY_NAME" in line and '"' in line:
                    return line.split('"')[1]
    except OSError:
        pass
    return "Unknown"


def _linux_name(long_name: str) -> str:
    low = long_name.lower()
    for keys, name in ((("red", "hat"), "RedHat"), (("fedora",), "Fedora"), (("ubuntu",), "Ubuntu"),
                       (("debian",), "Debian"), (("scientific", "cern"), "SLCern"),
                       (("scientific", "slf"), "SLFermi"), (("scientific",), "SL"),
                       (("centos",), "CentOS"), (("rocky",), "Rocky"), (("almalinux",), "AlmaLinux"),
                       (("amazon linux",), "AmazonLinux"), (("opensuse",), "openSUSE"),
                       (("suse",), "SUSE")):
        if all(k in low for k in keys):
            return name
    return "LINUX"


def _major_version(text: str) -> int:
    digits = ""
    i = 0
    while i < len(text) and not text[i].isdigit():
        i += 1
    while i < len(text) and text[i].isdigit():
        digits += text[i]
        i += 1
    return int(digits) if digits else 0


def _opsys_version(text: str) -> int:
    """sysapi_translate_opsys_version: major * 100 + (up to two digits of) minor."""
    i = 0
    while i < len(text) and not text[i].isdigit():
        i += 1
    major = ""
    while i < len(text) and text[i].isdigit():
        major += text[i]
        i += 1
    minor = ""
    if i < len(text) and text[i] == ".":
        i += 1
        while i < len(text) and text[i].isdigit() and len(minor) < 2:
            minor += text[i]
            i += 1
    return (int(major) if major else 0) * 100 + (int(minor) if minor else 0)


def _arch(machine: str) -> str:
    return {"i86pc": "INTEL", "i686": "INTEL", "i586": "INTEL", "i486": "INTEL", "i386": "INTEL",
            "ia64": "IA64", "x86_64": "X86_64", "amd64": "X86_64", "ppc": "PPC",
            "ppc32": "PPC", "ppc64": "PPC64"}.get(machine, machine)


def opsys_facts(system: str | None = None, release: str | None = None) -> dict:
    """OpSys and its relatives as sysapi's arch.cpp derives them."""
    system = system or platform.system()
    if system == "Darwin":
        ver = release or platform.mac_ver()[0] or "0"
        major = _major_version(ver)
        return {"OpSys": "macOS", "OpSysLegacy": "OSX", "OpSysShortName": "macOS",
                "OpSysName": "macOS", "OpSysLongName": f"macOS {ver}", "OpSysMajorVer": major,
                "OpSysVer": _opsys_version(ver), "OpSysAndVer": f"macOS{major}"}
    if system == "Linux":
        long_name = release or _linux_long_name()
        name = _linux_name(long_name)
        major = _major_version(long_name)
        return {"OpSys": "LINUX", "OpSysLegacy": "LINUX", "OpSysShortName": name,
                "OpSysName": name, "OpSysLongName": long_name, "OpSysMajorVer": major,
                "OpSysVer": _opsys_version(long_name), "OpSysAndVer": f"{name}{major}"}
    long_name = f"{system} {release or platform.release()}"
    name = system
    major = _major_version(long_name)
    return {"OpSys": name.upper(), "OpSysLegacy": name.upper(), "OpSysShortName": name,
            "OpSysName": name, "OpSysLongName": long_name, "OpSysMajorVer": major,
            "OpSysVer": _opsys_version(long_name), "OpSysAndVer": f"{name}{major}"}


def _cpuinfo() -> dict:
    """The first processor's fields of /proc/cpuinfo (empty elsewhere)."""
    out: dict = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                if ":" in line:
                    k, v = line.split(":", 1)
                    out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def _microarch(flags: set) -> str:
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    level = 1
    for n, need in ((2, v2), (3, v2 | v3), (4, v2 | v3 | v4)):
        if need <= flags:
            level = n
    return f"x86_64-v{level}"


def cpu_facts(machine: str | None = None, cpuinfo: dict | None = None) -> dict:
    """CPU model facts and the has_* instruction flags the startd publishes on x86_64."""
    machine = machine or platform.machine()
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    out: dict = {}
    cache = info.get("cache size", "").split()
    out["CpuCacheSize"] = int(cache[0]) if cache and cache[0].isdigit() else 0
    for attr, key in (("CpuFamily", "cpu family"), ("CpuModelNumber", "model")):
        v = info.get(key, "")
        out[attr] = int(v) if v.isdigit() else 0
    if _arch(machine) == "X86_64":
        flags = set(info.get("flags", "").split())
        for flag in ("avx", "avx2", "sse4_1", "sse4_2", "ssse3"):
            out[f"has_{flag}"] = flag in flags
        if flags:
            out["Microarch"] = _microarch(flags)
        else:
            out["Microarch"] = "x86_64-v1"
    return out


def host_facts(config, fqdn: str, *, now: int | None = None) -> dict:
    """The machine attributes every slot ad and the StartD ad carry, read from the host once."""
    uts = os.uname()
    facts: dict = {"Arch": _arch(uts.machine)}
    facts.update(opsys_facts())
    facts.update({"UtsnameSysname": uts.sysname, "UtsnameNodename": uts.nodename,
                  "UtsnameRelease": uts.release, "UtsnameVersion": uts.version,
                  "UtsnameMachine": uts.machine})
    facts.update(cpu_facts(uts.machine))
    try:
        dev = os.stat(execute_dir(config)).st_dev
    except OSError:
        dev = 0
    facts["ExecuteVolume"] = str(dev)
    try:
        import psutil
        vm = psutil.virtual_memory().total // 1024 + psutil.swap_memory().free // 1024
        boot = int(psutil.boot_time())
    except Exception:
        vm, boot = 0, int(now or time.time())
    facts["TotalVirtualMemory"] = int(vm)
    facts["BootTime"] = boot
    facts["FileSystemDomain"] = config.get("FILESYSTEM_DOMAIN") or fqdn
    facts["UidDomain"] = config.get("UID_DOMAIN") or fqdn
    try:
        facts["LoadAvg"] = round(os.getloadavg()[0], 2)
    except OSError:
        facts["LoadAvg"] = 0.0
    return facts


# ---------------------------------------------------------------------- slots
@dataclass
class Slot:
    """One slot: the partitionable ``slot1`` (sub_id 0) or a dynamic ``slot1_N``."""
    name: str
    slot_id: int
    sub_id: int
    cpus: int
    memory: int
    disk: int
    state: str = UNCLAIMED
    activity: str = IDLE
    entered_state: int = 0
    entered_activity: int = 0
    claim_id: str | None = None
    remote_user: str | None = None
    remote_owner: str | None = None
    job_id: str | None = None
    job_start: int | None = None
    client_machine: str | None = None
    remote_schedd: str | None = None
    global_job_id: str | None = None
    job_universe: int | None = None
    job_ad: dict = field(default_factory=dict)
    starter_pid: int | None = None
    claimed_at: int | None = None
    job_run_time: int = 0            # seconds of finished activations on this claim
    update_seq: int = 0
    times: dict = field(default_factory=dict)   # (state, activity) -> seconds spent before now

    @property
    def dynamic(self) -> bool:
        return self.sub_id > 0

    @property
    def resources(self) -> Resources:
        return Resources(self.cpus, self.memory, self.disk)

    def enter(self, state: str, activity: str, now: int) -> None:
        """Move to ``state``/``activity``, counting the time spent in the old pair."""
        key = (self.state, self.activity)
        self.times[key] = self.times.get(key, 0) + max(0, now - self.entered_activity)
        if state != self.state:
            self.entered_state = now
        if state != self.state or activity != self.activity:
            self.entered_activity = now
        self.state, self.activity = state, activity

    def time_attrs(self, now: int) -> dict:
        """TotalTime<State><Activity>: time in each pair so far, the current one included;
        pairs with no time yet are left out (ResState::publishHistoryInfo)."""
        totals = dict(self.times)
        key = (self.state, self.activity)
        totals[key] = totals.get(key, 0) + max(0, now - self.entered_activity)
        return {f"TotalTime{s}{a}": t for (s, a), t in totals.items() if t > 0}


def _expr(text: str) -> classad2.ExprTree:
    return classad2.ExprTree(text)


def _list_expr(values: list) -> classad2.ExprTree:
    """A ClassAd list of plain values, as the pslot's Child* attributes are."""
    parts = []
    for v in values:
        if v is None:
            parts.append("undefined")
        elif isinstance(v, bool):
            parts.append("true" if v else "false")
        elif isinstance(v, str):
            parts.append(classad2.quote(v))
        elif isinstance(v, float):
            parts.append(repr(v))
        else:
            parts.append(str(v))
    return _expr("{ " + ", ".join(parts) + " }" if parts else "{}")


def _request_ad(request) -> classad2.ClassAd:
    """The job's request as an ad holding RequestCpus/RequestMemory/RequestDisk: a job ad
    as it is, or a dict with either those names or Cpus/Memory/Disk."""
    if isinstance(request, classad2.ClassAd):
        return request
    ad = classad2.ClassAd()
    for key, value in dict(request).items():
        ad[key] = value
    for res, default in (("Cpus", 1), ("Memory", 1), ("Disk", 1)):
        if f"Request{res}" not in ad:
            ad[f"Request{res}"] = request.get(res, default) if hasattr(request, "get") else default
    return ad


def _number(value) -> int | None:
    if isinstance(value, classad2.ExprTree):
        value = value.eval()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(-(-value // 1)) if isinstance(value, float) else int(value)


class Machine:
    """The startd's slots: one partitionable slot and the dynamic slots carved from it."""

    def __init__(self, config, fqdn: str, resources: Resources, *, now: int, sinful: str,
                 facts: dict | None = None, detected_resources: Detected | None = None,
                 slot_id: int = 1):
        self.config = config
        self.fqdn = fqdn
        self.sinful = sinful
        self.total = Resources(resources.cpus, resources.memory, resources.disk)
        self.start_time = now
        self.facts = dict(host_facts(config, fqdn, now=now) if facts is None else facts)
        self.detected = detected_resources or detected(config)
        self._claim_seq = 0
        self.claim_requests = 0
        self.activation_requests = 0
        self.job_starts = 0
        self.num_dslots_time = now
        self.pslot = Slot(name=f"slot{slot_id}@{fqdn}", slot_id=slot_id, sub_id=0,
                          cpus=resources.cpus, memory=resources.memory, disk=resources.disk,
                          entered_state=now, entered_activity=now)
        self.pslot.claim_id = self.new_claim_id()
        self.dslots: dict[str, Slot] = {}

    # ------------------------------------------------------------------ claims
    def new_claim_id(self, session_info: str = "") -> str:
        """``<sinful>#<startd birthday>#<sequence>#<session info><key>`` (claim.cpp
        newIdString; the public part, up to the last ``#``, is the session id)."""
        self._claim_seq += 1
        return f"{self.sinful}#{self.start_time}#{self._claim_seq}#{session_info}{secrets.token_hex(32)}"

    @staticmethod
    def public_claim_id(claim_id: str) -> str:
        """ClaimIdParser::publicClaimId: all before the last ``#``, then ``#...``."""
        cut = claim_id.rfind("#")
        return (claim_id[:cut] if cut >= 0 else "") + "#..." if claim_id else ""

    def slot(self, name: str) -> Slot:
        if name == self.pslot.name:
            return self.pslot
        return self.dslots[name]

    def slots(self) -> list[Slot]:
        return [self.pslot] + sorted(self.dslots.values(), key=lambda s: s.sub_id)

    def find_claim(self, claim_id: str) -> Slot | None:
        for s in self.slots():
            if s.claim_id == claim_id:
                return s
        return None

    def quantize(self, request) -> dict:
        """The request as the startd rounds it before carving (``MODIFY_REQUEST_EXPR_*``,
        evaluated in the job's context): request_memory 16 becomes 128 MB, disk 1024 KB."""
        ad = _request_ad(request)
        out = {}
        for res, (knob, default) in MODIFY_REQUEST_DEFAULTS.items():
            text = self.config.get(knob) or default
            try:
                ad["_condor_modify_request"] = _expr(text)
                value = _number(ad.eval("_condor_modify_request"))
            except Exception:
                value = None
            finally:
                ad.pop("_condor_modify_request", None)
            if value is None:
                value = _number(ad.get(f"Request{res}")) or 0
            out[res] = max(0, value)
        if out["Cpus"] < 1:
            out["Cpus"] = 1
        return out

    def fits(self, request) -> bool:
        q = self.quantize(request)
        p = self.pslot
        return q["Cpus"] <= p.cpus and q["Memory"] <= p.memory and q["Disk"] <= p.disk and p.cpus > 0

    def _next_sub_id(self) -> int:
        used = {s.sub_id for s in self.dslots.values()}
        n = 1
        while n in used:
            n += 1
        return n

    def carve(self, request, *, now: int, claim_id: str, remote_user: str,
              client_machine: str, job_id: str, remote_owner: str | None = None,
              remote_schedd: str | None = None, job_ad: dict | None = None) -> Slot | None:
        """A dynamic slot ``slot1_N`` holding the rounded request, taken from the pslot and
        Claimed/Idle under ``claim_id``; None when it does not fit.  When ``claim_id`` is
        the pslot's own (the one the negotiator handed out) the pslot gets a fresh one."""
        if not self.fits(request):
            return None
        q = self.quantize(request)
        p = self.pslot
        p.cpus -= q["Cpus"]
        p.memory -= q["Memory"]
        p.disk -= q["Disk"]
        sub = self._next_sub_id()
        s = Slot(name=f"slot{p.slot_id}_{sub}@{self.fqdn}", slot_id=p.slot_id, sub_id=sub,
                 cpus=q["Cpus"], memory=q["Memory"], disk=q["Disk"], state=CLAIMED,
                 activity=IDLE, entered_state=now, entered_activity=now, claim_id=claim_id,
                 remote_user=remote_user, remote_owner=remote_owner or remote_user,
                 job_id=job_id, client_machine=client_machine, remote_schedd=remote_schedd,
                 claimed_at=now)
        if job_ad:
            self._take_job(s, job_ad)
        if claim_id == p.claim_id:
            p.claim_id = self.new_claim_id()
        self.dslots[s.name] = s
        self.claim_requests += 1
        self.num_dslots_time = now
        return s

    @staticmethod
    def _take_job(s: Slot, job_ad) -> None:
        s.job_ad = {k: job_ad.get(k) for k in ("GlobalJobId", "JobUniverse", "ImageSize",
                                               "DiskUsage", "ExecutableSize")
                    if job_ad.get(k) is not None}
        if "GlobalJobId" in s.job_ad:
            s.global_job_id = str(s.job_ad["GlobalJobId"])
        if "JobUniverse" in s.job_ad:
            s.job_universe = int(s.job_ad["JobUniverse"])

    def activate(self, name: str, *, now: int, job_id: str, job_ad: dict | None = None,
                 starter_pid: int | None = None) -> None:
        """The claim runs a job: Claimed/Busy."""
        s = self.slot(name)
        s.job_id = job_id
        s.job_start = now
        s.starter_pid = starter_pid
        if job_ad:
            self._take_job(s, job_ad)
        s.enter(CLAIMED, BUSY, now)
        self.activation_requests += 1
        self.job_starts += 1

    def deactivate(self, name: str, *, now: int) -> None:
        """The job is over, the claim stays: Claimed/Idle."""
        s = self.slot(name)
        if s.job_start is not None:
            s.job_run_time += max(0, now - s.job_start)
        s.job_start = None
        s.starter_pid = None
        s.enter(CLAIMED, IDLE, now)

    def set_state(self, name: str, state: str, activity: str, *, now: int) -> None:
        """Any other state change (Preempting/Vacating, ...)."""
        self.slot(name).enter(state, activity, now)

    def release(self, name: str, *, now: int) -> None:
        """The claim is gone: the dynamic slot goes away, its resources back to the pslot."""
        s = self.dslots.pop(name, None)
        if s is None:
            return
        self.pslot.cpus += s.cpus
        self.pslot.memory += s.memory
        self.pslot.disk += s.disk
        self.num_dslots_time = now

    # ------------------------------------------------------------------ ads
    def _knob_expr(self, knob: str, default: str) -> classad2.ExprTree:
        text = self.config.get(knob)
        return _expr(text if text not in (None, "") else default)

    def _counters(self) -> dict:
        c = {"ClaimRequests": self.claim_requests, "ActivationRequests": self.activation_requests,
             "JobStarts": self.job_starts, "JobPreemptions": 0, "JobRankPreemptions": 0,
             "JobUserPrioPreemptions": 0, "NewDSlotNotMatch": 0}
        c.update({f"Recent{k}": v for k, v in list(c.items())})
        return c

    def _common(self, now: int, daemon_attrs: dict) -> dict:
        """What the StartD ad and every slot ad share: machine facts, daemon attrs, stats."""
        f = self.facts
        lt = time.localtime(now)
        ad: dict = {k: daemon_attrs[k] for k in SLOT_DAEMON_ATTRS if k in daemon_attrs}
        ad.update({k: v for k, v in f.items() if k not in ("BootTime", "LoadAvg")})
        collector = self.config.get("COLLECTOR_HOST")
        if collector and "COLLECTOR_HOST_STRING" not in ad:
            ad["COLLECTOR_HOST_STRING"] = collector
        idle = max(0, now - int(f.get("BootTime", self.start_time)))
        ad.update({
            "StartdIpAddr": daemon_attrs.get("MyAddress", self.sinful),
            "MyAddress": daemon_attrs.get("MyAddress", self.sinful),
            "Machine": daemon_attrs.get("Machine", self.fqdn),
            "DetectedCpus": self.detected.cpus, "DetectedMemory": self.detected.memory,
            "DetectedDisk": self.detected.disk, "DetectedGPUs": 0,
            "TotalCpus": float(self.total.cpus), "TotalMemory": self.total.memory,
            "TotalDisk": self.total.disk, "TotalGPUs": 0, "TotalSlots": 1 + len(self.dslots),
            "MachineResources": "Cpus Memory Disk Swap GPUs",
            "ClockDay": (lt.tm_wday + 1) % 7, "ClockMin": lt.tm_hour * 60 + lt.tm_min,
            "HardwareAddress": "00:00:00:00:00:00", "SubnetMask": _subnet_mask(self.sinful),
            "ConsoleIdle": idle, "KeyboardIdle": idle,
            "TotalLoadAvg": float(f.get("LoadAvg", 0.0)), "TotalCondorLoadAvg": 0.0,
            "MappingMethod": "Hardlink", "HasRotationalScratch": True, "HasUserNamespaces": True,
            "HasIOProxy": True, "HasStartDaemonAd": True, "IsLocalStartd": False,
            "StarterAbilityList": ",".join(STARTER_ABILITIES),
            "CanHibernate": False, "HibernationLevel": 0, "HibernationState": "NONE",
            "HibernationSupportedStates": "", "IsWakeAble": False, "IsWakeOnLanEnabled": False,
            "IsWakeOnLanSupported": False, "WakeOnLanEnabledFlags": "NONE",
            "WakeOnLanSupportedFlags": "NONE", "LastBenchmark": 0, "TimeToLive": 2147483647,
            "ExpectedMachineGracefulDrainingBadput": 0,
            "ExpectedMachineGracefulDrainingCompletion": self.start_time,
            "ExpectedMachineQuickDrainingBadput": 0,
            "ExpectedMachineQuickDrainingCompletion": self.start_time,
        })
        for ability in STARTER_ABILITIES:
            ad[ability] = _ABILITY_VALUES.get(ability, True)
        ad.update(self._counters())
        return ad

    def _slot_ad(self, s: Slot, now: int, daemon_attrs: dict) -> dict:
        ad = self._common(now, daemon_attrs)
        total = s.resources if s.dynamic else self.total
        ad.update({
            "MyType": "Machine", "TargetType": "Job", "Name": s.name,
            "SlotID": s.slot_id, "SlotTypeID": 0,
            "SlotType": "Dynamic" if s.dynamic else "Partitionable",
            "Cpus": s.cpus, "Memory": s.memory, "Disk": s.disk, "GPUs": 0,
            "TotalSlotCpus": total.cpus, "TotalSlotMemory": total.memory,
            "TotalSlotDisk": float(total.disk), "TotalSlotGPUs": 0,
            "State": s.state, "Activity": s.activity,
            "EnteredCurrentState": s.entered_state, "EnteredCurrentActivity": s.entered_activity,
            "Start": self._knob_expr("START", "true"),
            "Requirements": _expr("Start && WithinResourceLimits"),
            "WithinResourceLimits": _expr(WITHIN_RESOURCE_LIMITS),
            "Rank": self._knob_expr("RANK", "0.0"), "CurrentRank": 0.0,
            "SlotWeight": self._knob_expr("SLOT_WEIGHT", "Cpus"),
            "MachineMaxVacateTime": self._knob_expr("MachineMaxVacateTime", "10 * 60"),
            "MaxJobRetirementTime": self._knob_expr("MAXJOBRETIREMENTTIME", "0"),
            "Unhibernate": _expr("MY.MachineLastMatchTime =!= undefined"),
            "LoadAvg": float(self.facts.get("LoadAvg", 0.0)) if not s.dynamic else 0.0,
            "CondorLoadAvg": 0.0, "CpuBusy": False, "NumPids": 0,
            "VirtualMemory": 0 if s.dynamic else self.facts.get("TotalVirtualMemory", 0),
            "CondorScratchDir": "#CoNdOrScRaTcHdIr#", "AcceptedWhileDraining": False,
            "RetirementTimeRemaining": 0, "NextFetchWorkDelay": -1,
            "LastFetchWorkCompleted": 0, "LastFetchWorkSpawned": 0,
            "PslotRollupInformation": True,
            "UpdateSequenceNumber": s.update_seq,
        })
        ad.update(s.time_attrs(now))
        if s.dynamic:
            ad.update(self._dslot_attrs(s, now))
        else:
            ad.update(self._pslot_attrs(now))
        return ad

    def _pslot_attrs(self, now: int) -> dict:
        kids = sorted(self.dslots.values(), key=lambda s: s.sub_id)
        out = {"PartitionableSlot": True, "NumDynamicSlots": len(kids),
               "NumDynamicSlotsTime": self.num_dslots_time}
        for attr, get in (("ChildAccountingGroup", lambda k: None),
                          ("ChildActivity", lambda k: k.activity),
                          ("ChildCpus", lambda k: k.cpus),
                          ("ChildCurrentRank", lambda k: 0.0),
                          ("ChildDisk", lambda k: k.disk),
                          ("ChildDSlotId", lambda k: k.sub_id),
                          ("ChildEnteredCurrentState", lambda k: k.entered_state),
                          ("ChildGPUs", lambda k: 0),
                          ("ChildMemory", lambda k: k.memory),
                          ("ChildName", lambda k: k.name),
                          ("ChildRemoteOwner", lambda k: k.remote_owner),
                          ("ChildRemoteUser", lambda k: k.remote_user),
                          ("ChildRetirementTimeRemaining", lambda k: 0),
                          ("ChildState", lambda k: k.state)):
            out[attr] = _list_expr([get(k) for k in kids])
        return out

    def _dslot_attrs(self, s: Slot, now: int) -> dict:
        out: dict = {"DynamicSlot": True, "DSlotId": s.sub_id, "ParentSlotId": s.slot_id,
                     "IsSplittable": True, "ClaimEndTime": 0}
        if s.claim_id:
            out["PublicClaimId"] = self.public_claim_id(s.claim_id)
        if s.remote_user:
            out["RemoteUser"] = s.remote_user
            out["RemoteOwner"] = s.remote_owner or s.remote_user
            out["RemoteNegotiatingGroup"] = "<none>"
            out["RemoteAutoregroup"] = False
        if s.remote_schedd:
            out["RemoteScheddName"] = s.remote_schedd
        if s.client_machine:
            out["ClientMachine"] = s.client_machine
        if s.job_id:
            out["JobId"] = s.job_id
        if s.global_job_id:
            out["GlobalJobId"] = s.global_job_id
        if s.job_universe is not None:
            out["JobUniverse"] = s.job_universe
        for attr in ("ImageSize", "DiskUsage", "ExecutableSize"):
            if attr in s.job_ad:
                out[attr] = s.job_ad[attr]
        if s.claimed_at is not None:
            out["TotalClaimRunTime"] = max(0, now - s.claimed_at)
        if s.job_start is not None:
            out["JobStart"] = s.job_start
            out["CpusUsage"] = 0.0
            out["TotalJobRunTime"] = s.job_run_time + max(0, now - s.job_start)
            if s.starter_pid is not None:
                out["StarterPid"] = s.starter_pid
        elif s.job_run_time:
            out["TotalJobRunTime"] = s.job_run_time
        return out

    def public_ads(self, now: int, daemon_attrs: dict) -> list[dict]:
        """One public Machine ad per slot, the pslot first, for an update to the collector:
        each update bumps the slots' own UpdateSequenceNumber, as each real slot counts
        its updates."""
        for s in self.slots():
            s.update_seq += 1
        return self.current_ads(now, daemon_attrs)

    def current_ads(self, now: int, daemon_attrs: dict) -> list[dict]:
        """The public ads as they stand, for an answer that is no update (a query, a
        claim's reply): no sequence number moves."""
        return [self._slot_ad(s, now, daemon_attrs) for s in self.slots()]

    def slot_ad(self, name: str, now: int, daemon_attrs: dict) -> dict:
        """One slot's public ad as it stands."""
        return self._slot_ad(self.slot(name), now, daemon_attrs)

    def private_ads(self, now: int, daemon_attrs: dict | None = None) -> list[dict]:
        """The private ad of each slot, in the order of :meth:`public_ads`: its claim id
        (``ClaimId``, and ``Capability`` as older negotiators read it) and, on the pslot,
        the dynamic slots' claim ids."""
        daemon_attrs = daemon_attrs or {}
        ads = []
        for s in self.slots():
            ad: dict = {"MyType": "Machine", "Name": s.name,
                        "MyAddress": daemon_attrs.get("MyAddress", self.sinful)}
            if s.claim_id:
                ad["ClaimId"] = s.claim_id
                ad["Capability"] = s.claim_id
            if not s.dynamic:
                ad["ChildClaimIds"] = _list_expr([k.claim_id for k in self.slots()[1:]])
                ad["NumDynamicSlots"] = len(self.dslots)
            for k in ("DaemonStartTime", "DaemonLastReconfigTime"):
                if k in daemon_attrs:
                    ad[k] = daemon_attrs[k]
            ad["UpdateSequenceNumber"] = s.update_seq
            ads.append(ad)
        return ads

    def startd_ad(self, now: int, daemon_attrs: dict) -> dict:
        """The StartD daemon ad: machine facts, totals over the slots, startd statistics."""
        ad = dict(daemon_attrs)
        ad.pop("MyPid", None)
        ad.update(self._common(now, daemon_attrs))
        ad["MyType"] = "StartD"
        ad["Name"] = daemon_attrs.get("Name", self.fqdn)
        in_use = list(self.dslots.values())
        ad.update({
            "ExecuteVolumes": _list_expr([self.facts.get("ExecuteVolume", "0")]),
            "TotalInUseCpus": float(sum(s.cpus for s in in_use)),
            "TotalInUseMemory": sum(s.memory for s in in_use),
            "TotalInUseDisk": sum(s.disk for s in in_use), "TotalInUseGPUs": 0.0,
            "TotalBackfillInUseCpus": 0.0, "TotalBackfillInUseMemory": 0,
            "TotalBackfillInUseDisk": 0, "ExcessBackfillCpus": 0.0, "ExcessBackfillMemory": 0,
            "ExcessBackfillDisk": 0, "ExcessBackfillGPUs": 0.0,
            "TotalTransferInputMB": 0.0, "TotalTransferOutputMB": 0.0,
            "AvgTransferInputMB": 0.0, "AvgTransferOutputMB": 0.0,
        })
        for slot_only in ("ExecuteVolume", "ConsoleIdle", "KeyboardIdle", "HasStartDaemonAd"):
            ad.pop(slot_only, None)
        return ad


def _subnet_mask(sinful: str) -> str:
    """The mask of the interface the startd listens on (loopback: 255.0.0.0)."""
    host = sinful.lstrip("<").split(":", 1)[0].split("?", 1)[0]
    if host.startswith("127."):
        return "255.0.0.0"
    try:
        import psutil
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family == socket.AF_INET and a.address == host and a.netmask:
                    return a.netmask
    except Exception:
        pass
    return "255.255.255.0"
