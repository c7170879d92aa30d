"""The configuration commands every DaemonCore daemon answers (``handle_config_val``,
``handle_config`` in HTCondor): what ``RemoteParam`` and ``condor_config_val`` use.

* CONFIG_VAL (457, READ): ``[name]`` -> ``[value]`` or ``["Not defined"]``.
* DC_CONFIG_VAL (60007, READ): ``?names[:regex]`` -> one string per knob name the regex
  finds a match in (``[""]`` when none match, or when matching takes too long); a regex
  that does not compile (or would compile too large) gets no answer: the connection
  closes.  A plain name -> the value (NULL string when unknown) followed by
  ``NAME = raw``, the source, the default and the use count.
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

_SAFE_ADMIN = re.compile(r"\$?[A-Za-z0-9_][A-Za-z0-9_.]*")   # a persistent admin name: no "/", no leading "."
_VALID_NAME = re.compile(r"[A-Za-z0-9_./]+")     # condor_isidchar; use fullmatch ("$" lets "\n" by)

# ``?names:<regex>`` comes from the peer.  The real daemon matches it with PCRE2 (caseless,
# unanchored: param_names_matching) within PCRE2's match and size limits.  Here the
# ``regex`` module stands in, with a CPU-time budget for the whole listing and a bound on
# what compiling may cost.
NAMES_MATCH_SECONDS = 0.5
# The ``regex`` compiler unrolls counted repeats, and each "+" doubles what it repeats: the
# 24 characters (?:(?:a{100}){100}){100} compile to a million nodes (~300 MB), and one
# level more takes all the memory there is.  So a pattern whose cost (_pattern_cost) is
# above this bound is refused before it is compiled, as PCRE2 refuses a pattern whose
# compiled form is too large.  Knob names are short: no useful pattern comes near it.
NAMES_PATTERN_MAX_COST = 50_000
PCRE2_ERROR_TOO_LARGE = 120                 # "regular expression is too large"
# PCRE2's compile error numbers (pcre2_error.c) for what the ``regex`` module reports.
_PCRE2_COMPILE_ERRORS = {
    "bad escape (end of pattern)": 101, "bad escape": 103, "incomplete escape": 103,
    "min repeat greater than max repeat": 104, "repeat count too big": 105,
    "unterminated character set": 106, "missing ]": 106, "bad character range": 108,
    "nothing to repeat": 109, "multiple repeat": 109, "unknown extension": 111,
    "missing )": 114, "invalid group reference": 115, "unknown group": 115,
    "unbalanced parenthesis": 122, "unknown property": 147,
}
_DIGITS = "0123456789"


def _read_counts(p: str, i: int) -> tuple[list[int], int]:
    """The numbers of a ``{m,n}`` quantifier whose text starts at ``p[i]`` (after the
    brace), read as the ``regex`` module reads them in verbose mode, which also skips
    white space and ``#`` comments there (``{1 0 0}`` is 100).  That reading finds at
    least the numbers of the plain one, so it is used whatever the pattern's flags."""
    parts = [""]
    n = len(p)
    while i < n:
        c = p[i]
        if c in _DIGITS:
            parts[-1] += c
        elif c == ",":
            parts.append("")
        elif c == "#":
            nl = p.find("\n", i)
            i = n if nl < 0 else nl
        elif not c.isspace():
            break
        i += 1
    counts = [int(d) if len(d) <= 9 else 10**9 for d in parts if d]
    return counts, i


def _pattern_cost(pattern: str) -> int:
    """An upper bound on the nodes compiling ``pattern`` builds: its length times the
    product of every repeat count (plus one) and a factor two for every "+".  It ignores
    the pattern's structure on purpose: a character class, a comment or verbose mode may
    make the bound larger than need be, never smaller."""
    cost = max(len(pattern), 1)
    i, n = 0, len(pattern)
    while i < n and cost <= NAMES_PATTERN_MAX_COST:
        c = pattern[i]
        i += 1
        if c == "\\":
            i += 1
        elif c == "+":
            cost *= 2
        elif c == "{":
            counts, i = _read_counts(pattern, i)
            if counts:
                cost *= max(counts) + 1
    return cost


class PatternError(Exception):
    """A ``?names`` pattern that cannot be used: ``offset`` and ``code`` as pcre2_compile
    gives them."""

    def __init__(self, offset: int, code: int):
        super().__init__(f"!error:regex:{offset}: error code {code}")
        self.offset, self.code = offset, code


def compile_names_pattern(pattern: str):
    """The pattern as handle_config_val compiles it (PCRE2_CASELESS, nothing else: it is
    not anchored), or PatternError."""
    import regex       # here, not at the top: 17 ms of start-up for every daemon
    if _pattern_cost(pattern) > NAMES_PATTERN_MAX_COST:
        raise PatternError(0, PCRE2_ERROR_TOO_LARGE)
    try:
        # not kept in the module's cache: a peer's patterns must not pile up there
        return regex.compile(pattern, regex.IGNORECASE | regex.ASCII, cache_pattern=False)
    except regex.error as e:
        code = next((c for text, c in _PCRE2_COMPILE_ERRORS.items() if e.msg.startswith(text)), 0)
        raise PatternError(e.pos or 0, code) from None
    except Exception:        # RecursionError (deep nesting), clashing inline flags ...
        raise PatternError(0, PCRE2_ERROR_TOO_LARGE) from None


def names_matching(rx, names, budget: float = NAMES_MATCH_SECONDS) -> list[str] | None:
    """param_names_matching(): the names in which ``rx`` finds a match, in order; None when
    the matching as a whole took more than ``budget`` seconds of CPU time (the ``regex``
    module's timeout counts process time)."""
    start = time.process_time()
    out = []
    for name in names:
        left = budget - (time.process_time() - start)
        if left <= 0:
            return None
        try:
            if rx.search(name, timeout=left):
                out.append(name)
        except TimeoutError:
            return None
    return out


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
        # Only a valid name can be in the config table; anything else is unknown.  (The
        # engine looks names up by expanding "$(NAME)": a name such as "X)$ENV(HOME" would
        # have the daemon expand macros of the peer's choosing.)
        valid = bool(_VALID_NAME.fullmatch(name))
        if req.cmd == Cmd.DC_CONFIG_VAL and name.startswith("?"):
            if not self._special(name, msg):
                return
        elif req.cmd == Cmd.DC_CONFIG_VAL:
            value = cfg.get(name, fresh=True) if valid else None
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
            value = cfg.get(name, fresh=True) if valid else None
            if value is None:
                self.core.log.log(f"Got CONFIG_VAL request for unknown parameter ({name})", "D_FULLDEBUG")
                msg.put_string("Not defined")
            else:
                msg.put_string(value)
        await req.send(msg)

    def _special(self, name: str, msg) -> bool:
        """A ``?command`` of DC_CONFIG_VAL; False when there is nothing to send."""
        head, colon, pattern = name.partition(":")
        if head.lower() not in ("?names", "?name", "?n", "?na", "?nam") or len(head) < 2:
            msg.put_string(f"!error:unsup:1: '{name}' is not supported")
            return True
        try:
            rx = compile_names_pattern(pattern if colon else ".*")
        except PatternError:
            # The real handler codes "!error:regex:<offset>: error code <n>" but returns
            # without an end of message, and closing the socket drops what was not sent:
            # the client sees the connection close.
            self.core.log.log("Can't compile regex for DC_CONFIG_VAL ?names query")
            return False
        names = names_matching(rx, self.core.config.names())
        if names is None:
            # PCRE2 at its match limit: no match.  Here the limit is on the whole listing.
            self.core.log.log(f"DC_CONFIG_VAL ?names query: matching took more than "
                              f"{NAMES_MATCH_SECONDS} s of CPU time, no names sent "
                              f"(pattern {pattern[:200]})")
            names = []
        if not names:
            msg.put_string("")
        for n in names:
            msg.put_string(n)
        return True

    # ------------------------------------------------------------------ setting
    @command(Cmd.DC_CONFIG_RUNTIME, Cmd.DC_CONFIG_PERSIST, perm=Perm.DAEMON, alt_perms=(Perm.ALLOW,))
    async def set_config(self, req) -> None:
        r = await req.read()
        admin = r.get_str()
        line = r.get_str()
        name = assigned_name(line) if line else admin
        limit = req.policy.get("_limit") if req.policy else None
        rval = -1
        if name is None or not _VALID_NAME.fullmatch(name[1:] if admin.startswith("$") else name):
            self.core.log.log(f"Rejecting attempt to set param with invalid name ({name or '(null)'})")
        elif not self.core.security.authz.settable(name, req.user, req.peer_ip, limit):
            self.core.log.log(f'WARNING: Someone at {req.peer_ip} is trying to modify "{name}"')
            self.core.log.log("WARNING: Potential security problem, request refused")
        elif req.cmd == Cmd.DC_CONFIG_RUNTIME:
            rval = self._set(self.runtime, self.enable_runtime, admin, line)
        elif not _SAFE_ADMIN.fullmatch(admin):
            # ours: the admin name becomes part of a file name (<base>.<admin>); the real
            # set_persistent_config() takes it as it comes, "../" included
            self.core.log.log(f"set_persistent_config(): refusing admin name {admin!r}, "
                              f"which is not a plain file-name part")
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
