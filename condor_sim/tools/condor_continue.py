"""condor_continue: ``python -m condor_sim.tools.condor_continue`` (the work is in :mod:`.job_state`)."""
import sys

from .job_state import continue_main as main

if __name__ == "__main__":
    sys.exit(main())
