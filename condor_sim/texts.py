"""The log lines DaemonCore and its security layer write, word for word, in one place
(``daemon_command.cpp``, ``daemon_core.cpp``, ``condor_io``).  Tests and users grep logs
for these; a change here is a change of what a daemon says.

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
