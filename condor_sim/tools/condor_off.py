"""condor_off: ``python -m condor_sim.tools.condor_off`` (the work is in :mod:`.daemon_control`)."""
import sys

from .daemon_control import off_main as main

if __name__ == "__main__":
    sys.exit(main())
