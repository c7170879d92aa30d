"""Command-line tools of a pool, written on the public ``htcondor2`` client so they work
against a simulated pool and a real one alike.

Tools: ``condor_q`` (the job queue), ``condor_history`` (finished jobs), ``condor_status``
(the collector's ads), ``condor_submit``, ``condor_rm``/``condor_hold``/``condor_release``
(``job_actions``), ``condor_qedit``, ``condor_off``/``condor_on``/``condor_restart``/
``condor_reconfig``/``condor_reschedule`` (``daemon_control``), ``condor_ping``, ``condor_who``
(its ``-wait`` asks the master with DC_QUERY_READY), ``condor_config_val`` (with
``_param_info``: what the config engine in the wheel's library knows beyond a value),
``condor_version``, ``condor_wait`` (on a job event log), ``condor_suspend``/``condor_continue``/
``condor_vacate_job`` (``job_state``), ``htcondor`` (the wheel's own ``htcondor_cli``,
which ships without its script), ``condor_token_create``/``_list``/``_fetch`` (with
``_token_files``), ``condor_advertise``.  Each lives in its own module with ``main(argv: list[str] | None = None) -> int``: it writes to stdout/stderr and
returns the exit code (it never raises, so no traceback reaches the user); run one with
``python -m condor_sim.tools.condor_q``.  What the tools share (errors and exit codes, finding
the schedd, the ``-af``/``-format``/``-long``/``-json``/``-xml`` output of a list of ads) is in
:mod:`condor_sim.tools.common`.
"""
