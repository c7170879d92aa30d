"""condor_schedd: the job queue over QMGMT, queries, actions and history (``daemon.py``)."""
from __future__ import annotations

from .daemon import Schedd, main

__all__ = ["Schedd", "main"]
