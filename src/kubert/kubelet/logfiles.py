"""Container log files for log agents, as the kubelet keeps them.

* Links: ``<links dir>/<pod>_<namespace>_<container>-<container id>.log`` points at the
  container's log under the pod log directory, made when the container is created and removed
  with it (dangling links are swept when pods go).
* Rotation, the kubelet's container log manager: a running container's log above
  ``container_log_max_size`` is renamed to ``<log>.<YYYYmmdd-HHMMSS>`` and the runtime told to
  reopen it (ReopenContainerLog); the previous rotated file is gzipped and the oldest removed
  so that at most ``container_log_max_files`` files remain.
* Restart counts: a container the runtime no longer knows restarts with the count after the
  highest ``<N>.log`` of its log directory (the kubelet's calcRestartCountByLogDir).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from kubert.errors import KubertError
from kubert.kubelet.criconfigs import pod_log_dir
from kubert.kubelet.pod import Pod
from kubert.kubelet.runtime import RuntimeClient
from kubert.kubelet.settings import KubeletConfig
from kubert.model import ContainerFilter, ContainerState

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^([0-9]+)\.log(\..*)?$")
_STAMP = "%Y%m%d-%H%M%S"


def link_path(config: KubeletConfig, pod: Pod, container: str, container_id: str) -> Path:
    return config.log_links_dir / f"{pod.name}_{pod.namespace}_{container}-{container_id}.log"


def link_container_log(
    config: KubeletConfig, pod: Pod, container: str, container_id: str, log_path: str
) -> None:
    """Make the log agents' link of a created container (``log_path`` relative to the pod's
    log directory, as in its ContainerConfig). A failure is logged, never fatal."""
    link = link_path(config, pod, container, container_id)
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(pod_log_dir(config, pod) / log_path)
    except OSError as exc:
        log.warning("cannot link %s: %s", link, exc)


def remove_links(config: KubeletConfig, container_ids: Iterable[str]) -> None:
    """Remove the links of removed containers, and links whose log is gone."""
    directory = config.log_links_dir
    if not directory.is_dir():
        return
    suffixes = tuple(f"-{cid}.log" for cid in container_ids)
    for link in directory.iterdir():
        if link.is_symlink() and (link.name.endswith(suffixes) or not link.exists()):
            link.unlink(missing_ok=True)


def restart_count_from_logs(config: KubeletConfig, pod: Pod, container: str) -> int:
    """One more than the highest ``<N>.log`` in the container's log directory; 0 if none."""
    directory = pod_log_dir(config, pod) / container
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    numbers = [int(m.group(1)) for m in map(_NUMBERED.match, names) if m is not None]
    return max(numbers) + 1 if numbers else 0


def rotate_logs(config: KubeletConfig, runtime: RuntimeClient, now: float | None = None) -> int:
    """One round of the container log manager over every running container.

    :returns: how many logs were rotated.
    """
    reopen = getattr(runtime, "reopen_container_log", None)
    if reopen is None or config.container_log_max_size <= 0:
        return 0
    rotated = 0
    running = ContainerFilter(state=ContainerState.CONTAINER_RUNNING)
    for container in runtime.list_containers(running):
        try:
            path = runtime.container_status(container.id).log_path
        except KubertError:
            continue
        if not path:
            continue
        try:
            if Path(path).stat().st_size < config.container_log_max_size:
                continue
            if rotate_one(Path(path), config.container_log_max_files, container.id, reopen, now):
                rotated += 1
        except OSError as exc:
            log.warning("cannot rotate %s: %s", path, exc)
    return rotated


def rotate_one(
    path: Path, max_files: int, container_id: str, reopen: object, now: float | None = None
) -> bool:
    """Rotate one log file; ``reopen(container_id)`` makes the runtime write a fresh file."""
    assert callable(reopen)
    target = path.with_name(f"{path.name}.{time.strftime(_STAMP, time.gmtime(now))}")
    if target.exists() or target.with_name(target.name + ".gz").exists():
        return False  # rotated this second already
    rotated = sorted(
        (p for p in path.parent.glob(f"{path.name}.*") if not p.name.endswith(".tmp")),
        key=lambda p: p.name.removesuffix(".gz"),
    )
    for old in rotated[: max(0, len(rotated) - max(0, max_files - 2))]:
        old.unlink(missing_ok=True)
    for old in rotated[max(0, len(rotated) - max(0, max_files - 2)):]:
        if not old.name.endswith(".gz"):
            _compress(old)
    os.rename(path, target)
    try:
        reopen(container_id)
    except KubertError as exc:
        # The runtime kept writing the renamed file: put it back, as the kubelet does.
        with contextlib.suppress(OSError):
            os.rename(target, path)
        log.warning("reopening the log of %s failed: %s", container_id, exc)
        return False
    return True


def _compress(path: Path) -> None:
    temp = path.with_name(path.name + ".gz.tmp")
    with path.open("rb") as source, gzip.open(temp, "wb") as sink:
        shutil.copyfileobj(source, sink)
    os.replace(temp, path.with_name(path.name + ".gz"))
    path.unlink()
