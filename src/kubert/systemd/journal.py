"""Log lines for the journal: no timestamp of our own, a ``<N>`` syslog priority in front.

systemd sets ``JOURNAL_STREAM=DEV:INODE`` for a service whose stderr is connected to the
journal. Only when stderr really is that stream (a shell started from the service would
inherit the variable with another stderr) do lines drop the time, which the journal records
itself, and carry the priority prefix that the journal reads into ``PRIORITY=``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

__all__ = ["PLAIN_FORMAT", "JournalFormatter", "stderr_is_journal"]

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: logging level -> syslog priority (sd-daemon.h: SD_CRIT 2, SD_ERR 3, SD_WARNING 4, …).
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority(levelno: int) -> int:
    for level, value in _PRIORITIES:
        if levelno >= level:
            return value
    return 7  # debug


def stderr_is_journal(environ: Mapping[str, str] | None = None, fd: int = 2) -> bool:
    """Whether ``fd`` is the stream ``JOURNAL_STREAM`` names."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, sep, inode = value.partition(":")
    if not sep or not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(fd)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


class JournalFormatter(logging.Formatter):
    """``<6>kubert.serve: message``; every line of a multi-line record gets the prefix, since
    the journal splits on newlines and would log the rest at the default priority."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())
