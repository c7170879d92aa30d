"""condor-sim: a simulated HTCondor personal pool that speaks the real CEDAR protocol."""

__version__ = "0.1.0"

# The version string our daemons announce.  The real client parses it to decide which
# protocol features the peer has (resume responses need >= 9.9.0, the FS channel
# binding, the PASSWORD identity name, ...), so it must look like a real release.
CONDOR_VERSION = "$CondorVersion: 25.14.0 2026-11-23 BuildID: condor-sim $"
CONDOR_PLATFORM = "$CondorPlatform: X86_64-Simulated $"
