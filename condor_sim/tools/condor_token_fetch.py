"""``condor_token_fetch``: ask a daemon (the schedd unless ``-type`` says otherwise) for an
IDTOKEN for the identity this session authenticates as, as HTCondor's ``token_fetch.cpp``
does with DC_GET_SESSION_TOKEN: ``-authz`` (repeatable), ``-lifetime``, ``-key``, ``-name``,
``-pool``, ``-type``, then ``-token NAME`` / ``-file NAME`` or printed.

The request goes out through :func:`condor_sim.security.client.open_command` (an
FS-authenticated session), since the client library has no call for it.  ``-remote`` (asking
the collector to fetch from a schedd) is not supported.
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Sequence

from condor_sim.tools import _token_files as T
from condor_sim.tools.common import ArgCursor, ToolError, is_dash_arg_prefix, run_tool

PROG = "condor_token_fetch"
DC_GET_SESSION_TOKEN = 60046
USAGE = (
    "Usage: {prog} [-type TYPE] [-name NAME] [-remote] [-pool POOL] [-authz AUTHZ] [-lifetime VAL] "
    "[-token NAME | -file NAME]\n\n"
    "Generates a token from a remote daemon and prints its contents to stdout.\n"
    "\nToken options:\n"
    "    -authz    <authz>                Whitelist one or more authorization\n"
    "    -lifetime <val>                  Max token lifetime, in seconds\n"
    "    -key      <key>                  Request an alternate signing key\n"
    "Specifying target options:\n"
    "    -pool    <host>                  Query this collector\n"
    "    -remote                          Have collector fetch token remotely\n"
    "    -name    <name>                  Find a daemon with this name\n"
    "    -type    <subsystem>             Type of daemon to contact (default: SCHEDD)\n"
    "\nOther options:\n"
    "    -token    <NAME>                 Name of token file in tokens.d\n"
    "    -file     <NAME>                 Token filename\n"
)
DAEMON_TYPES = {"MASTER": "Master", "SCHEDD": "Schedd", "STARTD": "Startd",
                "COLLECTOR": "Collector", "NEGOTIATOR": "Negotiator", "CREDD": "Credd",
                "GENERIC": "Generic", "HAD": "HAD"}


@dataclass
class Options:
    dtype: str = "SCHEDD"
    name: str = ""
    pool: str = ""
    key: str = ""
    authz: list[str] = field(default_factory=list)
    lifetime: int = -1
    token_name: str = ""
    use_tokens_dir: bool = False
    remote: bool = False


def parse_args(args: list[str]) -> Options:
    o = Options()
    cursor = ArgCursor(args)

    def value(what: str) -> str:
        return cursor.take(f"{PROG}: {what}")

    for a in cursor:
        if is_dash_arg_prefix(a, "authz", 1):
            o.authz.append(value("-authz requires an authorization name argument"))
        elif is_dash_arg_prefix(a, "lifetime", 1):
            text = value("-lifetime requires an integer in seconds.")
            lifetime = T.parse_lifetime(text)
            if lifetime is None:
                raise ToolError(f"{PROG}: Invalid argument for -lifetime: {text}.\n")
            o.lifetime = lifetime
        elif is_dash_arg_prefix(a, "pool", 1):
            o.pool = value("-pool requires a pool name argument.")
        elif is_dash_arg_prefix(a, "name", 1):
            o.name = value("-name requires a daemon name argument.")
        elif is_dash_arg_prefix(a, "key", 1):
            o.key = value("-key requires a key name argument.")
        elif is_dash_arg_prefix(a, "type", 1):
            t = value("-type requires a daemon type argument.")
            if t.upper() not in DAEMON_TYPES:
                raise ToolError(f"{PROG}: invalid daemon type {t}\n" + USAGE.format(prog=PROG))
            o.dtype = t.upper()
        elif is_dash_arg_prefix(a, "remote", 1):
            o.remote = True
        elif is_dash_arg_prefix(a, "token", 2):
            o.token_name, o.use_tokens_dir = value("-token requires a file name argument."), True
        elif is_dash_arg_prefix(a, "file", 1):
            o.token_name, o.use_tokens_dir = value("-file requires a file name argument."), False
        elif is_dash_arg_prefix(a.split(":", 1)[0], "debug", 1):
            pass
        elif is_dash_arg_prefix(a, "help", 1):
            raise ToolError(USAGE.format(prog=PROG))
        else:
            raise ToolError(f"{PROG}: Invalid command line argument: {a}\n" + USAGE.format(prog=PROG))
    return o


def request_ad(o: Options):
    """What Daemon::getSessionToken sends."""
    import classad2
    ad = classad2.ClassAd()
    if o.authz:
        ad["LimitAuthorization"] = ",".join(o.authz)
    if o.lifetime > 0:
        ad["TokenLifetime"] = o.lifetime
    if o.key:
        ad["RequestedKey"] = o.key
    return ad


def locate(o: Options) -> str:
    """The daemon's address (ToolError with the real texts when it cannot be found)."""
    import htcondor2
    try:
        coll = htcondor2.Collector(o.pool) if o.pool else htcondor2.Collector()
        dtype = getattr(htcondor2.DaemonType, DAEMON_TYPES[o.dtype])
        ad = coll.locate(dtype, o.name) if o.name else coll.locate(dtype)
        addr = ad.get("MyAddress") if ad is not None else None
    except Exception:
        addr = None
    if not addr:
        if o.name:
            raise ToolError(f"ERROR: couldn't locate daemon {o.name}!\n")
        raise ToolError("ERROR: couldn't locate default daemon type.\n")
    return addr


def fetch(addr: str, ad) -> dict:
    """One DC_GET_SESSION_TOKEN exchange; the reply ad as a dict."""
    from condor_sim.cedar.classad_wire import get_ad, put_ad
    from condor_sim.security.client import open_command

    async def exchange():
        conn = await open_command(addr, DC_GET_SESSION_TOKEN, subsystem="TOOL")
        try:
            await conn.send(put_ad(conn.message(), ad).getvalue())
            return dict(get_ad(await conn.read()))
        finally:
            conn.close()
    return asyncio.run(asyncio.wait_for(exchange(), 30))


def token_from_reply(reply: dict, addr: str) -> str:
    """The token, or ToolError with the text the real tool prints for the daemon's error."""
    if isinstance(reply.get("ErrorString"), str):
        code = reply.get("ErrorCode") or -1
        raise ToolError(f"Failed to request a session token: DAEMON:{code}:{reply['ErrorString']}\n")
    token = reply.get("Token")
    if not isinstance(token, str):
        raise ToolError("Failed to request a session token: DAEMON:1:BUG!  Daemon::getSessionToken() "
                        "received a malformed ad containing no resulting token and no error "
                        f"message, from remote daemon at '{addr}'\n\n")
    return token


def _body(args: list[str]) -> int:
    o = parse_args(args)
    if o.remote:
        raise ToolError(f"{PROG}: -remote is not supported here\n")
    addr = locate(o)
    try:
        reply = fetch(addr, request_ad(o))
    except Exception:
        raise ToolError("Failed to request a session token: "
                        f"DAEMON:1:Failed to connect to remote daemon at '{addr}'\n") from None
    sys.stdout.write(T.write_token(o.token_name, token_from_reply(reply, addr), o.use_tokens_dir))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
