"""The HTCondor Python-bindings tutorial "Interacting With Daemons": its own v1 code.

Every step of the tutorial, in its order, printing what the notebook prints.  Run it
against a pool of its own (the last step shuts that pool down and starts it again):

    condor-sim up --dir /tmp/tutorial-pool
    export CONDOR_CONFIG=/tmp/tutorial-pool/condor_config
    python examples/interacting_with_daemons_v1.py     # with htcondor==24.0.*

The tutorial's cells, unchanged, except that an exception is printed as ``Name: message``
and the log of the logging step goes to the pool's LOG directory.  interacting_with_daemons.py is
the same with the v2 API (htcondor2).
"""
import os
import time

import htcondor

# -- Configuration ------------------------------------------------------------------
print(htcondor.param['SCHEDD_LOG'])    # Prints the schedd's current log file.
print(htcondor.param.get('TOOL_LOG'))  # Print None as TOOL_LOG isn't set by default.
print(htcondor.param.setdefault('TOOL_LOG', '/tmp/log'))  # Sets TOOL_LOG to /tmp/log.
print(htcondor.param['TOOL_LOG'])      # Prints /tmp/log, as set above.

# Assignments to param persist only in memory; reload_config re-reads the files.
print(htcondor.param.get("TOOL_LOG"))
htcondor.reload_config()
print(htcondor.param.get("TOOL_LOG"))

# A configuration prefix makes a setting specific to one subsystem.
print(htcondor.param.setdefault("TEST_FOO", "bar"))         # Sets the default value of TEST_FOO to bar
print(htcondor.param.setdefault("SCHEDD.TEST_FOO", "baz"))  # The schedd has a special setting for TEST_FOO
print(htcondor.param['TEST_FOO'])       # Default access; should be 'bar'
htcondor.set_subsystem('SCHEDD')        # Changes the running process to identify as a schedd.
print(htcondor.param['TEST_FOO'])       # Since we now identify as a schedd, should use the special setting of 'baz'

# A remote daemon's configuration: RemoteParam, built from a located ad.
master_ad = htcondor.Collector().locate(htcondor.DaemonTypes.Master)
print(master_ad['MyAddress'])
master_param = htcondor.RemoteParam(master_ad)

print(repr(master_param['UPDATE_INTERVAL']))    # Returns a string
print(repr(htcondor.param['UPDATE_INTERVAL']))  # Returns an integer

# Setting a daemon's configuration remotely is disabled by default.
try:
    master_param['UPDATE_INTERVAL'] = '500'
except Exception as e:
    print(f"{type(e).__name__}: {e}")

# -- Logging subsystem --------------------------------------------------------------
# The tutorial logs to /tmp/log; the pool's log directory keeps concurrent runs apart.
tool_log = os.path.join(htcondor.param['LOG'], 'ToolLog')
htcondor.set_subsystem("TOOL")
htcondor.param['TOOL_DEBUG'] = 'D_FULLDEBUG'
htcondor.param['TOOL_LOG'] = tool_log
htcondor.enable_log()    # Send logs to the log file
htcondor.enable_debug()  # Send logs to stderr
print(open(tool_log).read())  # Print the log's contents.

# -- Sending daemon commands --------------------------------------------------------
print(master_ad['MyAddress'])
htcondor.send_command(master_ad, htcondor.DaemonCommands.Reconfig)
time.sleep(1)
log_lines = open(htcondor.param['MASTER_LOG']).readlines()
print(log_lines[-4:])

htcondor.send_command(master_ad, htcondor.DaemonCommands.DaemonOff, "SCHEDD")
time.sleep(1)
log_lines = open(htcondor.param['MASTER_LOG']).readlines()
print(log_lines[-1])

htcondor.send_command(master_ad, htcondor.DaemonCommands.OffFast)
time.sleep(1)
log_lines = open(htcondor.param['MASTER_LOG']).readlines()
print(log_lines[-1])

# Turn HTCondor back on for future tutorials.
print(os.system("condor_master"))
