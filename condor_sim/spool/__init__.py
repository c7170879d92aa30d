"""Spooling: the FileTransfer wire protocol (:mod:`.wire`), the spool directory of a job and
the rewrite of its ad (:mod:`.layout`)."""
