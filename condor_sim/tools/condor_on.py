"""condor_on: ``python -m condor_sim.tools.condor_on`` (the work is in :mod:`.daemon_control`)."""
import sys

from .daemon_control import on_main as main

if __name__ == "__main__":
    sys.exit(main())
