"""What the master's modules share: environment names, exit codes, stop states."""
from __future__ import annotations

import signal

BACKGROUND_FD_ENV = "CONDOR_SIM_BACKGROUND_FD"   # the pipe to the `condor_master` that forked us
HOLD_FD_ENV = "CONDOR_SIM_HOLD_FD"               # a pre-started daemon waits on it (base.py)
PID_FILE_NAME = "condor_master.pid"              # in $(RUN); condor-sim's own (Pool uses it)

# EXCEPT() reports the file and line of the failing check: the line numbers are those of
# the 25.14 source; the directory part of __FILE__ depends on the build, so it is made up.
EXCEPT_FILES = {
    "master.cpp": "/build/htcondor/src/condor_master.V6/master.cpp",
    "masterDaemon.cpp": "/build/htcondor/src/condor_master.V6/masterDaemon.cpp",
}
JOB_EXCEPTION = 4          # exit status of EXCEPT()
DAEMON_NO_RESTART = 99     # a child exiting with this is put on hold
JOB_EXEC_FAILED = 110

# stop states (masterDaemon.cpp StopStateT)
NONE, PEACEFUL, GRACEFUL, FAST, KILL = "NONE", "PEACEFUL", "GRACEFUL", "FAST", "KILL"
# what to do when every child is gone
MASTER_RESET, MASTER_RESTART, MASTER_EXIT = "RESET", "RESTART", "EXIT"

CAUGHT_SIGNALS = {signal.SIGTERM, signal.SIGQUIT}
SIGNAMES = {signal.SIGHUP: "SIGHUP", signal.SIGTERM: "SIGTERM", signal.SIGQUIT: "SIGQUIT",
             signal.SIGKILL: "SIGKILL", signal.SIGINT: "SIGINT", signal.SIGUSR1: "SIGUSR1",
             signal.SIGUSR2: "SIGUSR2", signal.SIGSTOP: "SIGSTOP", signal.SIGCONT: "SIGCONT"}
