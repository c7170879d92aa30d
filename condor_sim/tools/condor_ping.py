"""``condor_ping``: whether a daemon would authorize a command (or an authorization level)
from us, and how the session is secured, as HTCondor's ``ping.cpp`` shows it: a sentence
per token by default, ``-table``, ``-verbose``, ``-long``, ``-af``/``-format`` or
``-quiet`` (only the exit code).

Each token becomes one ``htcondor2.ping`` (a DC_SEC_QUERY); the renderings
(:func:`render_sentence`, :func:`render_table_row`, :func:`render_verbose`,
:func:`render_long`) are pure functions of the session ad it returns.
"""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field

import classad2

from condor_sim.tools import common as C

TABLE_HEADER = "         Instruction Authentication Encryption Integrity Decision Identity\n"
TABLE_FAIL = "           FAIL       FAIL      FAIL     FAIL FAIL  (use -verbose for more info)\n"
ALL_LEVELS = ("ALLOW", "READ", "WRITE", "NEGOTIATOR", "ADMINISTRATOR", "OWNER", "CONFIG", "DAEMON",
              "ADVERTISE_STARTD", "ADVERTISE_SCHEDD", "ADVERTISE_MASTER")
LEVELS = ("ALLOW", "READ", "WRITE", "NEGOTIATOR", "ADMINISTRATOR", "CONFIG", "DAEMON",
          "ADVERTISE_STARTD", "ADVERTISE_SCHEDD", "ADVERTISE_MASTER")
DAEMON_TYPES = {"master": "Master", "schedd": "Schedd", "startd": "Startd",
                "collector": "Collector", "negotiator": "Negotiator", "credd": "Credd"}
# what the client adds to the session ad that the real tool keeps in a separate reply
NOT_POLICY = ("AuthorizationSucceeded", "TriedAuthentication")

QUIET, SENTENCE, VERBOSE, LONG, FORMAT, TABLE = 0, 1, 2, 3, 4, 10


# ------------------------------------------------------------------------------ options
@dataclass
class Options:
    mode: int = -1
    tokens: list[str] = field(default_factory=list)
    dtype: str | None = None
    name: str | None = None
    pool: str | None = None
    address: str | None = None
    af: C.AutoFormat | None = None
    formats: list[tuple[str, str]] = field(default_factory=list)
    help: bool = False
    version: bool = False



def parse_args(args: list[str]) -> Options:
    o = Options()

    def mode(m: int, also: int | None = None) -> None:
        if o.mode not in (-1, also):
            raise C.ToolError("ERROR: only one output mode may be specified.\n\n" + usage())
        o.mode = m

    cursor = C.ArgCursor(args)

    def value(message: str) -> str:
        word = cursor.take()
        if word is None:
            raise C.ToolError(message + "\n\n" + usage())
        return word

    for a in cursor:
        if C.is_option(a, "help", 1):
            o.help = True
        elif C.is_option(a, "quiet"):
            mode(QUIET)
        elif C.is_option(a, "table", 2):
            mode(TABLE)
        elif C.is_option(a, "verbose"):
            mode(VERBOSE)
        elif C.is_option(a, "long"):
            mode(LONG, LONG)
        elif C.is_option(a, "format", 1):
            mode(FORMAT, FORMAT)
            if cursor.peek(2) is None:
                raise C.ToolError("ERROR: -format requires 2 arguments\n\n" + usage())
            o.formats.append((cursor.take(), cursor.take()))
        elif C.is_option(a, "af", 2) or C.is_option(a, "autoformat", 5):
            af = C.autoformat_from(cursor, a)
            mode(FORMAT, FORMAT)
            o.af = af
        elif C.is_option(a, "pool"):
            o.pool = value("ERROR: -pool requires an argument.")
        elif C.is_option(a, "name"):
            o.name = value("ERROR: -name requires an argument.")
        elif C.is_option(a, "subsystem", 3) or C.is_option(a, "type", 4):
            t = value(f"ERROR: {a} requires an argument.")
            if t.lower() not in DAEMON_TYPES:
                raise C.ToolError(f"ERROR: unrecognized daemon type: {t}\n\n" + usage())
            o.dtype = t.lower()
        elif C.is_option(a, "address"):
            o.address = value("ERROR: -address requires an argument.")
        elif C.is_option(a, "version", 4):
            o.version = True
        elif C.is_option(a, "debug"):
            pass
        elif not a.startswith("-") or a == "-":
            o.tokens += list(ALL_LEVELS) if a.upper() == "ALL" else [a]
        else:
            raise C.ToolError(f"ERROR: Unknown argument: {a}\n\n" + usage())
    if o.address and (o.pool or o.name):
        raise C.ToolError("ERROR: -address cannot be used with -pool or -name.\n\n" + usage())
    return o


def usage() -> str:
    return ("Usage: condor_ping [options] TOKEN [TOKEN [TOKEN [...]]]\n\n"
            "where TOKEN is ( ALL | <authorization-level> | <command-name> | <command-int> )\n\n")


# ------------------------------------------------------------------------------ tokens
def command_for(token: str) -> tuple[int, str] | None:
    """getSomeCommandFromString: an authorization level (its sample command), a command
    name or a command number; with the name the client library knows it by."""
    from condor_sim.cedar.command_names import NAMES
    up = token.upper()
    if up in LEVELS or up == "OWNER":
        name = "DC_NOP" if up == "ALLOW" else f"DC_NOP_{up}"
        num = next(n for n, v in NAMES.items() if v == name)
        return num, name
    for num, name in NAMES.items():
        if name == token:
            return num, name
    if token.isdigit() and str(int(token)) == token:
        return int(token), NAMES.get(int(token), token)
    return None


# ------------------------------------------------------------------------------ renderings
def _s(ad, key: str) -> str:
    v = ad.get(key)
    return v if isinstance(v, str) else ""


def _methods(ad) -> tuple[str, str, str]:
    """(authentication, encryption, integrity) as the sentence and the table name them."""
    auth = "none" if _s(ad, "Authentication").lower() == "no" else _s(ad, "AuthMethods")
    enc = "none" if _s(ad, "Encryption").lower() == "no" else _s(ad, "CryptoMethods")
    if _s(ad, "Integrity").lower() == "no":
        integ = "none"
    else:
        integ = enc if enc == "AES" else "MD5"
    return auth, enc, integ


def render_sentence(token: str, dname: str, ad, allowed: bool | None) -> str:
    if ad is None:
        return f"{token} failed!  Use -verbose for more information.\n"
    auth, enc, integ = _methods(ad)
    auth = "no authentication" if auth == "none" else auth
    enc = "no encryption" if enc == "none" else enc
    integ = "no integrity" if integ == "none" else integ
    verdict = "succeeded" if allowed else "failed"
    return (f"{token} command using ({enc}, {integ}, and {auth}) {verdict} as "
            f"{_s(ad, 'MyRemoteUserName')} to {dname}.\n")


def render_table_row(token: str, ad, allowed: bool | None) -> str:
    if ad is None:
        return f"{token:>20}" + TABLE_FAIL
    auth, enc, integ = _methods(ad)
    decision = "    ALLOW " if allowed else "     DENY "
    return f"{token:>20}{auth:>15}{enc:>11}{integ:>10}{decision}{_s(ad, 'MyRemoteUserName')}\n"


def render_verbose(token: str, cmd: int, dname: str, ad, allowed: bool | None,
                   local_version: str, error: str = "") -> str:
    if ad is None:
        return f"{token} failed!\n{error}\n"
    auth, enc, integ = _methods(ad)
    lines = [f"Destination:                 {dname}",
             f"Remote Version:              {_s(ad, 'RemoteVersion')}",
             f"Local  Version:              {local_version}",
             f"Session ID:                  {_s(ad, 'Sid')}",
             f"Instruction:                 {token}",
             f"Command:                     {cmd}",
             f"Encryption:                  {enc}",
             f"Integrity:                   {integ}"]
    if auth == "none":
        lines.append("Authentication:              none")
    else:
        lines.append(f"Authenticated using:         {auth}")
        lines.append(f"All authentication methods:  {_s(ad, 'AuthMethodsList')}")
    lines.append(f"Remote Mapping:              {_s(ad, 'MyRemoteUserName')}")
    lines.append(f"Authorized:                  {'TRUE' if allowed else 'FALSE'}")
    return "\n".join(lines) + "\n\n"


def render_long(token: str, dname: str, ad, allowed: bool | None, error: str = "") -> str:
    if ad is None:
        return f"#{error}\n# {token} command to {dname} is FAILED\n"
    verdict = "ALLOWED" if allowed else "DENIED"
    return f"# {token} command to {dname} is {verdict}\n" + C.long_ad(ad) + "\n"


def policy_ad(result):
    """The session's policy ad from what ``htcondor2.ping`` returned, and the verdict."""
    ad = classad2.ClassAd()
    for k in result.keys():
        if k not in NOT_POLICY:
            ad[k] = result.lookup(k)
    allowed = result.get("AuthorizationSucceeded")
    return ad, allowed is True


# ------------------------------------------------------------------------------ I/O
def locate(o: Options):
    """(address, idStr) of the daemon to ping, or None."""
    import htcondor2
    if o.address:
        shown = o.address.split("?", 1)[0] + ">" if "?" in o.address else o.address
        return o.address, f"daemon at {shown}"
    kind = o.dtype or "schedd"
    if o.name is None and o.pool is None:
        knob = kind.upper()
        for path in (htcondor2.param.get(f"{knob}_ADDRESS_FILE"),):
            try:
                with open(path) as f:
                    line = f.readline().strip()
                if line.startswith("<"):
                    return line, f"local {kind}"
            except (OSError, TypeError):
                pass
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        dt = getattr(htcondor2.DaemonType, DAEMON_TYPES[kind])
        ad = coll.locate(dt, o.name) if o.name else coll.locate(dt)
    except Exception:
        return None
    addr = ad.get("MyAddress") if ad is not None else None
    if not isinstance(addr, str):
        return None
    return addr, (f"{kind} {o.name}" if o.name else f"local {kind}")


def _reachable(addr: str) -> bool:
    import re
    m = re.match(r"<([^:>?]+):(\d+)", addr)
    if not m:
        return False
    try:
        with socket.create_connection((m.group(1), int(m.group(2))), timeout=5):
            return True
    except OSError:
        return False


def ping_one(addr: str, name: str):
    """(session ad, allowed) or (None, error text)."""
    import htcondor2
    try:
        result = htcondor2.ping(addr, name)
    except Exception as e:
        return None, str(e)
    return policy_ad(result)


def body(args: list[str]) -> int:
    import htcondor2
    o = parse_args(args)
    if o.version:
        sys.stdout.write(f"{htcondor2.version()}\n{htcondor2.platform()}\n")
        return 0
    if o.help:
        sys.stdout.write(usage())
        return 0
    if o.mode == -1:
        o.mode = SENTENCE
    err = sys.stderr
    if not o.tokens:
        if o.mode > FORMAT:
            err.write("WARNING: Missing <authz-level | command-name | command-int> argument, "
                      "defaulting to WRITE.\n")
        o.tokens = ["WRITE"]
    commands = []
    for t in o.tokens:
        c = command_for(t)
        if c is None and o.mode:
            err.write(f'ERROR: Could not understand TOKEN "{t}".\n')
        commands.append(c)
    if any(c is None for c in commands):
        return 1
    if o.dtype is None and not o.address:
        if o.mode > FORMAT:
            err.write("WARNING: Missing daemon argument, defaulting to SCHEDD.\n")
    where = locate(o)
    if where is None:
        if o.mode:
            err.write(f"ERROR: couldn't locate {o.address or o.name or '(null)'}!\n")
        return 1
    addr, dname = where
    out = sys.stdout
    if o.mode == TABLE:
        out.write(TABLE_HEADER)
    ok = True
    fmt_ads = []
    for token, (num, name) in zip(o.tokens, commands):
        if not _reachable(addr):
            out.flush()
            err.write(f"ERROR: failed to make connection to {addr}\n")
            ok = False
            continue
        ad, allowed = ping_one(addr, name)
        error = allowed if ad is None else ""
        if ad is None:
            ok = False
        if o.mode == SENTENCE:
            out.write(render_sentence(token, dname, ad, allowed))
        elif o.mode == TABLE:
            out.write(render_table_row(token, ad, allowed))
        elif o.mode == VERBOSE:
            out.write(render_verbose(token, num, dname, ad, allowed, htcondor2.version(), error))
        elif o.mode == LONG:
            out.write(render_long(token, dname, ad, allowed, error))
        elif o.mode == FORMAT:
            shown = ad if ad is not None else classad2.ClassAd({"AuthCommand": num})
            shown["Result"] = "FAILED" if ad is None else ("ALLOWED" if allowed else "DENIED")
            shown["Name"] = name
            shown["From"] = dname
            fmt_ads.append(shown)
    if o.mode == FORMAT:
        out.write(o.af.render(fmt_ads) if o.af else C.render_format(fmt_ads, o.formats))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    return C.run_tool(body, argv)


if __name__ == "__main__":
    sys.exit(main())
