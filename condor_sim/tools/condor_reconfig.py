"""condor_reconfig: ``python -m condor_sim.tools.condor_reconfig`` (the work is in :mod:`.daemon_control`)."""
import sys

from .daemon_control import reconfig_main as main

if __name__ == "__main__":
    sys.exit(main())
