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
ADDING_SHARED_PORT = ("Adding SHARED_PORT to DAEMON_LIST, because USE_SHARED_PORT=true "
                      "(to disable this, set AUTO_INCLUDE_SHARED_PORT_IN_DAEMON_LIST=False)")
STARTING_SHARED_PORT = "Starting shared port with port: {port}"
NOT_STARTING = "START_DAEMONS flag was set to FALSE.  Not starting daemons."
WATCHING = "Master restart (GRACEFUL) is watching {path} (mtime:{mtime})"

# -- ours, where the startd's real lines are not in the captures (Resource.cpp, ResMgr.cpp)
STARTD_CLAIM_REFUSED = "{slot}: Request rejected: {reason}"
STARTD_STARTER_KILLED = "Starter pid {pid} died on signal {signal} ({name})"
STARTD_READY = "Sending DC_SET_READY message to master {sinful}"
STARTD_INITIAL_UPDATE = "Initial update sent to collector(s)"

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

# -- running jobs: the negotiator, MatchLog, schedd, shadow, starter and startd
# (matchmaker.cpp, schedd.cpp, baseshadow.cpp/remoteresource.cpp, starter.cpp/jic_shadow.cpp,
# Resource.cpp/ResState.cpp/claim.cpp).  Shadow lines about a job follow SHADOW_JOB_HEADER
# (SHADOW_CHILD_HEADER in its file-transfer child); schedd and starter lines follow the
# ``(pid:N) `` header of their logs.

# the negotiator's cycle
NEGOTIATION_CYCLE_STARTED = "---------- Started Negotiation Cycle ----------"
NEGOTIATION_PHASE_1 = "Phase 1:  Obtaining ads from collector ..."
NEGOTIATION_GETTING_PRIVATE_ADS = "  Getting startd private ads ..."
NEGOTIATION_GETTING_ADS = "  Getting Scheduler, Submitter and Machine ads ..."
NEGOTIATION_SORTING_ADS = "  Sorting {count} ads ..."
NEGOTIATION_GOT_ADS = "Got ads: {public} public and {private} private"
NEGOTIATION_PUBLIC_ADS = "Public ads include {submitters} submitter, {startds} startd"
NEGOTIATION_PHASE_2 = "Phase 2:  Performing accounting ..."
NEGOTIATION_SIGNIFICANT_ATTRS = "Leaving compute_significant_attrs() - result={attrs}"
NEGOTIATION_PHASE_3 = "Phase 3:  Sorting submitter ads by priority ..."
PREFETCH_ROUND = "Starting prefetch round; {count} potential prefetches to do."
PREFETCH_SUBMITTER = "Starting prefetch negotiation for {submitter}."
NEGOTIATION_NO_MORE_JOBS = "    Got NO_MORE_JOBS;  schedd has no more requests"
PREFETCH_SUMMARY = "Prefetch summary: {attempted} attempted, {successful} successful."
NEGOTIATION_PHASE_4 = "Phase 4.1:  Negotiating with schedds ..."
NEGOTIATING_WITH = "  Negotiating with {submitter} at {schedd}"
SECONDS_FOR_SUBMITTER = "{seconds} seconds so far for this submitter"
SECONDS_FOR_SCHEDD = "{seconds} seconds so far for this schedd"
NEGOTIATION_REQUEST = "    Request {cluster:05d}.{proc:05d}: autocluster {autocluster} (request count {n} of {total})"
# the same line goes to the MatchLog, after its time stamp
MATCHED = "      Matched {job} {submitter} {schedd} preempting {preempting} {startd} {slot}"
SUCCESSFULLY_MATCHED = "      Successfully matched with {slot}"
RESOURCES_USED = " negotiateWithGroup resources used submitterAds length {count} "
NEGOTIATION_CYCLE_FINISHED = "---------- Finished Negotiation Cycle ----------"

# the schedd: negotiation, shadows, claims
SCHEDD_NEGOTIATING_FOR = "Negotiating for Submitter: {submitter} with (name={name}, host={host})"
SCHEDD_REBUILT_RUNNABLE = "Rebuilt prioritized runnable job list in {seconds:.3f}s."
SCHEDD_NEGOTIATION_ENDED = "Negotiation ended: {matched} jobs matched"
SCHEDD_FINISHED_NEGOTIATING = "Finished negotiating for {owner} in local pool: {matched} matched, {rejected} rejected"
SCHEDD_SHADOW_BIRTHDATE = "Starting add_shadow_birthdate({job})"
SCHEDD_STARTED_SHADOW = "Started shadow for job {job} on {slot} {startd} for {owner}, (shadow pid = {pid})"
SCHEDD_SHADOW_EXIT_REASON = "Shadow pid {pid} for job {job} reports job exit reason {reason}."
SCHEDD_MATCH_DELETED = "Match record ({slot} {startd} for {owner}, {job}) deleted"
SCHEDD_RELEASED_CLAIM = "Completed RELEASE_CLAIM to startd {slot} {startd} for {owner}"

# the shadow
SHADOW_JOB_HEADER = "({job}) ({pid}): "
SHADOW_CHILD_HEADER = "({job}) ({pid}>{child}): "
SHADOW_INITIALIZING = "Initializing a {universe} shadow for job {job}"
SHADOW_REQUEST_ACCEPTED = "Request to run on {slot} {startd} was ACCEPTED"
SANDBOX_TOO_SMALL_TO_QUEUE = "Not entering transfer queue because sandbox ({size}) is too small (<= {limit})."
TRANSFER_EXIT_INFO = ("Transfer exit info: Success = {success} | Error[{code}.{subcode}] = '{error}' | "
                      "Ack = {ack} | Line = {line} | Files = {files} | Retry = {retry}")
FILE_TRANSFER_SUCCEEDED = "File transfer completed successfully."
SHADOW_DEACTIVATE_JOB_DONE = "Sending DEACTIVATE_CLAIM_JOB_DONE to startd"
SHADOW_DEACTIVATE = "Sending DEACTIVATE_CLAIM to startd"
SHADOW_GRACEFUL_REMOVAL = "Requesting graceful removal of job."
SHADOW_JOB_EVICTED = "Job {job} is being evicted from {slot}"
SHADOW_JOB_TERMINATED = "Job {job} terminated: {how} {value}"
TERMINATED_EXITED = "exited with status"
TERMINATED_SIGNALED = "killed by signal"
SHADOW_EXIT_REASON = "Reporting job exit reason {reason} and attempting to fetch new job."

# the starter
STARTER_SHADOW = "Communicating with shadow {shadow}"
STARTER_SUBMIT_HOST = 'Submitting machine is "{host}"'
STARTER_ORIG_NAME = "setting the orig job name in starter"
STARTER_ORIG_IWD = "setting the orig job iwd in starter"
STARTER_CHIRP_SUMMARY = "Chirp config summary: IO {io}, Updates {updates}, Delayed updates {delayed}."
STARTER_IO_PROXY = "Initialized IO Proxy."
STARTER_LIMITS_DONE = "Done setting resource limits"
STARTER_ASKS_GUIDANCE = "Requesting guidance from the shadow about {topic}..."
STARTER_RUNTIME_ADS = "Set filetransfer runtime ads to {job_ad} and {machine_ad}."
STARTER_GUIDANCE = "Received the following guidance: '{guidance}'"
STARTER_START_AS_GUIDED = "Starting job as guided..."
STARTER_CARRY_ON = "Carrying on according to guidance..."
STARTER_EXECUTE_NOW = "Job {job} set to execute immediately"
STARTER_STARTING_JOB = "Starting a {universe} universe job with ID: {job}"
STARTER_IWD = "IWD: {iwd}"
STARTER_OUTPUT_FILE = "Output file: {path}"
STARTER_ERROR_FILE = "Error file: {path}"
STARTER_RENICE = 'Renice expr "{expr}" evaluated to {value}'
STARTER_SAME_UID = "Running job as user same uid as parent: personal condor"
STARTER_ABOUT_TO_EXEC = "About to exec {command}"
STARTER_PROCESS_CREATED = "Create_Process succeeded, pid={pid}"
STARTER_VACATE_CODE = "Got vacate code={code} subcode={subcode} reason={reason}"
STARTER_SHUTDOWN_GRACEFUL = "ShutdownGraceful all jobs."
STARTER_PROCESS_EXITED = "Process exited, pid={pid}, status={status}"
STARTER_PROCESS_SIGNALED = "Process exited, pid={pid}, signal={signal}"
STARTER_REAPER_DONE = "Returning from Starter::JobReaper()"
STARTER_ALL_EXITED = "All jobs have exited... starter exiting"

# the startd: a dynamic slot from its claim to its deletion
STARTD_BIND_DEVICES = "bind slot DevIds tag={tag} contraint={constraint}"
STARTD_NEW_DSLOT = "{slot}: New dSlot allocated"
STARTD_DSLOT_RESOURCES = "{slot}: \tCpus: {cpus:.2f}, Memory: {memory}, Swap: {swap}, Disk: {disk}, GPUs: {gpus}"
STARTD_REQUEST_ACCEPTED = "{slot}: Request accepted."
STARTD_REMOTE_OWNER = "{slot}: Remote owner is {owner}"
STARTD_CHANGING_STATE = "{slot}: Changing state: {old} -> {new}"
STARTD_CHANGING_ACTIVITY = "{slot}: Changing activity: {old} -> {new}"
STARTD_CHANGING_STATE_ACTIVITY = "{slot}: Changing state and activity: {old_state}/{old_activity} -> {new_state}/{new_activity}"
STARTD_CLAIMED = "{slot}: State change: claiming protocol successful"
STARTD_ACTIVATE_REQUEST = "{slot}: Got activate_claim request from shadow ({ip})"
STARTD_REMOTE_JOB = "{slot}: Remote job ID is {job}"
STARTD_UNIVERSE = '{slot}: Got universe "{universe}" ({number}) from request classad'
STARTD_ACTIVATED = "{slot}: State change: claim-activation protocol successful, Starter {pid}"
STARTD_FINAL_UPDATE = "{slot}[{job}]: Received final job ClassAd update from starter. {unread} unread bytes"
STARTD_FINAL_UPDATE_ASSUMED = "{slot}[{job}]: Could not read job ClassAd update from starter, assuming final_update"
STARTD_STARTER_EXITED = "Starter pid {pid} exited with status {status}"
STARTD_STARTER_GONE = ("{slot}: State change: starter exited : src/condor_startd.V6/Resource.cpp(1112) "
                       "{state}/{activity}")
STARTD_DEACTIVATED_JOB_DONE = "{slot}: Called deactivate_claim_job_done()"
STARTD_DEACTIVATED = "{slot}: Called deactivate_claim()"
STARTD_RELEASE_CLAIM = "{slot}: State change: received RELEASE_CLAIM command"
STARTD_NO_PREEMPTING_CLAIM = "{slot}: State change: No preempting claim, returning to owner"
STARTD_NOT_OWNER = "{slot}: State change: IS_OWNER is false"
STARTD_DSLOT_DELETED = "{slot}: Slot {name} no longer needed, deleting"
