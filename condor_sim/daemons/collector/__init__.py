"""condor_collector: the daemon and its tables (``daemon.py``), ads stored as their wire
lines and parsed only where a query needs them (``ads.py``), and the per-ad update
statistics the real collector writes into every stored ad (``stats.py``)."""
from __future__ import annotations

from .ads import StoredAd
from .daemon import Collector, hash_key, main, offline_key, project, startd_name

__all__ = ["Collector", "StoredAd", "hash_key", "main", "offline_key", "project", "startd_name"]
