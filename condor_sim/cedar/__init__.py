"""CEDAR, HTCondor's wire protocol, as pure (sans-IO) classes.

* :mod:`.framing` turns a TCP byte stream into messages and back (packets, end flags,
  AES-GCM once a session key is installed);
* :mod:`.stream` reads and writes the primitive encodings inside one message;
* :mod:`.classad_wire` puts and gets ClassAds (with the real ``classad2`` library);
* :mod:`.commands` holds the command numbers and names.

Nothing here touches a socket: :mod:`condor_sim.daemoncore` is the thin asyncio layer.
"""

class ProtocolError(Exception):
    """The peer sent something CEDAR does not allow; the connection must be closed."""
