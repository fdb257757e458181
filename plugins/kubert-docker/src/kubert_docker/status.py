"""Engine inspect data to CRI answers: list entries and statuses, built once per refresh."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from attrs import frozen

from kubert import (
    Container,
    ContainerMetadata,
    ContainerResources,
    ContainerState,
    ContainerStatus,
    ImageSpec,
    LinuxContainerResources,
    LinuxPodSandboxStatus,
    Mount,
    Namespace,
    PodSandbox,
    PodSandboxMetadata,
    PodSandboxState,
    PodSandboxStatus,
)
from kubert_docker import naming
from kubert_docker.security import process_user
from kubert_docker.spec import ns_from_dict

_ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_time(text: str | None) -> int:
    """An engine timestamp (RFC 3339, nanoseconds, UTC) as Unix nanoseconds; 0 for unset."""
    if not text or text == _ZERO_TIME or text.startswith("0001-"):
        return 0
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main[:19], "%Y-%m-%dT%H:%M:%S"))
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return seconds * 1_000_000_000 + nanos


def format_time(ns: int) -> str:
    """Unix nanoseconds as the engine writes timestamps (RFC 3339, nanoseconds, UTC)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def provisional_inspect(cid: str, name: str, body: dict[str, Any], now_ns: int) -> dict[str, Any]:
    """What inspecting a container just created from ``body`` would say, as far as
    :func:`build_record` reads it (created, not started; the engine's own times, pid and
    layer paths are unknown until it is inspected)."""
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    return {
        "Id": cid,
        "Name": "/" + name,
        "Created": format_time(now_ns),
        "State": {"Status": "created", "Running": False, "Pid": 0, "ExitCode": 0,
                  "StartedAt": _ZERO_TIME, "FinishedAt": _ZERO_TIME},
        "Config": config,
        "HostConfig": dict(body.get("HostConfig") or {}),
        "Image": "",
    }


@frozen(kw_only=True)
class Record:
    """One CRI object as the engine last described it, with its CRI answers prebuilt.

    :ivar refreshed_ns: when the inspect that produced it was sent (Unix ns); engine events
        older than this are already reflected.
    """

    id: str
    kind: str
    meta: naming.Meta
    sandbox_id: str
    docker_state: str
    running: bool
    pid: int
    finished_at: int
    image_id: str
    refreshed_ns: int
    inspect: dict[str, Any]
    entry: PodSandbox | Container
    status: PodSandboxStatus | ContainerStatus

    @property
    def is_sandbox(self) -> bool:
        return self.kind == naming.TYPE_SANDBOX

    @property
    def log_path(self) -> str:
        return str(self.meta.extra.get("log_path", ""))


def container_state(state: dict[str, Any]) -> tuple[ContainerState, str, str]:
    """(CRI state, reason, message) from an engine ``State``."""
    status = state.get("Status", "")
    error = state.get("Error", "") or ""
    if state.get("Running") or status in ("running", "paused", "restarting"):
        return ContainerState.CONTAINER_RUNNING, "", ""
    if status == "created" and not error and parse_time(state.get("FinishedAt")) == 0:
        return ContainerState.CONTAINER_CREATED, "", ""
    if status in ("exited", "dead", "removing", "created"):
        if error and not parse_time(state.get("StartedAt")):
            return ContainerState.CONTAINER_EXITED, "ContainerCannotRun", error
        if state.get("OOMKilled"):
            return ContainerState.CONTAINER_EXITED, "OOMKilled", error
        code = int(state.get("ExitCode", 0) or 0)
        return ContainerState.CONTAINER_EXITED, "Completed" if code == 0 else "Error", error
    return ContainerState.CONTAINER_UNKNOWN, "", error


def _resources(host: dict[str, Any]) -> ContainerResources:
    swap = int(host.get("MemorySwap") or 0)
    return ContainerResources(
        linux=LinuxContainerResources(
            cpu_period=int(host.get("CpuPeriod") or 0),
            cpu_quota=int(host.get("CpuQuota") or 0),
            cpu_shares=int(host.get("CpuShares") or 0),
            memory_limit_in_bytes=int(host.get("Memory") or 0),
            oom_score_adj=int(host.get("OomScoreAdj") or 0),
            cpuset_cpus=host.get("CpusetCpus") or "",
            cpuset_mems=host.get("CpusetMems") or "",
            memory_swap_limit_in_bytes=swap if swap > 0 else 0,
        )
    )


def build_record(
    inspect: dict[str, Any],
    meta: naming.Meta,
    refreshed_ns: int,
    image_ref: Callable[[str], str],
) -> Record:
    """The :class:`Record` of one inspected engine object that :mod:`naming` recognised."""
    state = inspect.get("State") or {}
    cid = inspect["Id"]
    created = parse_time(inspect.get("Created"))
    labels = dict(meta.labels)
    annotations = dict(meta.annotations)
    # The list entry is handed out as it is, on every list until the record is replaced (the
    # backend contract's read-only entries): read-only views of the record's own maps, which
    # the status shares and the runtime copies whenever it hands the status out.
    listed_labels, listed_annotations = MappingProxyType(labels), MappingProxyType(annotations)
    host = inspect.get("HostConfig") or {}
    entry: PodSandbox | Container
    status: PodSandboxStatus | ContainerStatus
    image_id = inspect.get("Image", "")
    if meta.kind == naming.TYPE_SANDBOX:
        md = PodSandboxMetadata(**meta.metadata)
        ready = bool(state.get("Running"))
        sandbox_state = PodSandboxState.SANDBOX_READY if ready else PodSandboxState.SANDBOX_NOTREADY
        handler = str(meta.extra.get("runtime_handler", ""))
        entry = PodSandbox(
            id=cid, metadata=md, state=sandbox_state, created_at=created,
            labels=listed_labels, annotations=listed_annotations, runtime_handler=handler,
        )
        status = PodSandboxStatus(
            id=cid, metadata=md, state=sandbox_state, created_at=created,
            linux=LinuxPodSandboxStatus(
                namespaces=Namespace(options=ns_from_dict(meta.extra.get("namespace_options")))
            ),
            labels=labels, annotations=annotations, runtime_handler=handler,
        )
        sandbox_id = cid
    else:
        cmd = ContainerMetadata(**meta.metadata)
        cri_state, reason, message = container_state(state)
        sandbox_id = (inspect.get("Config") or {}).get("Labels", {}).get(
            naming.SANDBOX_ID_LABEL, ""
        )
        image = ImageSpec(
            image=str(meta.extra.get("image") or (inspect.get("Config") or {}).get("Image", "")),
            user_specified_image=str(meta.extra.get("user_specified_image", "")),
        )
        ref = image_ref(image_id) if image_id else ""
        entry = Container(
            id=cid, pod_sandbox_id=sandbox_id, metadata=cmd, image=image, image_ref=ref,
            state=cri_state, created_at=created, labels=listed_labels,
            annotations=listed_annotations, image_id=image_id,
        )
        started = parse_time(state.get("StartedAt"))
        # The engine stamps StartedAt after it set the process going, so a process that exits
        # at once can show FinishedAt before StartedAt; the CRI wants them ordered.
        finished = parse_time(state.get("FinishedAt"))
        if finished and finished < started:
            finished = started
        status = ContainerStatus(
            id=cid, metadata=cmd, state=cri_state, created_at=created,
            started_at=started if cri_state != ContainerState.CONTAINER_CREATED else 0,
            finished_at=finished if cri_state == ContainerState.CONTAINER_EXITED else 0,
            exit_code=int(state.get("ExitCode", 0) or 0)
            if cri_state == ContainerState.CONTAINER_EXITED else 0,
            image=image, image_ref=ref, reason=reason, message=message,
            labels=labels, annotations=annotations,
            mounts=tuple(Mount(**m) for m in meta.extra.get("mounts", ())),
            log_path=str(meta.extra.get("log_path", "")),
            resources=_resources(host),
            image_id=image_id,
            user=process_user(int(state.get("Pid") or 0)) if state.get("Running") else None,
        )
    return Record(
        id=cid,
        kind=meta.kind,
        meta=meta,
        sandbox_id=sandbox_id,
        docker_state=str(state.get("Status", "")),
        running=bool(state.get("Running")),
        pid=int(state.get("Pid") or 0),
        finished_at=parse_time(state.get("FinishedAt")),
        image_id=image_id,
        refreshed_ns=refreshed_ns,
        inspect=inspect,
        entry=entry,
        status=status,
    )
