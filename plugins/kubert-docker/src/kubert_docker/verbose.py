"""Verbose status info for ``crictl inspectp``/``inspect``/``inspecti``/``info``: JSON documents
built from the engine's inspect data, under containerd's key ``info``."""

from __future__ import annotations

import json
from typing import Any

import attrs

from kubert_docker.privileged import Privileged
from kubert_docker.settings import DockerConfig
from kubert_docker.status import Record

#: The parts of a container's engine ``Config`` and ``HostConfig`` worth showing: what the
#: process runs as and with, and the namespaces and cgroup it is placed in.
_CONFIG_KEYS = ("Hostname", "User", "Env", "Entrypoint", "Cmd", "WorkingDir", "Image", "Tty",
                "OpenStdin", "StdinOnce", "StopSignal")
_HOST_CONFIG_KEYS = ("NetworkMode", "IpcMode", "PidMode", "UTSMode", "CgroupParent", "Runtime",
                     "Privileged", "ReadonlyRootfs", "CapAdd", "CapDrop", "SecurityOpt",
                     "Binds", "Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpuQuota",
                     "CpuPeriod", "CpusetCpus", "CpusetMems", "OomScoreAdj", "ShmSize",
                     "Sysctls", "MaskedPaths", "ReadonlyPaths", "DeviceCgroupRules")
#: An image config's keys, as the OCI image spec names them too.
_IMAGE_CONFIG_KEYS = ("User", "Env", "Entrypoint", "Cmd", "WorkingDir", "Labels",
                      "ExposedPorts", "Volumes", "StopSignal")


def _subset(source: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    source = source or {}
    return {key: source[key] for key in keys if source.get(key) not in (None, "", [], {})}


def _engine_config(record: Record) -> dict[str, Any]:
    inspect = record.inspect
    state = inspect.get("State") or {}
    return {
        "id": record.id,
        "name": str(inspect.get("Name", "")).lstrip("/"),
        "state": {k: state[k] for k in ("Status", "StartedAt", "FinishedAt", "ExitCode",
                                        "OOMKilled", "Error") if k in state},
        "config": _subset(inspect.get("Config"), _CONFIG_KEYS),
        "hostConfig": _subset(inspect.get("HostConfig"), _HOST_CONFIG_KEYS),
    }


def sandbox_info(record: Record, netns_path: str) -> dict[str, str]:
    """The pause container's pid and netns, the pod's CRI labels and settings, its engine config."""
    meta = record.meta
    info = {
        "pid": record.pid if record.running else 0,
        "netnsPath": netns_path,
        "runtimeHandler": str(meta.extra.get("runtime_handler", "")),
        "image": str((record.inspect.get("Config") or {}).get("Image", "")),
        "metadata": meta.metadata,
        "labels": meta.labels,
        "annotations": meta.annotations,
        "settings": meta.extra,
        "docker": _engine_config(record),
    }
    return {"info": json.dumps(info, sort_keys=True)}


def container_info(record: Record) -> dict[str, str]:
    """The container's pid, sandbox, CRI labels and settings, and its engine config."""
    meta = record.meta
    info = {
        "pid": record.pid if record.running else 0,
        "sandboxID": record.sandbox_id,
        "imageID": record.image_id,
        "logPath": record.log_path,
        "metadata": meta.metadata,
        "labels": meta.labels,
        "annotations": meta.annotations,
        "settings": meta.extra,
        "docker": _engine_config(record),
    }
    return {"info": json.dumps(info, sort_keys=True)}


def image_info(inspect: dict[str, Any]) -> dict[str, str]:
    """The image config (entrypoint, cmd, env, user, labels …) and how it was built."""
    root_fs = inspect.get("RootFS") or {}
    info = {
        "id": inspect.get("Id", ""),
        "imageSpec": {
            "created": inspect.get("Created", ""),
            "author": inspect.get("Author", ""),
            "architecture": inspect.get("Architecture", ""),
            "os": inspect.get("Os", ""),
            "config": _subset(inspect.get("Config"), _IMAGE_CONFIG_KEYS),
            "rootfs": {"type": root_fs.get("Type", ""), "diff_ids": root_fs.get("Layers") or []},
        },
        "size": int(inspect.get("Size") or 0),
        "graphDriver": (inspect.get("GraphDriver") or {}).get("Name", ""),
    }
    return {"info": json.dumps(info, sort_keys=True)}


def runtime_info(
    engine: dict[str, Any], config: DockerConfig, privileged: Privileged | None = None
) -> dict[str, str]:
    """What the engine said at the last (re)connection, this backend's settings, and the form
    privileged pods take on this host (``engine`` or ``bounding-set`` without ``missing``)."""
    keys = ("ServerVersion", "Driver", "CgroupDriver", "CgroupVersion", "DockerRootDir",
            "DefaultRuntime", "KernelVersion", "OperatingSystem", "SecurityOptions",
            "Containers", "Images")
    info = {
        "engine": {key: engine[key] for key in keys if key in engine},
        "runtimes": sorted((engine.get("Runtimes") or {}).keys()),
        "config": attrs.asdict(config),
    }
    if privileged is not None:
        info["privileged"] = {
            "form": "engine" if privileged.native else "bounding-set",
            "missing": [name for name in privileged.missing if name],
        }
    return {"info": json.dumps(info, sort_keys=True)}
