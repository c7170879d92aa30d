"""Shared fixtures of the suite (helpers live in tests/support), and the check that the
suite leaves no pool process behind (support/leftovers.py)."""
from __future__ import annotations

import pytest

from support.leftovers import pytest_sessionfinish, pytest_testnodedown  # noqa: F401  (hooks)
from support.pools import running_pool


@pytest.fixture
def pool_factory(tmp_path_factory):
    """``pool_factory(security="secure", **knobs)`` starts a pool (with the fast back-off of
    the tests) through the suite's one pool launcher; each is stopped, and checked to have
    left nothing, when the test ends."""
    started = []

    def start(security: str = "secure", **knobs):
        cm = running_pool(tmp_path_factory.mktemp("pool") / "p", security, **knobs)
        pool = cm.__enter__()
        started.append(cm)
        return pool

    yield start
    for cm in reversed(started):
        cm.__exit__(None, None, None)
