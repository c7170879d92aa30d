"""condor_schedd: for now a daemon that advertises itself and answers ping, config and
direct queries of its own ad (the job queue comes with the schedd issue)."""
from __future__ import annotations

from ..cedar.commands import Cmd
from ..cedar.classad_wire import put_ad
from ..command_table import command
from ..security.perms import Perm
from .base import Daemon


class Schedd(Daemon):
    SUBSYS = "SCHEDD"
    MY_TYPE = "Scheduler"
    UPDATE_COMMAND = "UPDATE_SCHEDD_AD"
    INVALIDATE_COMMAND = "INVALIDATE_SCHEDD_ADS"
    INTERVAL_KNOB = "SCHEDD_INTERVAL"
    ADDRESS_KNOBS = ("SCHEDD_ADDRESS_FILE", "SCHEDD_SUPER_ADDRESS_FILE")

    def ad(self) -> dict:
        ad = super().ad()
        ad.update({"TotalIdleJobs": 0, "TotalRunningJobs": 0, "TotalHeldJobs": 0,
                   "TotalRemovedJobs": 0, "TotalJobAds": 0, "NumUsers": 0,
                   "MaxJobsRunning": self.config.get_int("MAX_JOBS_RUNNING", 10000)})
        return ad

    @command(Cmd.QUERY_SCHEDD_ADS, Cmd.QUERY_SUBMITTOR_ADS, Cmd.QUERY_STARTD_ADS, perm=Perm.READ)
    async def query_ads(self, req) -> None:
        """Scheduler::command_query_ads: our own ad, in the collector's reply format."""
        await req.read()
        msg = req.message()
        if req.cmd == Cmd.QUERY_SCHEDD_ADS:
            msg.put_int(1)
            put_ad(msg, self.ad(), include_private=False)
        msg.put_int(0)
        await req.send(msg)


def main() -> None:
    Schedd.from_process().start()


if __name__ == "__main__":
    main()
