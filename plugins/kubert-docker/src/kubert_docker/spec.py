"""CRI configs to engine create bodies: the pause (sandbox) container and app containers.

The bodies are the engine API's JSON (``POST /containers/create``), built directly rather than
through the SDK's helpers so that fields such as ``MaskedPaths`` pass through unchanged.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from kubert import (
    ContainerConfig,
    InvalidArgumentError,
    LinuxContainerResources,
    MountPropagation,
    NamespaceMode,
    NamespaceOption,
    PodSandboxConfig,
    PortMapping,
    SecurityProfile,
)
from kubert_docker import naming, security
from kubert_docker.oom import clamp
from kubert_docker.privileged import Privileged, host_config
from kubert_docker.settings import DockerConfig

#: dockershim's sandbox settings: the pause container is the last thing the OOM killer takes
#: and gets the smallest CPU weight.
SANDBOX_OOM_SCORE_ADJ = -998
SANDBOX_CPU_SHARES = 2

_PROPAGATION = {
    MountPropagation.PROPAGATION_PRIVATE: "rprivate",
    MountPropagation.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    MountPropagation.PROPAGATION_BIDIRECTIONAL: "rshared",
}


@frozen(kw_only=True)
class HostFacts:
    """What the engine and host allow, detected once by the backend."""

    oom_floor: int | None = None
    apparmor: bool = False
    runtimes: frozenset[str] = frozenset()
    privileged: Privileged = Privileged()


def _profiles(
    seccomp: SecurityProfile | None,
    apparmor: SecurityProfile | None,
    facts: HostFacts,
    privileged: bool,
) -> list[str]:
    """``SecurityOpt`` for the seccomp and AppArmor profiles; none for a privileged request,
    whose profiles are ignored (not even read or checked), as under containerd."""
    if privileged:
        return []
    return [
        *security.seccomp_options(seccomp, "linux.security_context.seccomp"),
        *security.apparmor_options(apparmor, "linux.security_context.apparmor", facts.apparmor),
    ]


def _privileged(
    host: dict[str, Any], facts: HostFacts, keep: list[str], sysfs: str = ""
) -> None:
    """Make ``host`` privileged in place: the form :mod:`kubert_docker.privileged` chose.

    What privileged overrides goes (capabilities, seccomp and AppArmor profiles, masked and
    read-only paths), as under containerd; ``keep`` are security options that still apply.
    """
    for key in ("CapAdd", "CapDrop", "MaskedPaths", "ReadonlyPaths"):
        host.pop(key, None)
    fields = host_config(
        facts.privileged, facts.apparmor, host.get("Binds", []), host.get("Devices", []),
        sysfs,
    )
    fields["SecurityOpt"] = [*fields.get("SecurityOpt", ()), *keep]
    host.update(fields)


def runtime_for(handler: str, config: DockerConfig, facts: HostFacts) -> str:
    """The docker runtime behind a CRI runtime handler ("" = the engine's default)."""
    if not handler:
        return ""
    runtime = config.runtime_handlers.get(handler, handler)
    if facts.runtimes and runtime not in facts.runtimes:
        raise InvalidArgumentError(
            "runtime_handler", handler,
            f"the engine has no runtime {runtime!r}; it has {', '.join(sorted(facts.runtimes))}",
        )
    return runtime


def port_mappings_extra(ports: tuple[PortMapping, ...]) -> list[dict[str, Any]]:
    return [
        {"protocol": int(p.protocol), "container_port": p.container_port,
         "host_port": p.host_port, "host_ip": p.host_ip}
        for p in ports
    ]


def sandbox_body(
    config: PodSandboxConfig,
    image: str,
    runtime_handler: str,
    cfg: DockerConfig,
    facts: HostFacts,
) -> tuple[str, dict[str, Any], naming.Meta]:
    """(name, create body, meta) of the pause container of ``config``."""
    md = config.metadata
    ns = config.namespace_options
    sc = config.linux.security_context
    if ns.network == NamespaceMode.CONTAINER or ns.ipc == NamespaceMode.CONTAINER:
        raise InvalidArgumentError(
            "linux.security_context.namespace_options", ns,
            "a sandbox shares its network and IPC namespaces with the POD or the NODE only",
        )
    host_network = ns.network == NamespaceMode.NODE
    meta = naming.Meta(
        kind=naming.TYPE_SANDBOX,
        metadata={"name": md.name, "namespace": md.namespace, "uid": md.uid,
                  "attempt": md.attempt},
        labels=dict(config.labels),
        annotations=dict(config.annotations),
        extra={
            "namespace_options": _ns_dict(ns),
            "port_mappings": port_mappings_extra(config.port_mappings),
            "runtime_handler": runtime_handler,
            "log_directory": config.log_directory,
            "cgroup_parent": config.linux.cgroup_parent,
            "hostname": config.hostname,
        },
    )
    resources = config.linux.resources
    oom = resources.oom_score_adj if resources and resources.oom_score_adj else (
        SANDBOX_OOM_SCORE_ADJ
    )
    host: dict[str, Any] = {
        "NetworkMode": "host" if host_network else "none",
        "IpcMode": "host" if ns.ipc == NamespaceMode.NODE else "shareable",
        "PidMode": "host" if ns.pid == NamespaceMode.NODE else "",
        "UTSMode": "host" if host_network else "",
        "CgroupParent": config.linux.cgroup_parent,
        "CpuShares": SANDBOX_CPU_SHARES,
        "OomScoreAdj": clamp(oom, facts.oom_floor),
        "Sysctls": host_sysctls(config.linux.sysctls),
        "Privileged": False,
        "ReadonlyRootfs": sc.readonly_rootfs,
        "GroupAdd": [str(g) for g in sc.supplemental_groups],
        "SecurityOpt": _profiles(sc.seccomp, sc.apparmor, facts, sc.privileged),
        "LogConfig": {"Type": "none"},
        "RestartPolicy": {"Name": "no"},
    }
    if sc.privileged:
        _privileged(host, facts, [])
    runtime = runtime_for(runtime_handler, cfg, facts)
    if runtime:
        host["Runtime"] = runtime
    if config.dns_config is not None and not host_network:
        host["Dns"] = list(config.dns_config.servers)
        host["DnsSearch"] = list(config.dns_config.searches)
        host["DnsOptions"] = list(config.dns_config.options)
    body: dict[str, Any] = {
        "Image": image,
        "Labels": naming.engine_labels(meta),
        "HostConfig": host,
    }
    # Like the kubelet, fall back to the pod's name when it is a valid hostname length.
    hostname = config.hostname or (md.name if len(md.name) <= 63 else "")
    if hostname and not host_network:
        body["Hostname"] = hostname
    if not host_network:
        # No engine network sandbox: runc makes the netns (loopback up) and kubert writes the
        # pod's resolv.conf and hosts (kubert_docker.podfiles); the engine's sandbox for
        # --network none is most of what starting and stopping the pause container costs.
        body["NetworkDisabled"] = True
    user = security.user_string(sc.run_as_user, sc.run_as_group, "", "")
    if user:
        body["User"] = user
    name = naming.sandbox_name(md.name, md.namespace, md.uid, md.attempt)
    return name, body, meta


def host_sysctls(sysctls: dict[str, str], proc_sys: Path = Path("/proc/sys")) -> dict[str, str]:
    """The pod's sysctls, each checked to exist in this host's kernel.

    The core already allows only namespaced sysctls; one the kernel lacks would otherwise fail
    deep inside runc at start, after the sandbox was created, with an opaque engine error.
    """
    for key in sysctls:
        relative = key if "/" in key else key.replace(".", "/")
        if not (proc_sys / relative).exists():
            raise InvalidArgumentError(
                f"linux.sysctls[{key!r}]", key, "this host's kernel has no such sysctl"
            )
    return dict(sysctls)


def _ns_dict(ns: NamespaceOption) -> dict[str, Any]:
    return {"network": int(ns.network), "pid": int(ns.pid), "ipc": int(ns.ipc),
            "target_id": ns.target_id}


def ns_from_dict(data: dict[str, Any] | None) -> NamespaceOption:
    data = data or {}
    return NamespaceOption(
        network=data.get("network", 0), pid=data.get("pid", 0), ipc=data.get("ipc", 0),
        target_id=data.get("target_id", ""),
    )


def resources_body(
    res: LinuxContainerResources | None, cfg: DockerConfig, facts: HostFacts, *, create: bool
) -> dict[str, Any]:
    """cgroup settings in docker's form; node-wide defaults fill what the pod leaves unset."""
    body: dict[str, Any] = {}
    res = res or LinuxContainerResources()
    if res.cpu_shares:
        body["CpuShares"] = res.cpu_shares
    if res.cpu_quota:
        body["CpuQuota"] = res.cpu_quota
    if res.cpu_period:
        body["CpuPeriod"] = res.cpu_period
    cpus = res.cpuset_cpus or cfg.default_cpuset_cpus
    mems = res.cpuset_mems or cfg.default_cpuset_mems
    if cpus:
        body["CpusetCpus"] = cpus
    if mems:
        body["CpusetMems"] = mems
    if res.memory_limit_in_bytes:
        body["Memory"] = res.memory_limit_in_bytes
        if cfg.memory_swap == "unlimited":
            body["MemorySwap"] = -1
        elif cfg.memory_swap == "limited" and res.memory_swap_limit_in_bytes:
            body["MemorySwap"] = res.memory_swap_limit_in_bytes
        else:
            body["MemorySwap"] = res.memory_limit_in_bytes
    if res.hugepage_limits:
        raise InvalidArgumentError(
            "linux.resources.hugepage_limits", [h.page_size for h in res.hugepage_limits],
            "the docker engine cannot limit hugepages",
        )
    if res.unified:
        raise InvalidArgumentError(
            "linux.resources.unified", sorted(res.unified),
            "the docker engine (API 1.41) cannot set cgroup v2 unified keys",
        )
    if create and res.oom_score_adj:
        body["OomScoreAdj"] = clamp(res.oom_score_adj, facts.oom_floor)
    return body


def _binds(config: ContainerConfig) -> list[str]:
    binds = []
    for index, mount in enumerate(config.mounts):
        paths = (("host_path", mount.host_path), ("container_path", mount.container_path))
        for field, path in paths:
            if ":" in path or "," in path:
                raise InvalidArgumentError(
                    f"mounts[{index}].{field}", path,
                    "the docker engine cannot bind paths containing ':' or ','",
                )
        if not mount.host_path:
            raise InvalidArgumentError(
                f"mounts[{index}].host_path", mount.host_path, "must name a host path"
            )
        if mount.recursive_read_only:
            _refuse_recursive_read_only(index, mount.readonly, mount.propagation)
        attrs = ["ro"] if mount.readonly else []
        if mount.selinux_relabel:
            attrs.append("Z")
        attrs.append(_PROPAGATION[mount.propagation])
        binds.append(f"{mount.host_path}:{mount.container_path}:{','.join(attrs)}")
    return binds


def _refuse_recursive_read_only(
    index: int, readonly: bool, propagation: MountPropagation
) -> None:
    """Refuse a recursive read-only mount, saying why: the CRI's own preconditions first
    (readonly, private propagation, as containerd checks them), then the engine's limit.

    Docker 20.10 (API 1.41) binds read-only mounts with one ``MS_RDONLY`` remount, which does
    not reach submounts; the engine offers nothing recursive, so no runtime handler advertises
    ``recursive_read_only_mounts``.
    """
    field = f"mounts[{index}].recursive_read_only"
    if not readonly:
        raise InvalidArgumentError(field, True, "the mount must also be readonly")
    if propagation != MountPropagation.PROPAGATION_PRIVATE:
        raise InvalidArgumentError(
            field, True,
            f"needs propagation PROPAGATION_PRIVATE, not {MountPropagation(propagation).name}",
        )
    raise InvalidArgumentError(
        field, True, "the docker engine (API 1.41) has no recursive read-only mounts"
    )


def _pid_mode(ns: NamespaceOption, sandbox_id: str) -> str:
    if ns.pid == NamespaceMode.NODE:
        return "host"
    if ns.pid == NamespaceMode.POD:
        return f"container:{sandbox_id}"
    if ns.pid == NamespaceMode.TARGET:
        if not ns.target_id:
            raise InvalidArgumentError(
                "linux.security_context.namespace_options.target_id", "",
                "must name the container whose PID namespace is the TARGET",
            )
        return f"container:{ns.target_id}"
    return ""


def container_body(
    sandbox_id: str,
    sandbox_ns: NamespaceOption,
    config: ContainerConfig,
    sandbox_config: PodSandboxConfig,
    cfg: DockerConfig,
    facts: HostFacts,
    runtime: str,
    sysfs: str = "",
    pod_binds: Sequence[str] = (),
) -> tuple[str, dict[str, Any], naming.Meta]:
    """(name, create body, meta) of an app container joining sandbox ``sandbox_id``;
    ``sysfs`` is the pod's own sysfs for a privileged container (see :func:`_privileged`),
    ``pod_binds`` are the pod's own files (:mod:`kubert_docker.podfiles`)."""
    md = config.metadata
    pod = sandbox_config.metadata
    sc = config.linux.security_context
    security.check_groups_policy(sc.supplemental_groups_policy)
    log_path = (
        posixpath.join(sandbox_config.log_directory, config.log_path)
        if sandbox_config.log_directory and config.log_path
        else ""
    )
    meta = naming.Meta(
        kind=naming.TYPE_CONTAINER,
        metadata={"name": md.name, "attempt": md.attempt},
        labels=dict(config.labels),
        annotations=dict(config.annotations),
        extra={
            "image": config.image.image,
            "user_specified_image": config.image.user_specified_image,
            "log_path": log_path,
            "mounts": [
                {"container_path": m.container_path, "host_path": m.host_path,
                 "readonly": m.readonly, "selinux_relabel": m.selinux_relabel,
                 "propagation": int(m.propagation)}
                for m in config.mounts
            ],
        },
    )
    host_network = sandbox_ns.network == NamespaceMode.NODE
    host: dict[str, Any] = {
        "Binds": [*_binds(config), *pod_binds],
        "NetworkMode": "host" if host_network else f"container:{sandbox_id}",
        "IpcMode": "host" if sandbox_ns.ipc == NamespaceMode.NODE else f"container:{sandbox_id}",
        "PidMode": _pid_mode(sc.namespace_options, sandbox_id),
        "UTSMode": "host" if host_network else "",
        "CgroupParent": sandbox_config.linux.cgroup_parent,
        "Devices": [
            {"PathOnHost": d.host_path, "PathInContainer": d.container_path,
             "CgroupPermissions": d.permissions}
            for d in config.devices
        ],
        "Privileged": False,
        "ReadonlyRootfs": sc.readonly_rootfs,
        "GroupAdd": [str(g) for g in sc.supplemental_groups],
        "SecurityOpt": [
            *_profiles(sc.seccomp, sc.apparmor, facts, sc.privileged),
            *(["no-new-privileges"] if sc.no_new_privs else []),
        ],
        "LogConfig": cfg.engine_log_config(),
        "RestartPolicy": {"Name": "no"},
        **security.capabilities(sc.capabilities, facts.privileged.missing),
        **resources_body(config.linux.resources, cfg, facts, create=True),
    }
    if sc.masked_paths:
        host["MaskedPaths"] = list(sc.masked_paths)
    if sc.readonly_paths:
        host["ReadonlyPaths"] = list(sc.readonly_paths)
    if sc.privileged:
        _privileged(host, facts, ["no-new-privileges"] if sc.no_new_privs else [], sysfs)
    if runtime:
        host["Runtime"] = runtime
    body: dict[str, Any] = {
        "Image": config.image.image,
        "Env": [f"{kv.key}={kv.value}" for kv in config.envs],
        "Labels": naming.engine_labels(meta, sandbox_id=sandbox_id, log_path=log_path),
        "Tty": config.tty,
        "OpenStdin": config.stdin,
        "StdinOnce": config.stdin_once,
        "HostConfig": host,
    }
    # The CRI's command replaces the image's entrypoint (and with it the image's cmd); args
    # alone replace only the cmd.
    if config.command:
        body["Entrypoint"] = list(config.command)
    if config.args:
        body["Cmd"] = list(config.args)
    if config.working_dir:
        body["WorkingDir"] = config.working_dir
    # A group without a user never reaches here: the model refuses it (the CRI's rule), so
    # the image's own user need not be looked up.
    user = security.user_string(sc.run_as_user, sc.run_as_group, sc.run_as_username, "")
    if user:
        body["User"] = user
    name = naming.container_name(md.name, pod.name, pod.namespace, pod.uid, md.attempt)
    return name, body, meta
