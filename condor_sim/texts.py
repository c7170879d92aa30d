"""The log lines the daemons write, word for word, in one place: DaemonCore and its
security layer (``daemon_command.cpp``, ``daemon_core.cpp``, ``condor_io``), the master
(``master.cpp``, ``masterDaemon.cpp``) and the collector.  Tests and users grep logs for
these; a change here is a change of what a daemon says.  (A few rare lines, and debug
lines of our own, stay next to their code.)

Templates use ``str.format`` fields.  Lines that are ours, not HTCondor's (where the
simulator refuses something the real daemon would not see), say so in a comment.
"""

# -- dispatch and authorization (daemon_command.cpp)
PERMISSION_DENIED = ("PERMISSION DENIED to {user} from host {ip} for command {num} ({name}), "
                     "access level {perm}: reason: {reason}")
LIMITED_AUTHORIZATION = ("DC_AUTHENTICATE: authentication of {ip} was successful but resulted in a "
                         "limited authorization which did not include this command ({num} {name}), "
                         "so aborting.")
UNKNOWN_RAW_COMMAND = "DaemonCore: received unknown command {num} via TCP from {peer}; closing"
UNAUTHENTICATED_COMMAND = "DaemonCore received UNAUTHENTICATED command {num} {name}."
RAW_PERMISSION_DENIED = ("DaemonCore: PERMISSION DENIED for {num} ({name}) via TCP from host {peer} "
                         "(access level {perm})")
NOT_MAPPED = ("DC_AUTHENTICATE: authentication of {peer} did not result in a valid mapped user name, "
              "which is required for this command ({num} {name}), so aborting.")
POLICY_INVALID = "DC_AUTHENTICATE: Our security policy is invalid! ({error})"
UNRECONCILED = "DC_AUTHENTICATE: Unable to reconcile! (client {peer})"
NOT_AUTHORIZED = "DC_AUTHENTICATE: Command not authorized, done!"
UNREGISTERED = "DC_AUTHENTICATE: received unregistered command {num} from {peer}; closing"
# ours: a command HTCondor has and this simulated daemon does not (yet), named for the reader
UNIMPLEMENTED = ("DC_AUTHENTICATE: received unimplemented command {name} ({num}) from {peer}; "
                 "closing")
UNIMPLEMENTED_RAW = "Received unimplemented command {name} ({num}) from {peer}; closing"
CALLING_HANDLER = "Calling HandleReq <{name}> (0) for command {num} ({name}) from {user} {ip}"

# -- the client's security ad (classad_oldnew.cpp getPODClassAd, then daemon_command.cpp)
AUTH_INFO_UNREADABLE = "ERROR: DC_AUTHENTICATE unable to receive auth_info from {peer}!"

# -- authentication and keys
AUTHENTICATED = "DC_AUTHENTICATE: authentication of {ip} complete."
AUTH_REQUIRED_FAILED = "DC_AUTHENTICATE: required authentication of {ip} failed"
AUTH_OPTIONAL_FAILED = "DC_SECURITY: authentication of {ip} failed but was not required, so continuing."
NO_METHOD = "AUTHENTICATE: no available authentication methods succeeded (mask {mask})"
METHOD_FAILED = "AUTHENTICATE: method {method} failed for {ip}"
GENERATING_KEY = "DC_AUTHENTICATE: generating {method} key for session {sid}..."

# -- resumption
SESSION_NOT_FOUND = "DC_AUTHENTICATE: session {sid} NOT FOUND; closing."
RESUMING = "DC_AUTHENTICATE: resuming session id {sid}"
UNWRAP_FAILED = "IO: Failed to unwrap the packet. ({error})"
# ours: the real daemon would run these commands on a resumed session unproven
NOT_RESUMABLE = ("DC_AUTHENTICATE: session {sid} cannot be resumed for command {num} ({name}): "
                 "nothing of it would prove the session key (requested by {peer}); closing.")
NO_KEY_PROOF = ("DC_AUTHENTICATE: resumed session {sid} from {peer} sent no valid message under "
                "the session key; closing.")

# -- connections (daemon_core.cpp); the limits on unauthenticated peers are ours
CLOSING = "DaemonCore: closing connection from {peer}: {reason}"
UNEXPECTED = "ERROR: unexpected {kind} handling connection from {peer}: {error}"
TOO_MANY_REFUSED = "Too many connections; closing the one from {peer}"
TOO_MANY_EVICTED = "Too many connections; closed the oldest unauthenticated one, from {peer}"

# -- the command socket
LOOPBACK_WARNING = ("WARNING: Condor is running on a loopback address",
                    "         of this machine, and may not visible to other hosts!")
LISTENING = "Daemoncore: Listening at <127.0.0.1:{port}> on TCP (ReliSock)."
COMMAND_SOCKET = "DaemonCore: command socket at {sinful}"
PRIVATE_COMMAND_SOCKET = "DaemonCore: private command socket at {sinful}"

# -- signals (daemon_core_main.cpp)
GOT_SIGHUP = "Got SIGHUP.  Re-reading config files."
GOT_SIGTERM = "Got SIGTERM. Performing graceful shutdown."
GOT_SIGQUIT = "Got SIGQUIT.  Performing fast shutdown."

# -- the master (master.cpp, masterDaemon.cpp)
ADMIN_NOT_ALLOWED = "Got admin command {name} while not allowed. Ignoring."
HANDLING_ADMIN = "Handling admin command {name}."
SUBSYS_UNREADABLE = "Can't read subsystem name"
NO_SUCH_DAEMON = "Error: Can't find daemon of type {subsys}"
HANDLING_SUBSYS = "Handling {name} command for {subsys}"
FLEX_UNREADABLE = "Failed to receive flexible daemons command"
READY_UNREADABLE = "Failed to receive ready command ({num}) on TCP: aborting"
READY_RECEIVED = "Got ready command ({num}) from {name} pid={pid}"
READY_SET = "Setting ready state '{state}' for {name}"
READY_UNKNOWN = "Cant find daemon {name} to set ready state '{state}'"
CHILDALIVE_UNREADABLE = "Failed to read ChildAlive packet (1)"
CHILDALIVE_UNKNOWN = "Received child alive command from unknown pid {pid}"
CHILDALIVE_RECEIVED = "received childalive, pid={pid}, secs={secs}, dprintf_lock_delay={delay:f}"
# ours: the real master would let these commands undo a shutdown under way
IGNORING_IN_SHUTDOWN = "Ignoring {name}: the master is shutting down"

STARTED_PROCESS = 'Started DaemonCore process "{shown}", pid and pgroup = {pid}'
SKIP_STARTUP = "Master is shutting down, so skipping startup of {name}"
CANNOT_EXECUTE = "{path}: Cannot execute (errno={errno}, {error})"
CREATE_PROCESS_FAILED = "ERROR: Create_Process failed trying to start {path}"
WAITING_FOR_FILE = "Waiting for {path} to appear."
FOUND_FILE = "Found {path}."
RESTARTING_IN = "restarting {path} in {seconds} seconds"
CANCEL_RESTART = "Canceling timer to re-start {name}"
GRACEFUL_TIMEOUT = "Timeout for graceful shutdown has expired for {name}."
FAST_TIMEOUT = "Timeout for fast shutdown has expired for {name}."
SIGKILL_TREE = "Sent SIGKILL to {name} (pid {pid}) and all its children."
SENT_SIGNAL = "Sent {signal} to {name} (pid {pid})"
SIGNAL_FAILED = "ERROR: failed to send {signal} to pid {pid}"
CHILD_HUNG = "ERROR: Child pid {pid} appears hung! Killing it hard."
CHILD_GONE = "The {name} (pid {pid}) {how}"
GONE_UNRESPONSIVE = "was killed because it was no longer responding"
GONE_SIGNAL = "died due to signal {sig} ({signame})"
GONE_STATUS = "exited with status {status}"
NO_RESTART = " (daemon will not restart automatically)"
OBITUARY = 'Sending obituary for "{path}"'

ALL_GONE = "All daemons are gone."
ALL_GONE_RESTARTING = "All daemons are gone.  Restarting."
ALL_GONE_EXITING = "All daemons are gone.  Exiting."
RESTART_NOW = "Restarting master right away."
RESTART_LATER = "Restarting master in {seconds} seconds."
DOING_EXEC = 'Doing exec( "{path}" )'

CAUGHT_SIGNAL = "Caught {signame}: si_pid={pid} si_uid={uid}"
MASTER_SIGTERM_IGNORED = "Got SIGTERM, but we've already started {kind} shutdown.  Ignoring."
MASTER_SIGTERM = "Got SIGTERM. Performing {kind} shutdown."
MASTER_SIGQUIT_IGNORED = "Got SIGQUIT, but we've already done fast shutdown.  Ignoring."
ALL_STARTED = "Daemons::StartAllDaemons all daemons were started"
RECONFIG_ALL = "Reconfiguring all managed daemons."

# -- the collector (collector_engine.cpp)
COLLECTOR_INIT = "In CollectorDaemon::Init()"
MALFORMED_AD = "Received malformed ad from command ({cmd}). Ignoring."
STORING_AD = '{label}: {verb}"< {key} >"'
STALE_AD = '**** Removing stale ad: "< {key} >"'
INVALIDATED = "({count}) Invalidated {table} ads"
# ours: the real collector bounds no ad
AD_TOO_LARGE = "Refusing {name} from {peer}: {reason}"
ATTEMPTING_LOCK = "Attempting to lock {path}."
OBTAINED_LOCK = "Obtained lock on {path}."
NOT_STARTING = "START_DAEMONS flag was set to FALSE.  Not starting daemons."
WATCHING = "Master restart (GRACEFUL) is watching {path} (mtime:{mtime})"

# -- the schedd's job queue (schedd.cpp, qmgmt.cpp, classad_log.{h,cpp})
CORRUPT_RECORD = "WARNING: Encountered corrupt log record {num} (byte offset {offset})"
LOG_ISSUES = "ClassAdLog {path} has the following issues: {issues}"
ROTATING_LOG = "About to rotate ClassAd log {path}"
CLEANING_QUEUE = "Cleaning job queue..."
NEW_JOBS = ("{count} new idle jobs submitted, and last update had no job pressure. "
            "Triggering a rechedule.")
PUT_ON_HOLD = "Job {job} put on hold: {reason}"
HISTORY_FILE = "History file rotation is enabled."
HISTORY_MAX = "  Maximum history file size is: {size} bytes"
HISTORY_ROTATIONS = "  Number of rotated history files is: {count}"
SUPER_USERS = "config super users : {users}"
CORRUPT_QUEUE = "Log {path} is corrupt and needs to be cleaned before restarting HTCondor"
# ours: where the real schedd stops, the simulated one keeps what came before the damage
CORRUPT_QUEUE_KEPT = "Moved the corrupt log to {moved}; starting from the {records} records before the damage"
