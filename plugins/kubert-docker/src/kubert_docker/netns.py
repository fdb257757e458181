"""The stable network-namespace path of a sandbox: ``<root-directory>/docker/netns/<id>``, a
symlink to its pause process's namespace while the sandbox runs (the core hands it to the
network plugin), removed once the pause process is gone."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from kubert import NamespaceMode
from kubert_docker.status import Record

__all__ = ["NetnsLinks", "host_network"]


def host_network(record: Record) -> bool:
    """Whether the sandbox ``record`` uses the node's network namespace."""
    options = record.meta.extra.get("namespace_options") or {}
    return int(options.get("network", 0)) == NamespaceMode.NODE


class NetnsLinks:
    """The netns links of the sandboxes, one per sandbox ID in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, sandbox_id: str) -> str:
        """The link's path for ``sandbox_id`` (whether or not it exists now)."""
        return str(self.directory / sandbox_id)

    def link(self, record: Record) -> None:
        """Point the sandbox's stable netns path at its pause process's network namespace."""
        if record.pid <= 0:
            return
        link = self.directory / record.id
        target = f"/proc/{record.pid}/ns/net"
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(link) == target:
                return
        self.directory.mkdir(parents=True, exist_ok=True)
        # Status calls for one sandbox run concurrently: a link made aside under a name of this
        # thread's own and renamed over the old one is never seen missing or made twice.
        aside = self.directory / f".{record.id}.{os.getpid()}.{threading.get_ident()}"
        with contextlib.suppress(FileNotFoundError):
            aside.unlink()
        aside.symlink_to(target)
        os.replace(aside, link)

    def unlink(self, sandbox_id: str) -> None:
        """Remove the link of ``sandbox_id`` if there is one."""
        # Once the pause process is gone its pid may be reused; the link must not outlive it.
        with contextlib.suppress(FileNotFoundError):
            (self.directory / sandbox_id).unlink()

    def sweep(self, running: Callable[[], list[Record]]) -> None:
        """Make the links exactly those of ``running()`` (the running sandboxes with a network
        namespace of their own): link each, and remove every other entry, which is a link of a
        sandbox that stopped or went while kubert was down, or one left half-made by a kill."""
        for record in running():
            self.link(record)
        if not self.directory.is_dir():
            return
        entries = list(self.directory.iterdir())
        # Asked again after listing: a sandbox started meanwhile has its link already.
        keep = {record.id for record in running()}
        mine = f".{os.getpid()}."
        for entry in entries:
            # A link being made aside by this process is in flight; an older process's is debris.
            if entry.name not in keep and mine not in entry.name:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
