"""Build the CRI configs (PodSandboxConfig, ContainerConfig) from a pod, as the kubelet does."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from kubert.errors import InvalidArgumentError
from kubert.kubelet import envsources, labels, volumes
from kubert.kubelet.edits import pod_shape, shape_text
from kubert.kubelet.envsources import expand
from kubert.kubelet.fieldrefs import resolve_field_ref
from kubert.kubelet.hashing import container_hash, pod_spec_hash
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pod import Container, Pod, PodSecurityContext, SeccompProfile
from kubert.kubelet.qos import memory_capacity, oom_score_adj, pod_cgroup_parent
from kubert.kubelet.resources import container_resources
from kubert.kubelet.settings import KubeletConfig
from kubert.kubelet.subpath import safe_subpath
from kubert.model import (
    Capability,
    ContainerConfig,
    ContainerMetadata,
    DNSConfig,
    ImageSpec,
    KeyValue,
    LinuxContainerConfig,
    LinuxContainerSecurityContext,
    LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext,
    Mount,
    MountPropagation,
    NamespaceMode,
    NamespaceOption,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
    ProfileType,
    Protocol,
    SecurityProfile,
)

_PROPAGATION = {
    "": MountPropagation.PROPAGATION_PRIVATE,
    "None": MountPropagation.PROPAGATION_PRIVATE,
    "HostToContainer": MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": MountPropagation.PROPAGATION_BIDIRECTIONAL,
}


def pod_log_dir(config: KubeletConfig, pod: Pod) -> Path:
    """``<log_root>/<namespace>_<name>_<uid>``, the kubelet's pod log directory."""
    return config.log_root / f"{pod.namespace}_{pod.name}_{pod.uid}"


def container_kind(pod: Pod, container: Container) -> str:
    if container in pod.spec.ephemeral_containers:
        return "ephemeral"
    if container in pod.spec.init_containers:
        return "sidecar" if container.is_sidecar else "init"
    return "regular"


def _namespaces(pod: Pod) -> NamespaceOption:
    return NamespaceOption(
        network=NamespaceMode.NODE if pod.spec.host_network else NamespaceMode.POD,
        pid=NamespaceMode.NODE if pod.spec.host_pid else NamespaceMode.CONTAINER,
        ipc=NamespaceMode.NODE if pod.spec.host_ipc else NamespaceMode.POD,
    )


def _seccomp(profile: SeccompProfile | None, root: Path) -> SecurityProfile | None:
    """The CRI profile; a Localhost profile is a path under the seccomp root, as the
    kubelet's ``<root-dir>/seccomp/<localhostProfile>``, and may not leave it."""
    if profile is None:
        return None
    ref = profile.localhost_profile
    if profile.type == "Localhost":
        if not ref or ref.startswith("/") or ".." in ref.split("/"):
            raise InvalidArgumentError(
                "securityContext.seccompProfile.localhostProfile", ref,
                "must be a relative path under the seccomp root without '..'",
            )
        ref = str(root / ref)
    return SecurityProfile(profile_type=ProfileType[profile.type], localhost_ref=ref)


def dns_config(config: KubeletConfig, pod: Pod) -> DNSConfig | None:
    """The kubelet's pod DNS: host resolv.conf for Default, cluster DNS for ClusterFirst."""
    policy = pod.spec.dns_policy
    if policy == "ClusterFirst" and pod.spec.host_network:
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == "ClusterFirst" and config.cluster_dns:
        servers = list(config.cluster_dns)
        domain = config.cluster_domain
        searches = [f"{pod.namespace}.svc.{domain}", f"svc.{domain}", domain]
        # the host's search domains follow the cluster's, as the kubelet adds them
        host_searches = _read_resolv_conf(config.resolv_conf)[1]
        searches += [s for s in host_searches if s not in searches]
        options = ["ndots:5"]
    elif policy in ("Default", "ClusterFirst"):
        servers, searches, options = _read_resolv_conf(config.resolv_conf)
    extra = pod.spec.dns_config
    if extra is not None:
        servers += [s for s in extra.nameservers if s not in servers]
        searches += [s for s in extra.searches if s not in searches]
        for option in extra.options:
            text = option.name if option.value is None else f"{option.name}:{option.value}"
            options = [o for o in options if o.split(":", 1)[0] != option.name] + [text]
    if not (servers or searches or options):
        return None
    return DNSConfig(
        servers=tuple(servers[:3]), searches=tuple(searches[:32]), options=tuple(options)
    )


def _read_resolv_conf(path: Path) -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return servers, searches, options
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return servers, searches, options


def sandbox_config(
    config: KubeletConfig, pod: Pod, attempt: int, source: str = "apply"
) -> PodSandboxConfig:
    """The PodSandboxConfig the kubelet would send for ``pod``'s sandbox number ``attempt``."""
    sc = pod.spec.security_context
    ports = [
        PortMapping(
            protocol=Protocol[port.protocol],
            container_port=port.container_port,
            host_port=port.host_port,
            host_ip=port.host_ip,
        )
        for container in pod.spec.containers + pod.spec.init_containers
        for port in container.ports
        if port.host_port
    ]
    sandbox_labels = {
        k: v for k, v in pod.metadata.labels.items() if not k.startswith(labels.RESERVED_PREFIXES)
    }
    sandbox_labels.update(
        {labels.POD_NAME: pod.name, labels.POD_NAMESPACE: pod.namespace, labels.POD_UID: pod.uid}
    )
    annotations = dict(pod.metadata.annotations)
    annotations.update(
        {
            labels.POD_SPEC_HASH: pod_spec_hash(pod),
            labels.POD_SPEC: shape_text(pod_shape(pod)),
            labels.CONFIG_SOURCE: source,
            labels.TERMINATION_GRACE: str(pod.spec.termination_grace_period_seconds),
        }
    )
    security = LinuxSandboxSecurityContext(
        namespace_options=_namespaces(pod),
        run_as_user=sc.run_as_user if sc else None,
        run_as_group=sc.run_as_group if sc else None,
        supplemental_groups=sc.supplemental_groups if sc else (),
        seccomp=_seccomp(sc.seccomp_profile, config.seccomp_root) if sc else None,
        # containerd and CRI-O refuse a privileged container in a sandbox that is not
        privileged=any(
            c.security_context and c.security_context.privileged for c in pod.all_containers()
        ),
    )
    hostname = "" if pod.spec.host_network else (pod.spec.hostname or pod.name)[:63]
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(
            name=pod.name, uid=pod.uid, namespace=pod.namespace, attempt=attempt
        ),
        hostname=hostname,
        log_directory=str(pod_log_dir(config, pod)),
        dns_config=dns_config(config, pod),
        port_mappings=tuple(ports),
        labels=sandbox_labels,
        annotations=annotations,
        linux=LinuxPodSandboxConfig(
            cgroup_parent=pod_cgroup_parent(config, pod),
            security_context=security,
            # the model converts with dict(), which mypy cannot see through
            sysctls=_sysctls(sc),  # type: ignore[arg-type]
        ),
    )


def _sysctls(sc: PodSecurityContext | None) -> dict[str, str]:
    return {s.name: s.value for s in (sc.sysctls if sc else ())}


def field_ref_values(pod: Pod, container: Container, pod_ips: Sequence[str]) -> dict[str, str]:
    """The value of every fieldRef ``container``'s env uses, by field path."""
    out: dict[str, str] = {}
    for env in container.env:
        if env.value_from is None or env.value_from.field_ref is None:
            continue
        path = env.value_from.field_ref.field_path
        out[path] = resolve_field_ref(pod, path, pod_ips)
    return out


def container_env(pod: Pod, container: Container, pod_ips: Sequence[str]) -> dict[str, str]:
    """The container's environment without config objects (see :mod:`kubert.kubelet.envsources`
    for ``envFrom`` and ConfigMap / Secret keys)."""
    return envsources.container_env(pod, container, pod_ips, objects=None)


def ensure_volume_dirs(config: KubeletConfig, pod: Pod) -> dict[str, Path]:
    """Make the pod's emptyDir directories and check its hostPaths; the host path per volume."""
    out: dict[str, Path] = {}
    for index, volume in enumerate(pod.spec.volumes):
        if volume.empty_dir is not None:
            path = config.pod_dir(pod.uid) / "volumes" / "kubernetes.io~empty-dir" / volume.name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)
            out[volume.name] = path
        elif volume.host_path is not None:
            path = Path(volume.host_path.path)
            _check_host_path(f"spec.volumes[{index}].hostPath", path, volume.host_path.type)
            out[volume.name] = path
        else:
            out[volume.name] = volumes.setup_volume(config, pod, volume)
    return out


def _check_host_path(where: str, path: Path, kind: str) -> None:
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        return
    if kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        return
    if not kind:
        return
    checks = {
        "Directory": stat.S_ISDIR,
        "File": stat.S_ISREG,
        "Socket": stat.S_ISSOCK,
        "CharDevice": stat.S_ISCHR,
        "BlockDevice": stat.S_ISBLK,
    }
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise InvalidArgumentError(
            f"{where}.path", str(path), f"does not exist (type {kind})"
        ) from None
    if not checks[kind](mode):
        raise InvalidArgumentError(f"{where}.path", str(path), f"is not a {kind}")


def write_etc_hosts(config: KubeletConfig, pod: Pod, pod_ips: Sequence[str]) -> Path:
    """The pod's /etc/hosts: localhost and the pod's hostname on its IPs (with its FQDN when it
    has a subdomain), as the kubelet writes."""
    hostname = (pod.spec.hostname or pod.name)[:63]
    names = hostname
    if pod.spec.subdomain:
        # The pod's FQDN under its headless service first, as the kubelet writes it.
        fqdn = f"{hostname}.{pod.spec.subdomain}.{pod.namespace}.svc.{config.cluster_domain}"
        names = f"{fqdn}\t{hostname}"
    lines = [
        "# Kubernetes-managed hosts file (written by kubert).",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
        *(f"{ip}\t{names}" for ip in pod_ips),
    ]
    path = config.pod_dir(pod.uid) / "etc-hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def container_config(
    config: KubeletConfig,
    pod: Pod,
    container: Container,
    *,
    restart_count: int,
    pod_ips: Sequence[str],
    volume_paths: Mapping[str, Path],
    etc_hosts: Path | None = None,
    target_id: str = "",
) -> ContainerConfig:
    """The ContainerConfig the kubelet would send to start ``container`` (attempt = restarts).

    :raises InvalidArgumentError: a ConfigMap, Secret or key the env needs is missing.
    """
    env = envsources.container_env(pod, container, pod_ips, objects=ObjectStore(config))
    mounts = []
    for mount in container.volume_mounts:
        host = volume_paths[mount.name]
        if mount.sub_path:
            host = safe_subpath(host, mount.sub_path)
        mounts.append(
            Mount(
                container_path=mount.mount_path,
                host_path=str(host),
                readonly=mount.read_only,
                propagation=_PROPAGATION[mount.mount_propagation],
            )
        )
    if etc_hosts is not None and not any(m.container_path == "/etc/hosts" for m in mounts):
        mounts.append(Mount(container_path="/etc/hosts", host_path=str(etc_hosts)))
    sc = container.security_context
    psc = pod.spec.security_context
    namespaces = _namespaces(pod)
    if target_id:
        namespaces = attrs.evolve(namespaces, pid=NamespaceMode.TARGET, target_id=target_id)
    capabilities = None
    if sc is not None and sc.capabilities is not None:
        capabilities = Capability(
            add_capabilities=sc.capabilities.add, drop_capabilities=sc.capabilities.drop
        )
    security = LinuxContainerSecurityContext(
        capabilities=capabilities,
        privileged=bool(sc and sc.privileged),
        namespace_options=namespaces,
        run_as_user=_first(sc.run_as_user if sc else None, psc.run_as_user if psc else None),
        run_as_group=_first(sc.run_as_group if sc else None, psc.run_as_group if psc else None),
        readonly_rootfs=bool(sc and sc.read_only_root_filesystem),
        supplemental_groups=psc.supplemental_groups if psc else (),
        no_new_privs=bool(sc and sc.allow_privilege_escalation is False),
        seccomp=_seccomp(
            (sc and sc.seccomp_profile) or (psc and psc.seccomp_profile) or None,
            config.seccomp_root,
        ),
    )
    resources = attrs.evolve(
        container_resources(container),
        oom_score_adj=oom_score_adj(pod, container, memory_capacity(config)),
    )
    kind = container_kind(pod, container)
    annotations = {
        labels.CONTAINER_HASH: container_hash(container),
        labels.RESTART_COUNT: str(restart_count),
        labels.TERMINATION_GRACE: str(pod.spec.termination_grace_period_seconds),
        labels.CONTAINER_TYPE: kind,
        labels.RESOURCES: json.dumps(attrs.asdict(resources), sort_keys=True),
    }
    refs = field_ref_values(pod, container, pod_ips)
    if refs:
        annotations[labels.FIELD_REFS] = json.dumps(refs, sort_keys=True)
    if container.ports:
        annotations[labels.CONTAINER_PORTS] = json.dumps(
            [{"containerPort": p.container_port, "protocol": p.protocol} for p in container.ports]
        )
    return ContainerConfig(
        metadata=ContainerMetadata(name=container.name, attempt=restart_count),
        image=ImageSpec(image=container.image, user_specified_image=container.image),
        command=tuple(expand(c, env) for c in container.command),
        args=tuple(expand(a, env) for a in container.args),
        working_dir=container.working_dir,
        envs=tuple(KeyValue(key=k, value=v) for k, v in env.items()),
        mounts=tuple(mounts),
        labels={
            labels.CONTAINER_NAME: container.name,
            labels.POD_NAME: pod.name,
            labels.POD_NAMESPACE: pod.namespace,
            labels.POD_UID: pod.uid,
        },
        annotations=annotations,
        log_path=f"{container.name}/{restart_count}.log",
        stdin=container.stdin,
        stdin_once=container.stdin_once,
        tty=container.tty,
        linux=LinuxContainerConfig(resources=resources, security_context=security),
    )


def _first(*values: int | None) -> int | None:
    for value in values:
        if value is not None:
            return value
    return None


def with_image_ref(config: ContainerConfig, image_ref: str) -> ContainerConfig:
    """``config`` created from the image the pull resolved (its ID / digest), the name the
    user wrote kept as ``user_specified_image``, as the kubelet's startContainer does."""
    if not image_ref:
        return config
    image = attrs.evolve(config.image, image=image_ref)
    return attrs.evolve(config, image=image)
