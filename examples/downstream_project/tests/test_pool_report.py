"""pool_report's tests, written as any project would write them with condor-sim installed:
no conftest, no set-up; the fixtures come from the condor-sim plugin."""
import os

import htcondor2
import pytest

import pool_report


def test_summary_lists_the_pool(condor_pool):
    summary = pool_report.pool_summary()
    assert {"DaemonMaster", "Scheduler"} <= set(summary)
    assert len(summary["Scheduler"]) == 1


def test_the_library_needs_no_arguments_in_tests(condor_pool):
    # the fixture made CONDOR_CONFIG name the pool and reloaded the client's config
    assert os.environ["CONDOR_CONFIG"] == str(condor_pool.config_file)
    assert pool_report.locate("schedd")["MyAddress"] == condor_pool.address("SCHEDD")


def test_read_setting(condor_pool):
    assert pool_report.read_setting("schedd", "SCHEDD_INTERVAL") == "5"
    assert pool_report.read_setting("schedd", "NO_SUCH_KNOB") is None


@pytest.mark.condor_config(SCHEDD_INTERVAL=42, POOL_REPORT_TEAM="blue")
def test_read_setting_of_a_differently_configured_pool(condor_pool):
    assert pool_report.read_setting("schedd", "SCHEDD_INTERVAL") == "42"
    assert pool_report.read_setting("master", "POOL_REPORT_TEAM") == "blue"


def test_change_setting_is_refused_by_default(condor_pool):
    with pytest.raises(pool_report.SettingRefused):
        pool_report.change_setting("schedd", "POOL_REPORT_LIMIT", "7")
    assert "is trying to modify" in "\n".join(condor_pool.log("SCHEDD").lines)


def test_change_setting_where_it_is_allowed(condor_pool_factory):
    # ENABLE_RUNTIME_CONFIG is read when a daemon starts: this needs a pool of its own
    pool = condor_pool_factory(config={"ENABLE_RUNTIME_CONFIG": "true",
                                       "SETTABLE_ATTRS_ADMINISTRATOR": "POOL_REPORT_LIMIT"})
    pool_report.change_setting("schedd", "POOL_REPORT_LIMIT", "7")
    assert pool_report.read_setting("schedd", "POOL_REPORT_LIMIT") == "7"
    assert pool_report.read_setting("master", "POOL_REPORT_LIMIT") is None


def test_is_up_notices_a_dead_schedd(condor_pool):
    assert pool_report.is_up("schedd")
    pid = condor_pool.kill("SCHEDD")
    condor_pool.log("MASTER").wait_for(rf"The SCHEDD \(pid {pid}\) died")
    assert not pool_report.is_up("schedd")
    # (the plugin resets the pool after this test: the next one finds a schedd again)


def test_two_pools_at_once(condor_pool, condor_pool_factory):
    other = condor_pool_factory()
    mine = pool_report.pool_summary(condor_pool.collector())
    theirs = pool_report.pool_summary(other.collector())
    assert mine.keys() == theirs.keys()
    assert condor_pool.collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"] != \
        other.collector().locate(htcondor2.DaemonType.Schedd)["MyAddress"]
