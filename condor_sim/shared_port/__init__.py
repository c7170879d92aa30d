"""The shared port's wire (``wire``: the preamble and the names, sans-IO) and its sockets
(``endpoint``: named sockets, passing a connection, connecting through the port), used by
every daemon and client; the daemon itself is ``condor_sim.daemons.shared_port``."""
