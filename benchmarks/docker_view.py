"""kubert-docker's runtime with its state view filled from synthetic inspect documents, no
engine behind it: what the docker backend's relist costs with a thousand pods, which a real
engine here cannot hold (the benchmark's figure of it is labelled as such).

Each document is what the engine's inspect says of an object kubert-docker made: the name
and labels the plugin's own naming gives it, a running pause container per pod and a created
app container, and the view stores them through its own path from inspect to record
(``StateView._store``, as a refresh does), so the entries listed are the ones a real view
holds. Only the list path may be called: ``list_sandboxes``, ``list_containers`` and what the
core's start-up recovery asks.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from kubert import BackendContext, RegisterBackend, hookimpl
from kubert.backends import RuntimeBackend
from kubert_docker import naming
from kubert_docker.runtime import DockerRuntime
from kubert_docker.state import StateView

#: The backend name to pass ``start_server(runtime=...)``, with ``plugins=(docker_view,)``.
NAME = "docker-view"
PAUSE = "registry.k8s.io/pause:3.9"
_CREATED = "2026-01-01T00:00:00.123456789Z"
_UNSET = "0001-01-01T00:00:00Z"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _inspect(
    cid: str, name: str, meta: naming.Meta, image: str, running: bool, sandbox_id: str = ""
) -> dict[str, Any]:
    """The engine's inspect document of one CRI object, as far as the view reads it."""
    return {
        "Id": cid,
        "Name": "/" + name,
        "Created": _CREATED,
        "State": {
            "Status": "running" if running else "created", "Running": running, "Pid": 0,
            "ExitCode": 0, "StartedAt": _CREATED if running else _UNSET, "FinishedAt": _UNSET,
        },
        "Config": {"Labels": naming.engine_labels(meta, sandbox_id), "Image": image},
        "HostConfig": {},
        "Image": "sha256:" + _digest(image),
    }


def filled_view(pods: int) -> StateView:
    """A view holding ``pods`` running sandboxes with one created container each, labelled
    as the memory relist's pods are; marked healthy, never started."""
    # No engine: a view that is never started never asks one.
    view = StateView(
        engine=None,  # type: ignore[arg-type]
        image_ref=lambda image_id: f"{PAUSE}@{image_id}",
        on_event=lambda *_: None,
        before_exit=lambda _: None,
        on_images_changed=lambda: None,
        on_synced=lambda: None,
    )
    now = time.time_ns()
    for n in range(pods):
        md = {"name": f"p{n}", "uid": f"u{n}", "namespace": "bench", "attempt": 0}
        sandbox_id = _digest(f"sandbox {n}")
        sandbox = naming.Meta(
            kind=naming.TYPE_SANDBOX, metadata=md,
            labels={"app": f"a{n % 10}", "pod-template-hash": "abcdef"},
            annotations={"kubernetes.io/config.seen": "2026-01-01T00:00:00Z"},
        )
        view._store(_inspect(
            sandbox_id, naming.sandbox_name(f"p{n}", "bench", f"u{n}", 0), sandbox, PAUSE, True,
        ), now)
        container = naming.Meta(
            kind=naming.TYPE_CONTAINER, metadata={"name": "app", "attempt": 0},
            labels={"io.kubernetes.container.name": "app"},
            annotations={"io.kubernetes.container.hash": "1234abcd"}, extra={"image": PAUSE},
        )
        view._store(_inspect(
            _digest(f"container {n}"), naming.container_name("app", f"p{n}", "bench", f"u{n}", 0),
            container, PAUSE, False, sandbox_id,
        ), now)
    view.healthy = True
    return view


class ViewOnlyDocker(DockerRuntime):
    """:class:`DockerRuntime` over :func:`filled_view` (option ``pods``, default 1000)."""

    name = NAME

    def __init__(self, context: BackendContext) -> None:
        RuntimeBackend.__init__(self, context)  # no engine, no threads: the view alone
        self.state = filled_view(int(context.option("pods", 1000)))

    def close(self) -> None:
        """Nothing to release: no engine, no threads."""


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register(NAME, ViewOnlyDocker)
