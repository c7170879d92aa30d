"""Which command each daemon handles, at which permission level, and by which method.

A handler is a method marked with :func:`command`; the mark carries everything DaemonCore
needs to know about it (``daemon_core.cpp``'s ``Register_Command`` arguments).  A
daemon's :class:`CommandTable` collects the marked methods of the objects it is given,
so "the code for command N" is the one method marked with N::

    class CollectorQueries:
        @command(Cmd.QUERY_SCHEDD_ADS, Cmd.QUERY_MASTER_ADS, perm=Perm.READ)
        async def receive_query(self, req): ...

A number may be registered once per table; a later family that deliberately takes over
a number (the master's own DC_OFF_* handlers) says so with ``replaces=True``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Iterator

from .cedar.commands import command_name
from .security.perms import Perm, implies

Handler = Callable[..., Awaitable[None]]
_MARK = "_condor_commands"


@dataclass(frozen=True)
class Command:
    num: int
    name: str
    perm: Perm
    handler: Handler
    force_auth: bool = False
    alt_perms: tuple = ()
    has_payload: bool = True       # the client sends a message after the command
    no_effect: bool = False        # the handler does nothing (the DC_NOP family)

    @property
    def resumable(self) -> bool:
        """May a resumed session run it?  Only if the client's payload proves the session
        key before the handler runs, or if there is nothing to run."""
        return self.has_payload or self.no_effect


@dataclass(frozen=True)
class _Spec:
    num: int
    perm: Perm
    force_auth: bool
    alt_perms: tuple
    has_payload: bool
    no_effect: bool
    name: str | None
    replaces: bool


def command(*nums: int, perm: Perm, force_auth: bool = False, alt_perms: tuple = (),
            has_payload: bool = True, no_effect: bool = False, name: str | None = None,
            replaces: bool = False):
    """Mark a method as the handler of the command numbers ``nums``."""
    def mark(fn):
        specs = list(getattr(fn, _MARK, ()))
        specs += [_Spec(int(n), perm, force_auth, tuple(alt_perms), has_payload, no_effect,
                        name, replaces) for n in nums]
        setattr(fn, _MARK, specs)
        return fn
    return mark


class CommandTable:
    """One daemon's commands by number."""

    def __init__(self) -> None:
        self._by_num: dict[int, Command] = {}

    def add(self, num: int, perm: Perm, handler: Handler, *, force_auth: bool = False,
            alt_perms: tuple = (), has_payload: bool = True, no_effect: bool = False,
            name: str | None = None, replaces: bool = False) -> None:
        num = int(num)
        if num in self._by_num and not replaces:
            raise ValueError(f"command {num} ({command_name(num)}) is registered twice")
        self._by_num[num] = Command(num, name or command_name(num), perm, handler, force_auth,
                                    tuple(alt_perms), has_payload, no_effect)

    def add_handlers(self, obj) -> None:
        """Register every method of ``obj`` marked with :func:`command`."""
        for attr in dir(type(obj)):
            fn = getattr(type(obj), attr, None)
            for spec in getattr(fn, _MARK, ()):
                self.add(spec.num, spec.perm, getattr(obj, attr), force_auth=spec.force_auth,
                         alt_perms=spec.alt_perms, has_payload=spec.has_payload,
                         no_effect=spec.no_effect, name=spec.name, replaces=spec.replaces)

    def get(self, num: int) -> Command | None:
        return self._by_num.get(num)

    def __contains__(self, num: int) -> bool:
        return num in self._by_num

    def __iter__(self) -> Iterator[Command]:
        return iter(self._by_num.values())

    def __len__(self) -> int:
        return len(self._by_num)

    def valid_commands(self, perm: Perm, mapped: bool, keyed: bool = True) -> list[int]:
        """GetCommandsInAuthLevel: the commands a session at ``perm`` may be reused for,
        limited to those a resumed session may run (see :attr:`Command.resumable`)."""
        levels = implies(perm)
        return [c.num for c in self._by_num.values()
                if c.perm in levels and c.perm != Perm.ALLOW and (mapped or not c.force_auth)
                and (c.resumable if keyed else c.no_effect)]

    def rows(self) -> list[tuple]:
        """(number, name, permission, handler name, flags) of every command, by number."""
        out = []
        for c in sorted(self._by_num.values(), key=lambda c: c.num):
            flags = [f for f, on in (("force_auth", c.force_auth), ("no_payload", not c.has_payload),
                                     ("no_effect", c.no_effect)) if on]
            flags += [f"alt:{p.name}" for p in c.alt_perms]
            out.append((c.num, c.name, c.perm.name, getattr(c.handler, "__qualname__", "?"),
                        " ".join(flags)))
        return out
