"""condor_reschedule: ``python -m condor_sim.tools.condor_reschedule`` (the work is in :mod:`.daemon_control`)."""
import sys

from .daemon_control import reschedule_main as main

if __name__ == "__main__":
    sys.exit(main())
