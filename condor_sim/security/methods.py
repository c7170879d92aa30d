"""Server halves of the authentication methods (``condor_io/condor_auth_*.cpp`` behaviour).

Each method is an async function ``(chan, ctx) -> Identity | None`` that runs the
method's messages over a :class:`condor_sim.daemoncore.Channel`.  ``ctx`` is an
:class:`AuthContext` with what the method needs to know about the daemon.
"""
from __future__ import annotations

import os
import pwd
import secrets
import stat
import string
from dataclasses import dataclass, field
from typing import Callable

METHOD_BITS = {"CLAIMTOBE": 2, "FS": 4, "FS_REMOTE": 8, "KERBEROS": 64, "ANONYMOUS": 128,
               "SSL": 256, "PASSWORD": 512, "MUNGE": 1024, "TOKEN": 2048, "SCITOKENS": 4096}
UNMAPPED = "unmapped"
UNAUTHENTICATED = "unauthenticated@unmapped"


@dataclass
class Identity:
    user: str
    domain: str | None
    method: str
    extra: dict = field(default_factory=dict)   # session policy additions (token claims, limits)

    @property
    def fqu(self) -> str:
        return f"{self.user}@{self.domain}" if self.domain else self.user

    @property
    def mapped(self) -> bool:
        return bool(self.domain) and self.domain != UNMAPPED


@dataclass
class AuthContext:
    uid_domain: str
    sock_ip: str                  # this connection's local address, as the client dialed it
    sock_port: int
    command_ports: tuple = ()     # ports this daemon listens on (channel binding may name any)
    fs_local_dir: str = "/tmp"
    fs_root_to_condor: bool = True
    claimtobe_include_domain: bool = True
    condor_user: str | None = None
    log: Callable[[str], None] = lambda msg: None
    token_check: Callable | None = None   # set when TOKEN is offered (tokens module)


def condor_username(config_ids: str | None = None) -> str | None:
    """The "condor" user of this daemon, as get_condor_username() finds it.

    A daemon not started as root runs everything as itself, so that user is its condor
    user; as root it is the user of CONDOR_IDS, else the ``condor`` account if any.
    """
    try:
        if os.geteuid() != 0:
            return pwd.getpwuid(os.geteuid()).pw_name
        if config_ids:
            return pwd.getpwuid(int(config_ids.split(".")[0])).pw_name
        return pwd.getpwnam("condor").pw_name
    except (KeyError, ValueError):
        return None


# --------------------------------------------------------------------------- CLAIMTOBE
async def claimtobe(chan, ctx: AuthContext) -> Identity | None:
    r = await chan.read_message()
    ok = r.get_int()
    if ok != 1:
        await chan.send(chan.new_message().put_int(0))
        return None
    name = r.get_str()
    await chan.send(chan.new_message().put_int(1))
    if ctx.claimtobe_include_domain:
        user, at, domain = name.rpartition("@")
        if not at:
            user, domain = name, ctx.uid_domain
        return Identity(user, domain, "CLAIMTOBE")
    return Identity(name, None, "CLAIMTOBE")


# --------------------------------------------------------------------------- ANONYMOUS
async def anonymous(chan, ctx: AuthContext) -> Identity | None:
    await chan.send(chan.new_message().put_int(1))
    return Identity("CONDOR_ANONYMOUS_USER", None, "ANONYMOUS")


# --------------------------------------------------------------------------- FS
_NAME_CHARS = string.ascii_letters + string.digits


def _fs_binding_ok(ext: str, ctx: AuthContext) -> bool:
    """The client's view of our endpoint, appended to the directory name (channel binding)."""
    if "/" in ext:
        return False
    host_port = ext.split("?", 1)[0]
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit():
        return False
    host = host.strip("[]")
    return host == ctx.sock_ip and int(port) in ({ctx.sock_port} | set(ctx.command_ports))


async def fs(chan, ctx: AuthContext) -> Identity | None:
    # The real daemon reserves a name with mkstemp("FS_<ip>_<port>_XXXXXXXXX") (of which
    # mkstemp fills the last six X), removes the file and asks for "<name>_<ext>".
    base = f"FS_{ctx.sock_ip}_{ctx.sock_port}_XXX" + "".join(secrets.choice(_NAME_CHARS) for _ in range(6))
    path = os.path.join(ctx.fs_local_dir, base) + "_"
    await chan.send(chan.new_message().put_string(path))
    r = await chan.read_message()
    client_result = r.get_int()
    ext = r.get_str() if not r.at_end() else ""
    result, who = -1, None
    if client_result != 0:
        ctx.log(f"AUTHENTICATE_FS: client failed to create {path}")
    elif ext and not _fs_binding_ok(ext, ctx):
        ctx.log(f"AUTHENTICATE_FS: channel binding {ext!r} does not name this daemon")
    else:
        target = path + ext
        try:
            st = os.lstat(target)
        except OSError as e:
            ctx.log(f"AUTHENTICATE_FS: cannot stat {target}: {e.strerror}")
        else:
            if (not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o700
                    or st.st_nlink not in (1, 2)):
                ctx.log(f"AUTHENTICATE_FS: {target} is not a private directory")
            else:
                try:
                    who = pwd.getpwuid(st.st_uid).pw_name
                    result = 0
                except KeyError:
                    ctx.log(f"Unable to lookup uid {st.st_uid}")
    await chan.send(chan.new_message().put_int(result))
    if result != 0:
        return None
    if who == "root" and ctx.fs_root_to_condor and ctx.condor_user:
        ctx.log(f"FS Mapping 'root' to '{ctx.condor_user}'")
        who = ctx.condor_user
    return Identity(who, ctx.uid_domain, "FS")


SERVER_METHODS = {"FS": fs, "CLAIMTOBE": claimtobe, "ANONYMOUS": anonymous}
