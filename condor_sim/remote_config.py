"""The configuration commands every DaemonCore daemon answers (``handle_config_val``,
``handle_config`` in HTCondor): what ``RemoteParam`` and ``condor_config_val`` use.

* CONFIG_VAL (457, READ): ``[name]`` -> ``[value]`` or ``["Not defined"]``.
* DC_CONFIG_VAL (60007, READ): ``?names[:regex]`` -> one string per matching knob name
  (``[""]`` when none match); a plain name -> the value (NULL string when unknown) followed
  by ``NAME = raw``, the source, the default and the use count.
* DC_CONFIG_RUNTIME / DC_CONFIG_PERSIST (60003 / 60002, DAEMON with ALLOW as an
  alternate level): ``[name]["NAME = value"]`` -> ``[int 0]`` accepted or ``[int -1]``
  refused.  The handler itself decides: the name must be valid, some level other than
  ALLOW must both grant the peer and list the name in ``SETTABLE_ATTRS_<LEVEL>``, and
  ``ENABLE_RUNTIME_CONFIG`` / ``ENABLE_PERSISTENT_CONFIG`` (read once at start-up) must
  be on.  Accepted values take effect at the next reconfig; persistent ones are written
  under ``PERSISTENT_CONFIG_DIR`` and survive a restart.
"""
from __future__ import annotations

import os
import re
import sys
import time

from .cedar.commands import Cmd
from .command_table import command
from .security.perms import Perm

NAMES_MATCH_SECONDS = 1.0     # for a whole ?names listing (the client's pattern)
_VALID_NAME = re.compile(r"^[A-Za-z0-9_./]+$")     # condor_isidchar


def assigned_name(line: str) -> str | None:
    """is_valid_config_assignment(): the knob a "NAME = value" (or "NAME : value") line
    sets, or None when there is no assignment.  A metaknob line ("use CAT : OPT") is not
    accepted here: checking its category and option needs the library's metaknob table."""
    text = line.lstrip()
    if text[:4].lower() == "use ":
        return None
    cut = [i for i in (text.find("="), text.find(":")) if i >= 0]
    if not cut:
        return None
    return text[:min(cut)].rstrip()


class RemoteConfig:
    def __init__(self, core):
        self.core = core
        cfg = core.config
        # Like init_dynamic_config(): decided once, when the daemon starts.
        self.enable_runtime = cfg.get_bool("ENABLE_RUNTIME_CONFIG", False)
        self.enable_persistent = cfg.get_bool("ENABLE_PERSISTENT_CONFIG", False)
        self.persist_base = None
        if self.enable_persistent:
            top = cfg.get(f"{core.subsystem}_CONFIG")
            if not top and cfg.get("PERSISTENT_CONFIG_DIR"):
                top = os.path.join(cfg.get("PERSISTENT_CONFIG_DIR"), f".config.{core.subsystem}")
            if not top:
                # init_dynamic_config(): a daemon with nowhere to persist to must not run.
                sys.stderr.write("Condor error: ENABLE_PERSISTENT_CONFIG is TRUE, but neither "
                                 f"{core.subsystem}_CONFIG nor PERSISTENT_CONFIG_DIR is specified "
                                 "in the configuration file\n")
                sys.exit(1)
            self.persist_base = top
        self.runtime: dict[str, str] = {}
        self.persistent = self._load_persistent()
        self.apply()
        cfg.apply_overrides()      # persistent settings from an earlier run count at once

    # ------------------------------------------------------------------ queries
    @command(Cmd.CONFIG_VAL, Cmd.DC_CONFIG_VAL, perm=Perm.READ)
    async def config_val(self, req) -> None:
        name = (await req.read()).get_str()
        cfg = self.core.config
        msg = req.message()
        if req.cmd == Cmd.DC_CONFIG_VAL and name.startswith("?"):
            self._special(name, msg)
        elif req.cmd == Cmd.DC_CONFIG_VAL:
            value = cfg.get(name, fresh=True)
            if value is None:
                self.core.log.log(f"Got DC_CONFIG_VAL request for unknown parameter ({name})", "D_FULLDEBUG")
                msg.put_string(None)
            else:
                # The real reply's second string is "NAME = <raw text as written>".  The
                # bindings expand every lookup (param, and $(NAME) through a scratch knob)
                # and expose no raw access, and we write no config parser of our own, so
                # the expanded value stands in for the raw text (seen by condor_config_val -v).
                msg.put_string(value)
                msg.put_string(f"{name.upper()} = {value}")
                msg.put_string(os.environ.get("CONDOR_CONFIG", "<Default>"))
                msg.put_string(None)
                msg.put_string("1")
        else:
            value = cfg.get(name, fresh=True)
            if value is None:
                self.core.log.log(f"Got CONFIG_VAL request for unknown parameter ({name})", "D_FULLDEBUG")
                msg.put_string("Not defined")
            else:
                msg.put_string(value)
        await req.send(msg)

    def _special(self, name: str, msg) -> None:
        head, colon, pattern = name.partition(":")
        if head.lower() not in ("?names", "?name", "?n", "?na", "?nam") or len(head) < 2:
            msg.put_string(f"!error:unsup:1: '{name}' is not supported")
            return
        import regex       # here, not at the top: 17 ms of start-up for every daemon
        try:
            rx = regex.compile(pattern if colon else ".*", regex.IGNORECASE | regex.VERSION0)
        except (regex.error, RecursionError, ValueError) as e:
            self.core.log.log("Can't compile regex for DC_CONFIG_VAL ?names query")
            msg.put_string(f"!error:regex:{getattr(e, 'pos', 0) or 0}: error code {e}")
            return
        names = self._matching(rx)
        if not names:
            msg.put_string("")
        for n in names:
            msg.put_string(n)

    def _matching(self, rx) -> list[str]:
        """param_names_matching(): the names the pattern finds (PCRE2 searches, unanchored).

        The pattern is the client's, so the whole listing has a time bound, as PCRE2's
        match limit bounds the real daemon: a name whose match does not finish in time
        counts as not matching, as a PCRE2 match error does, and the listing stops."""
        deadline = time.monotonic() + NAMES_MATCH_SECONDS
        out = []
        for n in self.core.config.names():
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                if rx.search(n, timeout=left):
                    out.append(n)
            except TimeoutError:
                self.core.log.log(f"DC_CONFIG_VAL ?names: the pattern took longer than "
                                  f"{NAMES_MATCH_SECONDS} s; answering with the {len(out)} "
                                  f"names matched so far")
                break
        return out

    # ------------------------------------------------------------------ setting
    @command(Cmd.DC_CONFIG_RUNTIME, Cmd.DC_CONFIG_PERSIST, perm=Perm.DAEMON, alt_perms=(Perm.ALLOW,))
    async def set_config(self, req) -> None:
        r = await req.read()
        admin = r.get_str()
        line = r.get_str()
        name = assigned_name(line) if line else admin
        limit = req.policy.get("_limit") if req.policy else None
        rval = -1
        if name is None or not _VALID_NAME.match(name[1:] if admin.startswith("$") else name):
            self.core.log.log(f"Rejecting attempt to set param with invalid name ({name or '(null)'})")
        elif not self.core.security.authz.settable(name, req.user, req.peer_ip, limit):
            self.core.log.log(f'WARNING: Someone at {req.peer_ip} is trying to modify "{name}"')
            self.core.log.log("WARNING: Potential security problem, request refused")
        elif req.cmd == Cmd.DC_CONFIG_RUNTIME:
            rval = self._set(self.runtime, self.enable_runtime, admin, line)
        else:
            before = dict(self.persistent)
            rval = self._set(self.persistent, self.enable_persistent, admin, line)
            if rval == 0:
                try:
                    self._save_persistent(admin)
                except OSError as e:
                    self.core.log.log(f"set_persistent_config(): cannot write under "
                                      f"{os.path.dirname(self.persist_base)}: {e.strerror} (errno {e.errno})")
                    self.persistent = before
                    rval = -1
            elif not self.enable_persistent:
                self.core.log.log("set_persistent_config(): ENABLE_PERSISTENT_CONFIG is false. "
                                  f"Not setting persistent config file param: {line}")
        if rval == 0:
            self.apply()
        await req.send(req.message().put_int(rval))

    @staticmethod
    def _set(table: dict, enabled: bool, admin: str, line: str) -> int:
        """set_runtime_config / set_persistent_config: a non-empty assignment is stored
        as sent ("FOO = " included: it defines FOO as empty); an empty one removes."""
        if not admin or not enabled:
            return -1
        if line:
            table[admin] = line
        else:
            table.pop(admin, None)
        return 0

    # ------------------------------------------------------------------ persistence
    def _load_persistent(self) -> dict:
        out: dict[str, str] = {}
        if not self.persist_base or not os.path.exists(self.persist_base):
            return out
        admins = []
        for line in open(self.persist_base, errors="replace"):
            if line.startswith("RUNTIME_CONFIG_ADMIN"):
                admins = line.partition("=")[2].replace(",", " ").split()
        for admin in admins:
            path = f"{self.persist_base}.{admin}"
            if os.path.exists(path):
                text = open(path, errors="replace").read().strip()
                if text:
                    out[admin] = text
        return out

    def _save_persistent(self, admin: str) -> None:
        """The files set_persistent_config() writes: ``<base>.<ADMIN>`` holds the assignment
        exactly as sent, ``<base>`` lists the admins (sorted, ", "-joined).  Clearing an
        admin removes its file, and the list file goes with the last one."""
        base = self.persist_base
        os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
        line = self.persistent.get(admin)
        if line:
            _atomic_write(f"{base}.{admin}", line)
        _atomic_write(base, "RUNTIME_CONFIG_ADMIN = " + ", ".join(sorted(self.persistent)) + "\n")
        if not line:
            _unlink(f"{base}.{admin}")
            if not self.persistent:
                _unlink(base)

    def apply(self) -> None:
        """Hand the accepted settings to the config engine (persistent first, then runtime);
        they take effect when the config is next re-read."""
        settings = {}
        for table in (self.persistent, self.runtime):
            for line in table.values():
                name, _, value = line.partition("=")
                settings[name.strip()] = value.strip()
        self.core.config.set_overrides(settings)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
