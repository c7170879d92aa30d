"""The execute side of a job: what a ``condor_starter`` does with one job ad.

``jobspec`` turns a job ad into the exact command, environment, files and user the job
gets (or the hold it must go on); ``starter.run_starter`` runs it in a forked child of the
startd and reports on a pipe.  Synchronous on purpose: the starter is one plain process.
"""
