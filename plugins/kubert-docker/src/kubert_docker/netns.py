"""The stable network-namespace path of a sandbox: ``<root-directory>/docker/netns/<id>``, a
symlink to its pause process's namespace while the sandbox runs (the core hands it to the
network plugin), removed once the pause process is gone."""

from __future__ import annotations

import contextlib
import os
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
        self.directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(link) == target:
                return
            link.unlink()
        link.symlink_to(target)

    def unlink(self, sandbox_id: str) -> None:
        """Remove the link of ``sandbox_id`` if there is one."""
        # Once the pause process is gone its pid may be reused; the link must not outlive it.
        with contextlib.suppress(FileNotFoundError):
            (self.directory / sandbox_id).unlink()
