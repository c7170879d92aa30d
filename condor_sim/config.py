"""The daemons' config engine: the real HTCondor library's, under the daemon's subsystem.

(Interim version by the lead, to be replaced by the fuller module with the same API.)
"""
from __future__ import annotations

import os
import subprocess
import sys

import htcondor2

_Q = "_CONDOR_SIM_Q"
_SUBSYS_TYPES = {"MASTER": "Master", "COLLECTOR": "Collector", "SCHEDD": "Schedd",
                 "NEGOTIATOR": "Negotiator", "STARTD": "Startd"}


def _set_subsystem(name: str) -> None:
    kind = _SUBSYS_TYPES.get(name.upper())
    if kind:
        htcondor2.set_subsystem(name.upper(), getattr(htcondor2.SubsystemType, kind))
    else:
        htcondor2.set_subsystem(name.upper())


class DaemonConfig:
    def __init__(self, subsystem: str, local_name: str | None = None):
        self.subsystem = subsystem.upper()
        self.local_name = local_name
        self._runtime: dict[str, str | None] = {}
        _set_subsystem(self.subsystem)
        htcondor2.reload_config()

    def get(self, name: str, default: str | None = None) -> str | None:
        # Expanding "$(NAME)" through a scratch knob gives the text the daemon's param()
        # sees: SUBSYS.NAME first, macros expanded, and knobs set only with a prefix.
        htcondor2.param[_Q] = f"$({name})"
        try:
            value = htcondor2.param[_Q]
        except KeyError:
            return default
        return value if value != "" else default

    def get_int(self, name: str, default: int) -> int:
        v = self.get(name)
        if v is None:
            return default
        try:
            return int(v.strip())
        except ValueError:
            import classad2
            try:
                r = classad2.ExprTree(v).eval()
                return int(r) if isinstance(r, (int, float)) and not isinstance(r, bool) else default
            except Exception:
                return default

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

    def names(self) -> list[str]:
        return [k for k in htcondor2.param.keys() if k and k != _Q]

    def reload(self) -> str | None:
        code = ("import htcondor2,sys;"
                f"htcondor2.set_subsystem({self.subsystem!r});htcondor2.reload_config()")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-2000:] or f"exit status {proc.returncode}"
        htcondor2.reload_config()
        self.apply_overrides()
        return None

    def set_overrides(self, settings: dict[str, str]) -> None:
        """Assignments (runtime/persistent config) applied after every reload from now on."""
        self._runtime = dict(settings)

    def apply_overrides(self) -> None:
        for k, v in self._runtime.items():
            htcondor2.param[k] = v
