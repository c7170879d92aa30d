"""condor_vacate_job: ``python -m condor_sim.tools.condor_vacate_job`` (the work is in :mod:`.job_state`)."""
import sys

from .job_state import vacate_main as main

if __name__ == "__main__":
    sys.exit(main())
