"""The shared port daemon (``condor_shared_port``) and what every daemon and client
needs to reach one another through it: :mod:`.wire` (sans IO) and :mod:`.endpoint`."""
