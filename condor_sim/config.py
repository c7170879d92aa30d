"""The daemons' config engine: the real HTCondor library's, under the daemon's subsystem.

The library does the language (prefixes, macros, ``use``, ``include``, ``if``/``else``,
defaults); this module handles its caveats for a long-running daemon:

* a knob set only as ``SCHEDD.X`` raises KeyError for ``param["X"]``, so values are read
  by expanding ``$(X)`` through a scratch knob, which applies the subsystem prefix;
* a config syntax error ends the process, so a new config is first read in a forked child
  and a daemon keeps its old config when that child fails;
* remote (runtime/persistent) settings are re-applied after every reload.
"""
from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import warnings

import htcondor2

from .registry import spec

_Q = "_CONDOR_SIM_Q"
_FORK_FAILED = object()


def _set_subsystem(name: str) -> None:
    s = spec(name)
    if s:
        htcondor2.set_subsystem(name.upper(), getattr(htcondor2.SubsystemType, s.daemon_type))
    else:
        htcondor2.set_subsystem(name.upper())


def _int_or_expr(text: str, default: int) -> int:
    """An integer, or an expression that evaluates to a number (param_integer)."""
    try:
        return int(text)
    except ValueError:
        import classad2
        try:
            r = classad2.ExprTree(text).eval()
        except Exception:
            return default
        if isinstance(r, (classad2.Value, bool)) or not isinstance(r, (int, float)):
            return default      # Value.Undefined is an IntEnum (2): test it first
        return int(r)


class TypedReads:
    """int, bool, list and size readings on top of ``get`` (param_integer, param_boolean,
    param_list and the size suffixes of HTCondor's config)."""

    def _parsed(self, name: str, default, parse):
        """``parse`` of the knob's text; ``default`` when undefined or unparsable."""
        v = self.get(name)
        if v is None:
            return default
        try:
            return parse(v.strip())
        except ValueError:
            return default

    def get_int(self, name: str, default: int) -> int:
        return self._parsed(name, default, lambda text: _int_or_expr(text, default))

    def get_float(self, name: str, default: float) -> float:
        return self._parsed(name, default, float)

    def get_bool(self, name: str, default: bool) -> bool:
        v = self.get(name)
        if v is None:
            return default
        low = v.strip().lower()
        if low in ("true", "yes", "1", "t", "y"):
            return True
        if low in ("false", "no", "0", "f", "n"):
            return False
        return default

    def get_list(self, name: str, default=()) -> list[str]:
        v = self.get(name)
        if v is None:
            return list(default)
        return [x for x in v.replace(",", " ").split() if x]

    def get_size_bytes(self, name: str, default: int) -> int:
        v = self.get(name)
        if v is None:
            return default
        num = "".join(c for c in v if c.isdigit() or c == ".")
        unit = v.strip()[len(num):].strip().lower()[:1] if num else ""
        try:
            n = float(num)
        except ValueError:
            return default
        return int(n * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(unit, 1))


class DaemonConfig(TypedReads):
    def __init__(self, subsystem: str, local_name: str | None = None):
        self.subsystem = subsystem.upper()
        self.local_name = local_name
        self._runtime: dict[str, str | None] = {}
        self._applied: dict[str, str | None] = {}
        self._cache: dict[str, str | None] = {}
        _set_subsystem(self.subsystem)
        htcondor2.reload_config()
        self._specials()

    def _specials(self) -> None:
        # reinsert_specials(): $(LOCALNAME) is the daemon's local name.  The library
        # does not know ours, so it goes in after every read (too late for parse-time
        # `if` tests, in time for every lookup).
        if self.local_name:
            htcondor2.param["LOCALNAME"] = self.local_name

    def get(self, name: str, default: str | None = None, fresh: bool = False) -> str | None:
        """The value the daemon's param() sees, or ``default`` when undefined or empty.

        With a local name L, ``L.NAME`` is tried first; then the library's own order
        (``SUBSYS.NAME``, ``NAME``, defaults).  Values are kept until the next reload: a
        real daemon reads its knobs when it (re)configures, so ``$RANDOM_*`` is drawn once
        per config.  ``fresh`` looks up again, as param() does each time it is called (a
        CONFIG_VAL query of ``$RANDOM_INTEGER(..)`` gets a new draw every time)."""
        key = name.upper()
        if key in self._cache and not fresh:
            value = self._cache[key]
        else:
            value = self._lookup(name)
            if not fresh:
                self._cache[key] = value
        return value if value is not None else default

    def _lookup(self, name: str) -> str | None:
        value = self._expand(f"{self.local_name}.{name}") if self.local_name else None
        return value if value is not None else self._expand(name)

    def snapshot(self) -> "ConfigSnapshot":
        """Every knob of the table as this daemon sees it now, as fixed values: what a
        daemon that shares its process with others would hold instead of the library's
        process-wide table.  About 2 ms for a pool's thousand knobs when idle, but 15 ms
        and more in a starting pool's contention, so the daemons here do not take one at
        start-up; their reads are cached per (re)config, filled on first use."""
        prefixes = [f"{self.subsystem}."] + ([f"{self.local_name.upper()}."] if self.local_name else [])
        values: dict[str, str] = {}
        for name in htcondor2.param.keys():
            key = name.upper()
            if not key or key == _Q:
                continue
            key = next((key[len(p):] for p in prefixes if key.startswith(p)), key)
            if key not in values:
                try:
                    value = self._lookup(key)
                except Exception:          # a knob that does not expand is left out
                    continue
                if value is not None:
                    values[key] = value
        return ConfigSnapshot(self.subsystem, values, self.local_name)

    def get_local(self, name: str) -> str | None:
        """``L.NAME`` only (for knobs a daemon with a local name must not inherit, such as
        its log path); None without a local name."""
        return self._expand(f"{self.local_name}.{name}") if self.local_name else None

    @staticmethod
    def _expand(name: str) -> str | None:
        # Expanding "$(NAME)" through a scratch knob gives the text the daemon's param()
        # sees: SUBSYS.NAME first, macros expanded, and knobs set only with a prefix.
        htcondor2.param[_Q] = f"$({name})"
        try:
            value = htcondor2.param[_Q]
        except KeyError:
            return None
        return value if value != "" else None

    _EXCLUDE_DEFAULT = r"^((\..*)|(.*~)|(#.*)|(.*\.rpmsave)|(.*\.rpmnew))$"

    def local_sources(self) -> list[str]:
        """The "local config sources" the banner lists, in the order the engine read them:
        the files of LOCAL_CONFIG_DIR (sorted, minus LOCAL_CONFIG_DIR_EXCLUDE_REGEXP), then
        the files of LOCAL_CONFIG_FILE (condor_config.cpp, process_directory/process_locals)."""
        out: list[str] = []
        try:
            exclude = re.compile(self.get("LOCAL_CONFIG_DIR_EXCLUDE_REGEXP") or self._EXCLUDE_DEFAULT)
        except re.error:
            exclude = re.compile(self._EXCLUDE_DEFAULT)
        for d in self.get_list("LOCAL_CONFIG_DIR"):
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            files = [os.path.join(d, f) for f in entries
                     if not os.path.isdir(os.path.join(d, f)) and not exclude.search(f)]
            out += sorted(files)
        out += [f for f in self.get_list("LOCAL_CONFIG_FILE") if os.path.exists(f)]
        return out

    def where_defined(self, name: str) -> tuple[str, int] | None:
        """The file and line that last set ``name`` (``condor_config_val -v`` says the
        same), looked for in CONDOR_CONFIG and the local config sources, as plain text."""
        rx = re.compile(rf"^\s*{re.escape(name)}\s*[=:]", re.I)
        found = None
        for path in [os.environ.get("CONDOR_CONFIG", "")] + self.local_sources():
            try:
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        if rx.match(line):
                            found = (path, n)
            except OSError:
                continue
        return found

    def names(self) -> list[str]:
        """The config table's names, as ``?names`` lists them.  The library's keys() leaves
        out knobs whose value is empty; the real table keeps them, so the ones set
        remotely come back here (an empty knob in the files is still missing)."""
        names = [k for k in htcondor2.param.keys() if k and k != _Q]
        seen = {k.upper() for k in names}
        return names + [k for k in self._applied if k.upper() not in seen]

    def reload(self) -> str | None:
        """Re-read the config files; on an error keep the old config and return the message.

        The library ends the process on a config error, so the new files are first read in
        a forked child (cheap: the library is already loaded), falling back to a fresh
        interpreter where fork is unavailable."""
        err = self._validate()
        if err is not None:
            return err
        htcondor2.reload_config()
        self.apply_overrides()          # also forgets the values read before
        return None

    def _validate(self) -> str | None:
        if hasattr(os, "fork"):
            err = self._validate_forked()
            if err is not _FORK_FAILED:
                return err
        code = ("import htcondor2,sys;"
                f"htcondor2.set_subsystem({self.subsystem!r});htcondor2.reload_config()")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=os.environ)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-2000:] or f"exit status {proc.returncode}"
        return None

    def _validate_forked(self, timeout: float = 10.0):
        """Read the config in a forked child.  A child that hangs (a lock some other thread
        held at fork time) is killed and the caller falls back to a fresh interpreter."""
        rfd, wfd = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads: see above
            pid = os.fork()
        if pid == 0:                       # child: only the library call, then _exit
            try:
                os.close(rfd)
                os.dup2(wfd, 1)
                os.dup2(wfd, 2)
                htcondor2.reload_config()
                os._exit(0)
            except BaseException:
                os._exit(70)
        os.close(wfd)
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                ready, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    return _FORK_FAILED
                b = os.read(rfd, 65536)
                if not b:
                    break
                chunks.append(b)
        finally:
            os.close(rfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code < 0 or code == 70:
            # killed by a signal (fork is fragile on some platforms) or a Python-level
            # failure: not the library's verdict on the files, so ask a fresh interpreter
            return _FORK_FAILED
        if code != 0:
            text = b"".join(chunks).decode("utf-8", "replace").strip()
            return text[-2000:] or f"exit status {code}"
        return None

    def set_overrides(self, settings: dict[str, str]) -> None:
        """Assignments (runtime/persistent config) applied after every reload from now on."""
        self._runtime = dict(settings)

    def apply_overrides(self) -> None:
        self._applied = dict(self._runtime)
        self._cache.clear()
        self._specials()
        for k, v in self._runtime.items():
            htcondor2.param[k] = v


class ConfigSnapshot(TypedReads):
    """A daemon's config as fixed values, not the process-global table of the library.

    What a daemon built without a process reads (a test builds one from a dict), and what
    several daemons sharing one process would each hold.  Lookups follow the daemon's own
    order: ``L.NAME`` with a local name, ``SUBSYS.NAME``, ``NAME``; names are
    case-insensitive; values are taken as already expanded.
    """

    def __init__(self, subsystem: str, values: dict[str, str] | None = None,
                 local_name: str | None = None):
        self.subsystem = subsystem.upper()
        self.local_name = local_name
        self._values = {k.upper(): str(v) for k, v in (values or {}).items()}
        self._runtime: dict[str, str | None] = {}

    def get(self, name: str, default: str | None = None, fresh: bool = False) -> str | None:
        key = name.upper()
        for cand in ([f"{self.local_name.upper()}.{key}"] if self.local_name else []) + \
                [f"{self.subsystem}.{key}", key]:
            value = self._values.get(cand)
            if value not in (None, ""):
                return value
        return default

    def get_local(self, name: str) -> str | None:
        if not self.local_name:
            return None
        return self._values.get(f"{self.local_name.upper()}.{name.upper()}") or None

    def names(self) -> list[str]:
        return list(self._values)

    def local_sources(self) -> list[str]:
        return []

    def reload(self) -> str | None:
        self.apply_overrides()
        return None

    def set_overrides(self, settings: dict[str, str]) -> None:
        self._runtime = dict(settings)

    def apply_overrides(self) -> None:
        for k, v in self._runtime.items():
            if v is None:
                self._values.pop(k.upper(), None)
            else:
                self._values[k.upper()] = v
