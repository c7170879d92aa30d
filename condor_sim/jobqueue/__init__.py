"""The schedd's job queue, sans-IO: the queue and its transactions, job_queue.log, history and user event logs."""
