"""Which way each container's CRI log is copied: from the engine's files, or over the API.

Where kubert can read the engine's json-file logs (the engine is local and kubert may read its
data root) one :class:`~kubert_docker.logshipper.LogShipper` thread copies them from disk for
all containers. Otherwise (a remote engine, another log driver, no permission) one
:class:`~kubert_docker.logapi.ApiLogPump` thread follows the engine's log streams of all such
containers. Either way the thread count does not grow with the containers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kubert import ContainerStatus
from kubert_docker.engine import Engine
from kubert_docker.logapi import ApiLogPump
from kubert_docker.logs import last_timestamp
from kubert_docker.logshipper import LogShipper
from kubert_docker.status import Record

log = logging.getLogger(__name__)

#: How long a stop waits for a container's log copy to drain before reporting it exited.
DRAIN_SECONDS = 2.0


def engine_log_path(record: Record, data_root: str) -> Path | None:
    """The container's json-file log if kubert can read it, else None."""
    host_config = record.inspect.get("HostConfig") or {}
    if (host_config.get("LogConfig") or {}).get("Type", "json-file") != "json-file":
        return None
    given = str(record.inspect.get("LogPath") or "")
    if given:
        path = Path(given)
    elif data_root:
        path = Path(data_root) / "containers" / record.id / f"{record.id}-json.log"
    else:
        return None
    return path if os.access(path.parent, os.R_OK | os.X_OK) else None


class LogCopying:
    """The log copies of all containers of one backend.

    :param engine: the engine (for the API fallback).
    :param checkpoint_dir: where the disk copies keep their checkpoints.
    :param data_root: returns the engine's data root (``DockerRootDir``), "" while unknown.
    """

    def __init__(self, engine: Engine, checkpoint_dir: Path, data_root: Callable[[], str]) -> None:
        self.data_root = data_root
        self.shipper = LogShipper(checkpoint_dir)
        self.api = ApiLogPump(engine)

    def start(self, record: Record, running: bool = True, fresh: bool = False) -> None:
        """Copy the container's log, starting where an earlier copy stopped.

        :param running: False for an exited container (copy what is left, then stop).
        :param fresh: the container was started just now (no earlier copy can exist).
        """
        if not record.log_path:
            return
        tty = bool((record.inspect.get("Config") or {}).get("Tty"))
        engine_log = engine_log_path(record, self.data_root())
        try:
            if engine_log is not None:
                self.shipper.add(
                    record.id, engine_log, Path(record.log_path), tty, running, fresh
                )
            else:
                self.api.add(record.id, Path(record.log_path), tty)
        except OSError as exc:  # the container runs regardless; say why it has no log
            log.warning("cannot copy the log of container %s to %s: %s",
                        record.id[:12], record.log_path, exc)

    def resume(self, record: Record) -> None:
        """Copy what a previous kubert (or a lost engine connection) left uncopied."""
        if not record.log_path:
            return
        started = isinstance(record.status, ContainerStatus) and record.status.started_at
        if record.running:
            self.start(record)
        elif started and engine_log_path(record, self.data_root()) is not None:
            self.start(record, running=False)
        elif started and record.finished_at and (
            last_timestamp(Path(record.log_path)) < record.finished_at
        ):
            self.start(record)

    def resume_all(self, records: Iterable[Record]) -> None:
        """After a (re)connection: resume every container's copy, and drop the checkpoints of
        containers that no longer exist (removed while kubert was down)."""
        known, exited = set(), []
        for record in records:
            known.add(record.id)
            self.resume(record)
            if not record.running:
                exited.append(record.id)
        self.shipper.prune(known)
        # Containers that exited while kubert was down: what they wrote last is copied before
        # the backend answers (a bounded wait, for all of them together).
        deadline = time.monotonic() + DRAIN_SECONDS
        for container_id in exited:
            self.shipper.drain(container_id, max(0.0, deadline - time.monotonic()))

    def drain(self, container_id: str) -> None:
        """Wait (a bounded time) until an exited container's output is in its CRI file."""
        self.shipper.drain(container_id, DRAIN_SECONDS)
        self.api.drain(container_id, DRAIN_SECONDS)

    def reopen(self, record: Record) -> None:
        """Reopen the container's CRI file (copying again if the copy had stopped)."""
        if self.shipper.reopen(record.id):
            return
        stream = self.api.get(record.id)
        if stream is None:
            self.start(record)
            return
        stream.file.reopen()

    def forget(self, container_id: str) -> None:
        """The container is removed: stop copying and drop what is kept about it."""
        self.shipper.forget(container_id)
        self.api.forget(container_id)

    def close(self) -> None:
        self.shipper.close()
        self.api.close()
