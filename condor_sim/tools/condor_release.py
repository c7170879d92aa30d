"""condor_release: ``python -m condor_sim.tools.condor_release`` (the work is in :mod:`.job_actions`)."""
from .job_actions import release_main

if __name__ == "__main__":
    release_main()
