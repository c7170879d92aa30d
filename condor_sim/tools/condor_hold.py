"""condor_hold: ``python -m condor_sim.tools.condor_hold`` (the work is in :mod:`.job_actions`)."""
from .job_actions import hold_main

if __name__ == "__main__":
    hold_main()
