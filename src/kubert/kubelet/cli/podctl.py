"""Shared parts of the kubelet layer's pod commands (apply, delete, get, logs, describe, kubelet).

Every pod command talks to one CRI endpoint (``--runtime-endpoint``, any CRI runtime) and keeps
desired state under ``--root-dir`` (see :mod:`kubert.kubelet.store`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import pluggy
from attrs import frozen

from kubert.config import DEFAULT_ENDPOINT
from kubert.cri.client import CriClient
from kubert.errors import KubertError
from kubert.kubelet import podconditions
from kubert.kubelet.manager import RuntimeManager
from kubert.kubelet.observe import list_pod_uids
from kubert.kubelet.pod import Pod
from kubert.kubelet.podstatus import PodView, pod_view
from kubert.kubelet.settings import KubeletConfig
from kubert.kubelet.store import PodStore

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_KUBELET_ROOT = Path("/var/lib/kubert/kubelet")
DEFAULT_LOG_ROOT = Path("/var/log/pods")


def runtime_options(command: F) -> F:
    """``--runtime-endpoint``, ``--root-dir``, ``--log-root``, ``--connect-timeout``."""
    decorators = [
        click.option(
            "--runtime-endpoint", envvar="CONTAINER_RUNTIME_ENDPOINT",
            default=DEFAULT_ENDPOINT, show_default=True, show_envvar=True,
            help="CRI endpoint (unix:///path or a path).",
        ),
        click.option(
            "--root-dir", type=click.Path(path_type=Path), default=DEFAULT_KUBELET_ROOT,
            envvar="KUBERT_KUBELET_ROOT", show_default=True,
            help="Pod directories and applied manifests.",
        ),
        click.option(
            "--log-root", type=click.Path(path_type=Path), default=DEFAULT_LOG_ROOT,
            envvar="KUBERT_LOG_ROOT", show_default=True,
            help="Pod log directories are made under it.",
        ),
        click.option(
            "--connect-timeout", type=float, default=10.0, show_default=True,
            help="Seconds to wait for the CRI endpoint.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@frozen
class Session:
    """A connected CRI client, a runtime manager over it, and the pod store."""

    cri: CriClient
    manager: RuntimeManager
    store: PodStore

    def view(self, uid: str, pod: Pod | None) -> PodView:
        status = self.manager.observe(uid)
        waiting = {n: v for (u, n), v in self.manager.waiting.items() if u == uid}
        # readiness and conditions as the last sync (of any process) recorded them
        record = podconditions.load(self.manager.config.pod_dir(uid))
        return pod_view(
            pod, status, waiting or self.store.load_waiting(uid), None, record,
            self.manager.clock.now(),
        )

    def all_pods(self) -> dict[str, Pod | None]:
        """Every pod uid known to the store or running on the runtime, with its manifest."""
        pods: dict[str, Pod | None] = {u: s.pod for u, s in self.store.all().items()}
        for uid in list_pod_uids(self.cri):
            pods.setdefault(uid, None)
        return pods

    def find(self, name: str, namespace: str) -> tuple[str, Pod | None]:
        """The uid (and manifest) of the pod called ``name``; a clear error when there is none."""
        stored = self.store.find(name, namespace)
        if stored is not None:
            return stored.pod.uid, stored.pod
        for uid, (ns, pod_name) in list_pod_uids(self.cri).items():
            if pod_name == name and ns == namespace:
                return uid, None
        raise click.ClickException(f'pod "{name}" not found in namespace "{namespace}"')


@contextmanager
def session(
    pm: pluggy.PluginManager | None,
    runtime_endpoint: str,
    root_dir: Path,
    log_root: Path,
    connect_timeout: float,
    **config: Any,
) -> Iterator[Session]:
    """Connect, build the manager (with ``pm``'s pod-sync hooks) and yield a Session."""
    try:
        cri = CriClient.connect(runtime_endpoint, timeout=connect_timeout, call_timeout=None)
    except KubertError as exc:
        raise click.ClickException(f"cannot reach {runtime_endpoint}: {exc}") from None
    kubelet_config = KubeletConfig(root_dir=root_dir, log_root=log_root, **config)
    kwargs: dict[str, Any] = {"config": kubelet_config}
    if pm is not None:
        kwargs["pm"] = pm
    store = PodStore(kubelet_config)
    try:
        manager = RuntimeManager(cri, **kwargs)
        if kubelet_config.expect_pod_ip is None:
            # What an earlier command learned about this runtime's pod IPs (noop network).
            manager.expect_pod_ip = not store.runtime_gives_no_ip(runtime_endpoint)
        yield Session(cri=cri, manager=manager, store=store)
        if kubelet_config.expect_pod_ip is None:
            store.remember_pod_ip(runtime_endpoint, manager.expect_pod_ip)
    except KubertError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        cri.close()


def plugin_status(pm: pluggy.PluginManager | None, s: Session, uid: str, pod: Pod | None,
                  detail: bool) -> dict[str, str]:
    """What pod-sync plugins report about a pod (``kubert_pod_status_extra``), merged."""
    if pm is None:
        return {}
    merged: dict[str, str] = {}
    for extra in pm.hook.kubert_pod_status_extra(
        uid=uid, pod=pod, config=s.manager.config, detail=detail
    ):
        merged.update(extra or {})
    return merged


def age(created_ns: int, now: float | None = None) -> str:
    """kubectl-style age: 45s, 3m, 2h, 4d."""
    if not created_ns:
        return "<none>"
    seconds = max(0, int((now if now is not None else time.time()) - created_ns / 1e9))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def table(rows: list[list[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
