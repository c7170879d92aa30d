"""pytest plugin for condor-sim (fixtures come with the pool-lifecycle work)."""
