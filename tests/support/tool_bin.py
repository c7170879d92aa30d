"""A bin directory holding the ``condor_*`` programs condor-sim installs (the console
scripts of pyproject.toml), running this checkout's code, for tests that run programs
which find HTCondor on ``PATH`` alone (``htcondor2.personal``, ornithology)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def console_scripts(pyproject: Path = REPO / "pyproject.toml") -> dict[str, str]:
    """``name -> module:function`` of the [project.scripts] table."""
    text = pyproject.read_text()
    table = text.split("[project.scripts]", 1)[1]
    table = re.split(r"^\[", table, maxsplit=1, flags=re.M)[0]
    return dict(re.findall(r'^([\w.-]+)\s*=\s*"([\w.]+:\w+)"', table, re.M))


def script(entry: str) -> str:
    """The text of one console script, as an installer writes it."""
    module, func = entry.split(":")
    return (f"#!{sys.executable}\n"
            f"import sys\n"
            f"from {module} import {func}\n"
            f"if __name__ == '__main__':\n"
            f"    sys.exit({func}())\n")


def make_bin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, entry in console_scripts().items():
        path = directory / name
        path.write_text(script(entry))
        path.chmod(0o755)
    return directory


def environment(bin_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment: that bin directory alone on PATH, no CONDOR_CONFIG, this
    checkout importable (as an installed condor-sim would be)."""
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO)}
    for k in ("TMPDIR", "TZ"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


def processes_of(config_file: Path) -> list[psutil.Process]:
    """Live processes (not zombies) whose environment names this config file."""
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.pid != os.getpid() and p.status() != psutil.STATUS_ZOMBIE \
                    and p.environ().get("CONDOR_CONFIG") == str(config_file):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out
