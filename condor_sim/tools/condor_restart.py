"""condor_restart: ``python -m condor_sim.tools.condor_restart`` (the work is in :mod:`.daemon_control`)."""
import sys

from .daemon_control import restart_main as main

if __name__ == "__main__":
    sys.exit(main())
