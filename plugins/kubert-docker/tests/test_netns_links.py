"""The sandboxes' stable netns links under concurrent status calls and after a crash."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from kubert_docker.netns import NetnsLinks
from kubert_docker.status import Record


def _record(sandbox_id: str, pid: int) -> Record:
    # Only the ID and the pause pid matter to the links; the rest of a record is the engine's.
    return cast(Record, SimpleNamespace(id=sandbox_id, pid=pid))


def test_concurrent_links_of_one_sandbox_never_collide(tmp_path: Path) -> None:
    """Status calls for one sandbox relink at the same moment; CI once saw FileExistsError."""
    links = NetnsLinks(tmp_path)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def relink(index: int) -> None:
        start.wait()
        try:
            for round_ in range(200):
                # Two pids alternate, so every call finds the link stale and replaces it.
                links.link(_record("a" * 64, os.getpid() if (index + round_) % 2 else 1))
        except BaseException as error:  # the test reports whatever went wrong
            errors.append(error)

    threads = [threading.Thread(target=relink, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert [p.name for p in tmp_path.iterdir()] == ["a" * 64]
    assert os.readlink(tmp_path / ("a" * 64)) in (f"/proc/{os.getpid()}/ns/net", "/proc/1/ns/net")


def test_sweep_keeps_exactly_the_running_sandboxes_links(tmp_path: Path) -> None:
    links = NetnsLinks(tmp_path)
    links.link(_record("gone", os.getpid()))
    (tmp_path / ".half.1.2").symlink_to("/proc/1/ns/net")  # left by a process killed mid-link
    running = [_record("kept", os.getpid()), _record("new", 1)]
    links.sweep(lambda: running)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "new"]
    assert os.readlink(tmp_path / "new") == "/proc/1/ns/net"
