"""``kubert apply -f pod.yaml``: store the manifest, sync, and follow until running or failed.

The file may hold ConfigMaps and Secrets beside pods (several documents or a ``kind: List``):
they are stored first, and the volumes of pods that use them are rewritten. Fields kubert
accepts and ignores are reported once each before anything is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pluggy

from kubert.errors import InvalidArgumentError
from kubert.kubelet import volumes
from kubert.kubelet.cli.podctl import Session, runtime_options, session
from kubert.kubelet.documents import load_document_file
from kubert.kubelet.edits import classify_edit
from kubert.kubelet.objects import KubeObject
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pod import Pod
from kubert.kubelet.podstatus import FAILED, RUNNING, SUCCEEDED, PodView

#: Waiting reasons that end the follow with an error: the pod needs a fix or a retry later.
FATAL_REASONS = (
    "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "CrashLoopBackOff",
)


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("apply")
    @click.option("-f", "--filename", "filename", type=click.Path(path_type=Path, exists=True,
                  dir_okay=False), required=True,
                  help="The manifest (YAML: pods, ConfigMaps and Secrets, or a List of them).")
    @click.option("--timeout", type=float, default=120.0, show_default=True,
                  help="Seconds to follow the pod before giving up.")
    @click.option("--wait/--no-wait", default=True, show_default=True,
                  help="Follow until every pod runs (or fails); --no-wait syncs once.")
    @runtime_options
    def apply(filename: Path, timeout: float, wait: bool, **options: Any) -> None:
        """Run the pods of a manifest (create, or converge to the edited manifest)."""
        try:
            documents = load_document_file(filename)
        except InvalidArgumentError as exc:
            raise click.ClickException(str(exc)) from None
        for notice in documents.notices:
            click.echo(f"notice: {notice}")
        pods = documents.pods
        with session(pm, **options) as s:
            save_objects(s, documents.objects)
            for pod in pods:
                stored = s.store.load(pod.uid)
                verb = "created" if stored is None else (
                    "unchanged" if stored.pod == pod else "configured"
                )
                how = classify_edit(stored.pod, pod).summary() if stored is not None else ""
                s.store.save(pod, "apply")
                click.echo(f"pod/{pod.name} {verb}" + (f": {how}" if how else ""))
            ok = follow(s, pods, timeout if wait else 0.0)
        if not ok:
            raise SystemExit(1)

    return apply


def save_objects(s: Session, objects: list[KubeObject]) -> None:
    """Store ConfigMaps and Secrets and rewrite the volumes of stored pods that use them."""
    store = ObjectStore(s.manager.config)
    for obj in objects:
        old = store.get(obj.kind, obj.namespace, obj.name)
        if old is not None and old.immutable and old != obj:
            raise click.ClickException(f"{obj.ref} is immutable: delete it to change it")
        store.save(obj)
        verb = "created" if old is None else ("unchanged" if old == obj else "configured")
        click.echo(f"{obj.ref} {verb}")
    if objects:
        for stored in s.store.all().values():
            for name in volumes.refresh_pod(s.manager.config, stored.pod):
                click.echo(f"  {stored.pod.name}: volume {name} updated")


def _done(view: PodView) -> str:
    """"" while the pod is still converging; otherwise why following stops."""
    if view.phase in (SUCCEEDED, FAILED):
        return view.phase
    for container in view.all_containers:
        if container.state == "waiting" and container.reason in FATAL_REASONS:
            return container.reason
    # running and ready: a readiness (or startup) probe must have passed
    running = all(c.state == "running" and c.ready for c in view.containers)
    sidecars = all(
        c.state == "running" and c.ready for c in view.init_containers if c.kind == "sidecar"
    )
    if view.phase == RUNNING and running and sidecars:
        return RUNNING
    return ""


def follow(s: Session, pods: list[Pod], timeout: float) -> bool:
    """Sync the pods until each runs, completes or fails; print progress. :returns: success."""
    clock = s.manager.clock
    deadline = clock.now() + timeout
    pending = {pod.uid: pod for pod in pods}
    ok = True
    last: dict[str, str] = {}
    while pending:
        for uid, pod in list(pending.items()):

            def progress(line: str, name: str = pod.name) -> None:
                if last.get(name) != line:
                    click.echo(f"  {name}: {line}")
                    last[name] = line

            s.manager.sync_pod(pod, source="apply", progress=progress)
            view = s.view(uid, pod)
            waiting = {n: v for (u, n), v in s.manager.waiting.items() if u == uid}
            s.store.save_waiting(uid, waiting)
            outcome = _done(view)
            if outcome or timeout <= 0:
                del pending[uid]
                ok &= _report(view, outcome or "synced")
        if pending and clock.now() >= deadline:
            for uid, pod in pending.items():
                view = s.view(uid, pod)
                click.echo(f"pod/{pod.name}: still {view.status} after {timeout:g}s", err=True)
            return False
        if pending:
            clock.sleep(0.5)
    return ok


def _report(view: PodView, outcome: str) -> bool:
    ips = ", ".join(view.ips) or "none"
    line = f"pod/{view.name} {view.status}: {view.ready}/{view.total} ready, IP {ips}"
    if outcome in (RUNNING, SUCCEEDED, "synced"):
        click.echo(line)
        return True
    details = [
        f"{c.name}: {c.reason} {c.message}".rstrip()
        for c in view.all_containers
        if c.state == "waiting" and c.reason in FATAL_REASONS
    ]
    click.echo(line + "".join(f"\n  {d}" for d in details), err=True)
    return False
