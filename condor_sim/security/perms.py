"""HTCondor DaemonCore permission (authorization) levels.

Numbers, names, the implication hierarchy and the configuration lookup order
are HTCondor's (``DCpermission`` and ``DCpermissionHierarchy``); see
docs security.md §8.1-8.2.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Iterable


class Perm(IntEnum):
    ALLOW = 0
    READ = 1
    WRITE = 2
    NEGOTIATOR = 3
    ADMINISTRATOR = 4
    CONFIG = 5
    DAEMON = 6
    SOAP = 7
    DEFAULT = 8
    CLIENT = 9
    ADVERTISE_STARTD = 10
    ADVERTISE_SCHEDD = 11
    ADVERTISE_MASTER = 12

    def __str__(self) -> str:  # PermString(): the bare level name
        return self.name

    @classmethod
    def parse(cls, name: "str | int | Perm") -> "Perm":
        """Level from its name, case-insensitively.  ``OWNER`` is accepted as
        ADMINISTRATOR (the old name: DC_NOP_OWNER is registered at ADMINISTRATOR).
        Raises ValueError for anything else."""
        if isinstance(name, int):
            return cls(name)
        key = name.strip().upper()
        if key == "OWNER":
            return cls.ADMINISTRATOR
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"not a permission level: {name!r}") from None


# The level each level directly implies (None: implies nothing further).
_IMPLIES_NEXT: dict[Perm, Perm | None] = {
    Perm.ALLOW: None,
    Perm.READ: None,
    Perm.WRITE: Perm.READ,
    Perm.NEGOTIATOR: Perm.READ,
    Perm.ADMINISTRATOR: Perm.WRITE,
    Perm.CONFIG: Perm.READ,
    Perm.DAEMON: Perm.WRITE,
    Perm.SOAP: None,
    Perm.DEFAULT: None,
    Perm.CLIENT: None,
    Perm.ADVERTISE_STARTD: Perm.READ,
    Perm.ADVERTISE_SCHEDD: Perm.READ,
    Perm.ADVERTISE_MASTER: Perm.READ,
}

# Where ALLOW_/DENY_/SEC_<P>_* lookups go next when <P> has no setting.
_CONFIG_NEXT: dict[Perm, Perm | None] = {p: Perm.DEFAULT for p in Perm}
_CONFIG_NEXT[Perm.DEFAULT] = None
for _adv in (Perm.ADVERTISE_STARTD, Perm.ADVERTISE_SCHEDD, Perm.ADVERTISE_MASTER):
    _CONFIG_NEXT[_adv] = Perm.DAEMON
# LEGACY_ALLOW_SEMANTICS (use security:host_based): DAEMON falls back to WRITE.
_CONFIG_NEXT_LEGACY = dict(_CONFIG_NEXT)
_CONFIG_NEXT_LEGACY[Perm.DAEMON] = Perm.WRITE


def implied_by(perm: Perm) -> tuple[Perm, ...]:
    """Levels that directly imply ``perm``, in level order (the order the real
    daemon tries them), e.g. READ -> (WRITE, NEGOTIATOR, CONFIG, ADVERTISE_*)."""
    return tuple(p for p in Perm if _IMPLIES_NEXT[p] == perm)


def implies(perm: Perm) -> frozenset[Perm]:
    """``perm`` plus every level it implies, e.g. ADMINISTRATOR -> {ADMINISTRATOR, WRITE, READ}."""
    out: set[Perm] = set()
    p: Perm | None = Perm(perm)
    while p is not None:
        out.add(p)
        p = _IMPLIES_NEXT[p]
    return frozenset(out)


def limit_closure(limit: Iterable["Perm | str"]) -> frozenset[Perm]:
    """Expand a LimitAuthorization set (token scopes) with the levels each one
    implies.  Unknown names are ignored, as the real daemon does."""
    out: set[Perm] = set()
    for item in limit:
        try:
            out |= implies(Perm.parse(item))
        except ValueError:
            continue
    return frozenset(out)


def config_chain(perm: Perm, legacy_allow_semantics: bool = False) -> tuple[Perm, ...]:
    """Levels whose SEC_<P>_* / ALLOW_<P> / DENY_<P> knobs are consulted, in
    order, for ``perm``: P -> ... -> DEFAULT.  ADVERTISE_* go through DAEMON;
    with LEGACY_ALLOW_SEMANTICS, DAEMON goes through WRITE."""
    table = _CONFIG_NEXT_LEGACY if legacy_allow_semantics else _CONFIG_NEXT
    chain = []
    p: Perm | None = Perm(perm)
    while p is not None:
        chain.append(p)
        p = table[p]
    return tuple(chain)
