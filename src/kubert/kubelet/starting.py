"""Starting containers, the kubelet's startContainer (kuberuntime_container.go): the crash-loop
back-off, the ContainerConfig (volumes and /etc/hosts made on the way), the runAsNonRoot check,
CreateContainer and StartContainer.

Functions over the :class:`~kubert.kubelet.RuntimeManager` whose node-wide state (backoff, exit
times, image puller) they use; the manager's methods of the same names call them.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import attrs

from kubert.errors import KubertError
from kubert.kubelet import labels
from kubert.kubelet.context import ContainerStart
from kubert.kubelet.criconfigs import (
    container_config,
    ensure_volume_dirs,
    pod_log_dir,
    with_image_ref,
    write_etc_hosts,
)
from kubert.kubelet.hashing import container_hash
from kubert.kubelet.lifecycle import run_hook
from kubert.kubelet.logfiles import link_container_log
from kubert.kubelet.observe import ContainerRuntimeStatus
from kubert.kubelet.pod import Container, Pod
from kubert.model import ContainerConfig, ContainerFilter, ContainerState, Mount

if TYPE_CHECKING:
    from kubert.kubelet.manager import RuntimeManager

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CREATE_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_ERROR = "CreateContainerError"
RUN_ERROR = "RunContainerError"
POST_START_HOOK_ERROR = "PostStartHookError"


class StartError(KubertError):
    """A container could not be created or started; ``reason`` is the kubelet's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def backoff_key(pod: Pod, spec: Container) -> str:
    """The kubelet's stable backoff key: a changed spec starts a fresh backoff."""
    return f"{pod.name}_{pod.namespace}_{pod.uid}_{spec.name}_{container_hash(spec)}"


def crash_backoff(
    manager: RuntimeManager, pod: Pod, spec: Container, previous: ContainerRuntimeStatus | None
) -> str:
    """The kubelet's doBackOff: "" when ``spec`` may start now, else the back-off message.

    The backoff counts from when kubert first saw the previous container exited.
    """
    if previous is None or previous.state != ContainerState.CONTAINER_EXITED:
        return ""
    key = manager.backoff_key(pod, spec)
    seen = manager.exit_seen.setdefault(previous.id, manager.clock.now())
    if manager.backoff.in_backoff_since(key, seen):
        return (
            f"back-off {manager.backoff.get(key):g}s restarting failed container={spec.name} "
            f"pod={pod.full_name}"
        )
    manager.backoff.next(key, seen)
    return ""


def start_container(manager: RuntimeManager, start: ContainerStart) -> str:
    """Start one container through ``kubert_start_container``. :returns: its ID."""
    container_id: str | None = manager.pm.hook.kubert_start_container(start=start)
    if container_id is None:
        raise StartError(RUN_ERROR, f"no plugin started container {start.spec.name}")
    return container_id


def build_container_config(manager: RuntimeManager, start: ContainerStart) -> ContainerConfig:
    """The ContainerConfig for ``start`` (volumes and /etc/hosts are made on the way)."""
    pod, config = start.pod, manager.config
    volumes = ensure_volume_dirs(config, pod)
    etc_hosts = None if pod.spec.host_network else write_etc_hosts(config, pod, start.pod_ips)
    target_id = ""
    if start.spec.target_container_name:
        target_id = _running_container_id(
            manager, pod, start.spec.target_container_name, start.sandbox_id
        )
    built = container_config(
        config,
        pod,
        start.spec,
        restart_count=start.restart_count,
        pod_ips=start.pod_ips,
        volume_paths=volumes,
        etc_hosts=etc_hosts,
        target_id=target_id,
    )
    return _with_termination_log(manager, start, built)


def _with_termination_log(
    manager: RuntimeManager, start: ContainerStart, config: ContainerConfig
) -> ContainerConfig:
    """Mount a fresh host file at terminationMessagePath, as the kubelet does, and note both
    paths on the container so its status can read the message after it exits."""
    spec = start.spec
    annotations = {
        **config.annotations,
        labels.TERMINATION_MESSAGE_POLICY: spec.termination_message_policy,
    }
    if not spec.termination_message_path or any(
        m.container_path == spec.termination_message_path for m in config.mounts
    ):
        return attrs.evolve(config, annotations=annotations)
    directory = manager.config.pod_dir(start.pod.uid) / "containers" / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    host = directory / f"{start.restart_count}-termination-log"
    host.write_bytes(b"")
    host.chmod(0o666)  # the container's user, whoever it is, may write its message
    annotations[labels.TERMINATION_MESSAGE_PATH] = spec.termination_message_path
    annotations[labels.TERMINATION_LOG] = str(host)
    mount = Mount(container_path=spec.termination_message_path, host_path=str(host))
    return attrs.evolve(config, mounts=(*config.mounts, mount), annotations=annotations)


def _running_container_id(manager: RuntimeManager, pod: Pod, name: str, sandbox_id: str) -> str:
    selector = {labels.POD_UID: pod.uid, labels.CONTAINER_NAME: name}
    found = manager.runtime.list_containers(
        ContainerFilter(
            pod_sandbox_id=sandbox_id,
            state=ContainerState.CONTAINER_RUNNING,
            label_selector=selector,
        )
    )
    if not found:
        raise StartError(CREATE_CONFIG_ERROR, f"target container {name!r} is not running")
    return found[0].id


def default_start_container(manager: RuntimeManager, start: ContainerStart) -> str:
    """The kubelet's startContainer: image, config, CreateContainer, StartContainer."""
    spec, runtime = start.spec, manager.runtime
    image_ref = manager.images.ensure_image(start.pod, spec, start.sandbox_config, start.progress)
    try:
        config = manager.container_config(start)
    except (KubertError, OSError) as exc:
        raise StartError(CREATE_CONFIG_ERROR, str(exc)) from exc
    config = with_image_ref(config, image_ref)
    _verify_run_as_non_root(manager, start, config)
    log_dir = pod_log_dir(manager.config, start.pod) / spec.name
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        container_id = runtime.create_container(start.sandbox_id, config, start.sandbox_config)
    except KubertError as exc:
        raise StartError(CREATE_ERROR, str(exc)) from exc
    link_container_log(manager.config, start.pod, spec.name, container_id, config.log_path)
    try:
        runtime.start_container(container_id)
    except KubertError as exc:
        raise StartError(RUN_ERROR, str(exc)) from exc
    _post_start(manager, start, container_id)
    return container_id


def _post_start(manager: RuntimeManager, start: ContainerStart, container_id: str) -> None:
    """The kubelet's postStart: run the hook; when it fails, kill the container and fail the
    start with PostStartHookError (the restart policy decides what happens next)."""
    hook = start.spec.lifecycle.post_start if start.spec.lifecycle else None
    if hook is None:
        return
    named = [(p.name, p.container_port) for p in start.spec.ports if p.name]
    grace = max(manager.config.min_grace_period, start.pod.spec.termination_grace_period_seconds)
    pod_ip = start.pod_ips[0] if start.pod_ips else ""
    error = run_hook(
        manager.runtime, manager.clock, container_id, hook, pod_ip, float(grace), named
    )
    if not error:
        return
    start.progress(f"PostStartHook of {start.spec.name} failed: {error}; killing it")
    # reported as failed either way; the next sync sees what runs
    with contextlib.suppress(KubertError):
        manager.runtime.stop_container(container_id, grace)
    raise StartError(POST_START_HOOK_ERROR, f"PostStartHook failed: {error}")


def _verify_run_as_non_root(
    manager: RuntimeManager, start: ContainerStart, config: ContainerConfig
) -> None:
    """The kubelet's verifyRunAsNonRoot: refuse to start a runAsNonRoot container as root."""
    spec, pod_sc = start.spec, start.pod.spec.security_context
    wanted = spec.security_context.run_as_non_root if spec.security_context else None
    if wanted is None and pod_sc is not None:
        wanted = pod_sc.run_as_non_root
    if not wanted:
        return
    uid = config.linux.security_context.run_as_user
    if uid is None:
        image = manager.runtime.image_status(config.image)
        if image is not None and image.uid is not None:
            uid = image.uid
        elif image is not None and image.username not in ("", "root"):
            raise StartError(CREATE_CONFIG_ERROR, (
                f"container has runAsNonRoot and image has non-numeric user "
                f"({image.username}), cannot verify user is non-root"
            ))
        else:
            uid = 0
    if uid == 0:
        raise StartError(
            CREATE_CONFIG_ERROR, "container has runAsNonRoot and image will run as root"
        )
