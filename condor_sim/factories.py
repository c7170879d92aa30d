"""Fixture factories, for a suite that needs more than the one session pool (as
pytest-postgresql's ``postgresql_proc``)::

    # conftest.py
    from condor_sim.factories import condor_pool_proc

    big_pool = condor_pool_proc(config={"NUM_CPUS": "64"})            # session scope
    open_pool = condor_pool_proc(security="plaintext", scope="module")

    def test_sees_the_cpus(big_pool):
        assert big_pool.remote_param("MASTER")["NUM_CPUS"] == "64"

Each fixture starts its own pool (one per xdist worker), under the run's base temporary
directory, with the plugin's watchdog and clean-up; it is stopped when its scope ends.
The pool is not made the process's client config unless ``activate=True`` (use
``pool.use_config()`` or ``pool.collector()``, which are bound to it).  With
``--condor-backend=external`` a test that asks for one is skipped, with the reason.
"""
from __future__ import annotations

from collections.abc import Mapping

import pytest

from .pytest_plugin import _finish, _new_sim_pool, _settings


def condor_pool_proc(config: Mapping | None = None, *, security: str = "secure",
                     scope: str = "session", activate: bool = False, timeout: float = 30.0):
    """A pytest fixture that starts a condor-sim pool with these knobs."""
    knobs = {str(k): v for k, v in dict(config or {}).items()}

    @pytest.fixture(scope=scope)
    def condor_pool_proc_fixture(request: pytest.FixtureRequest, tmp_path_factory):
        s = _settings(request.config)
        if s["backend"] == "external":
            pytest.skip("this fixture starts a pool of its own; the run uses --condor-backend=external")
        pool = _new_sim_pool(request.config, tmp_path_factory, knobs, security,
                             f"{request.fixturename} ({s['worker_id']})")
        pool.start(timeout=timeout)
        try:
            if activate:
                pool.activate()
            yield pool
        finally:
            _finish(pool, s["keep"])

    return condor_pool_proc_fixture
