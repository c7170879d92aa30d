"""condor_suspend: ``python -m condor_sim.tools.condor_suspend`` (the work is in :mod:`.job_state`)."""
import sys

from .job_state import suspend_main as main

if __name__ == "__main__":
    sys.exit(main())
