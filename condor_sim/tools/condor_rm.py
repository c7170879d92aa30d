"""condor_rm: ``python -m condor_sim.tools.condor_rm`` (the work is in :mod:`.job_actions`)."""
from .job_actions import rm_main

if __name__ == "__main__":
    rm_main()
