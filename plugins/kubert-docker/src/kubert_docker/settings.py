"""The docker backend's settings: the ``kubert serve`` flags it adds and their parsed form."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from kubert import InvalidArgumentError, ServeOption
from kubert_docker.privileged import MODES as PRIVILEGED_MODES

BACKEND = "docker"

SWAP_MODES = ("disabled", "unlimited", "limited")
OOM_RESTRICT_MODES = ("auto", "true", "false")
_SIZE_RE = re.compile(r"[1-9][0-9]*[kmg]?")


def serve_options() -> list[ServeOption]:
    """The flags of ``kubert serve`` that land in the ``docker`` backend's options."""

    def opt(flag: str, key: str, help: str, **kw: Any) -> ServeOption:
        return ServeOption(flag=flag, backend=BACKEND, key=key, help=help, **kw)

    return [
        opt("--docker-endpoint", "endpoint", "docker engine endpoint (unix:// or tcp://)",
            envvar="DOCKER_HOST"),
        opt("--cgroup-driver", "cgroup-driver",
            "cgroupfs or systemd; must match the engine's (empty: take the engine's)",
            default=""),
        opt("--runtime-cgroups", "runtime-cgroups",
            "cgroup to report as the runtime's (informational, as cri-dockerd)", default=""),
        opt("--image-pull-progress-deadline", "image-pull-progress-deadline",
            "cancel a pull that shows no progress for this many seconds", type="int",
            default=60),
        opt("--runtime-request-timeout", "runtime-request-timeout",
            "seconds one engine API call may take before it is cancelled (0: 120, as "
            "cri-dockerd)", type="float", default=120.0),
        opt("--registry-mirror", "registry-mirrors",
            "REGISTRY=MIRROR (or MIRROR for docker.io): pull through a mirror first; repeatable",
            type="list", default=[]),
        opt("--restrict-oom-score-adj", "restrict-oom-score-adj",
            "auto, true or false: clamp oom_score_adj to what the host lets runc set",
            default="auto"),
        opt("--privileged-mode", "privileged-mode",
            "auto, engine or bounding-set: how privileged pods are asked of the engine "
            "(auto: spelled out from the capability bounding set when it lacks one)",
            default="auto"),
        opt("--default-cpuset-cpus", "default-cpuset-cpus",
            "cpuset.cpus for containers that do not set one", default=""),
        opt("--default-cpuset-mems", "default-cpuset-mems",
            "cpuset.mems for containers that do not set one", default=""),
        opt("--memory-swap", "memory-swap",
            "disabled (swap = memory limit), unlimited, or limited (the CRI's swap limit)",
            default="disabled"),
        opt("--docker-state-resync", "resync-period",
            "seconds between full re-reads of the engine behind the event-fed state view",
            type="float", default=60.0),
        opt("--exec-output-limit", "exec-output-limit",
            "bytes of ExecSync output kept per stream", type="int", default=16 * 1024 * 1024),
        opt("--docker-runtime-handler", "runtime-handlers",
            "HANDLER=RUNTIME: serve CRI runtime handler HANDLER with docker runtime RUNTIME; "
            "repeatable (an unlisted handler is the docker runtime of the same name)",
            type="list", default=[]),
        opt("--docker-log-max-size", "log-max-size",
            "size at which the engine rotates a container's json-file log (e.g. 50m); kubert "
            "copies it to the CRI file, and lines are lost only if kubert falls behind by more "
            "than the rotated files hold", default="50m"),
        opt("--docker-log-max-files", "log-max-files",
            "json-file logs the engine keeps per container (at least 2): the disk the engine "
            "keeps besides the CRI file is at most this times the max size", type="int",
            default=2),
    ]


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).lower()
    if text not in choices:
        raise InvalidArgumentError(
            f"docker.{key.replace('_', '-')}", value, f"must be one of {', '.join(choices)}"
        )
    return text


def _mirrors(value: Any) -> dict[str, str]:
    items = value.split(",") if isinstance(value, str) else list(value or ())
    mirrors: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        registry, sep, mirror = item.partition("=")
        if not sep:
            registry, mirror = "docker.io", registry
        if not mirror or "/" in registry:
            raise InvalidArgumentError(
                "docker.registry-mirrors", item, "must be REGISTRY=MIRROR or MIRROR"
            )
        mirrors[registry.strip()] = mirror.strip().removeprefix("http://").removeprefix(
            "https://").rstrip("/")
    return mirrors


@frozen(kw_only=True)
class DockerConfig:
    """Parsed backend options; see :func:`serve_options` for their meaning."""

    endpoint: str = ""
    cgroup_driver: str = ""
    runtime_cgroups: str = ""
    image_pull_progress_deadline: int = 60
    #: seconds one ordinary engine API call may take (0 means the default, 120).
    runtime_request_timeout: float = 120.0
    registry_mirrors: dict[str, str] = field(factory=dict)
    restrict_oom_score_adj: str = "auto"
    privileged_mode: str = "auto"
    default_cpuset_cpus: str = ""
    default_cpuset_mems: str = ""
    memory_swap: str = "disabled"
    resync_period: float = 60.0
    exec_output_limit: int = 16 * 1024 * 1024
    #: CRI runtime handler -> docker runtime name; unlisted handlers map to themselves.
    runtime_handlers: dict[str, str] = field(factory=dict)
    log_max_size: str = "50m"
    log_max_files: int = 2

    def engine_log_config(self) -> dict[str, Any]:
        """The ``LogConfig`` of a container: json-file, which kubert reads from disk.

        Every option kubert depends on is spelled out, since the engine fills the missing
        ones from the daemon's ``log-opts``: ``mode`` non-blocking would let the engine drop
        lines, ``compress`` would turn rotated files into ones kubert does not read."""
        return {"Type": "json-file", "Config": {
            "max-size": self.log_max_size, "max-file": str(self.log_max_files),
            "compress": "false", "mode": "blocking",
        }}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DockerConfig:
        """Parse backend options; keys as the config file spells them (``cgroup-driver``),
        or with underscores as Python callers may."""
        given = {key.replace("_", "-"): value for key, value in options.items()}

        def get(key: str, default: Any) -> Any:
            value = given.get(key.replace("_", "-"))
            return default if value is None else value

        driver = str(get("cgroup_driver", "")).lower()
        if driver not in ("", "cgroupfs", "systemd"):
            raise InvalidArgumentError("docker.cgroup-driver", driver,
                                       "must be cgroupfs or systemd")
        handlers = get("runtime_handlers", {})
        if isinstance(handlers, str):
            handlers = handlers.split(",")
        if isinstance(handlers, (list, tuple)):
            pairs = [item.strip() for item in handlers if item.strip()]
            for item in pairs:
                if "=" not in item:
                    raise InvalidArgumentError("docker.runtime-handlers", item,
                                               "must be HANDLER=RUNTIME")
            handlers = dict(item.split("=", 1) for item in pairs)
        return cls(
            endpoint=str(get("endpoint", "") or os.environ.get("DOCKER_HOST", "")),
            cgroup_driver=driver,
            runtime_cgroups=str(get("runtime_cgroups", "")),
            image_pull_progress_deadline=int(get("image_pull_progress_deadline", 60)),
            runtime_request_timeout=float(get("runtime_request_timeout", 120.0)) or 120.0,
            registry_mirrors=_mirrors(get("registry_mirrors", [])),
            restrict_oom_score_adj=_choice(
                "restrict_oom_score_adj", get("restrict_oom_score_adj", "auto"),
                OOM_RESTRICT_MODES,
            ),
            privileged_mode=_choice(
                "privileged_mode", get("privileged_mode", "auto"), PRIVILEGED_MODES
            ),
            default_cpuset_cpus=str(get("default_cpuset_cpus", "")),
            default_cpuset_mems=str(get("default_cpuset_mems", "")),
            memory_swap=_choice("memory_swap", get("memory_swap", "disabled"), SWAP_MODES),
            resync_period=float(get("resync_period", 60.0)),
            exec_output_limit=int(get("exec_output_limit", 16 * 1024 * 1024)),
            runtime_handlers=dict(handlers),
            log_max_size=_log_max_size(get("log_max_size", "50m")),
            log_max_files=_log_max_files(get("log_max_files", 2)),
        )


def _log_max_size(value: Any) -> str:
    text = str(value).strip().lower()
    if not _SIZE_RE.fullmatch(text):
        raise InvalidArgumentError("docker.log-max-size", value,
                                   "must be a size such as 50m, 512k or 1g")
    return text


def _log_max_files(value: Any) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 2:
        # With one file the engine truncates in place, and a reader cannot tell what it lost.
        raise InvalidArgumentError("docker.log-max-files", value, "must be an integer >= 2")
    return count
