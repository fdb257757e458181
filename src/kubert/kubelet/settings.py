"""Settings of the kubelet side, with the kubelet's defaults where it has one."""

from __future__ import annotations

from pathlib import Path

from attrs import field, frozen
from attrs.converters import optional
from attrs.validators import in_


@frozen(kw_only=True)
class KubeletConfig:
    """How pods are run: where their files go, DNS, image pulls, timing.

    :ivar root_dir: pod directories (``pods/<uid>``: emptyDir volumes, /etc/hosts, the
        applied manifest); the kubelet's ``--root-dir``.
    :ivar log_root: pod log directories (``<namespace>_<name>_<uid>``) are made under it.
    :ivar cluster_dns: nameservers for ``dnsPolicy: ClusterFirst``; empty means the host's
        resolv.conf is used, as the kubelet does when no cluster DNS is configured.
    :ivar serialize_image_pulls: pull one image at a time (the kubelet's default).
    :ivar max_parallel_image_pulls: with parallel pulls, how many at once (0 = no limit).
    :ivar registry_pull_qps: pulls per second allowed (0 = no limit); excess pulls fail at once
        and are retried after image backoff, as in the kubelet.
    :ivar registry_burst: pulls allowed in a burst above the rate.
    :ivar min_grace_period: the shortest grace period a container is stopped with (seconds).
    :ivar container_log_dir: where the ``<pod>_<namespace>_<container>-<id>.log`` links for log
        agents go; None means ``containers`` beside ``log_root`` (``/var/log/containers`` for
        the default ``/var/log/pods``, the kubelet's).
    :ivar container_log_max_size: a running container's log is rotated above this many bytes
        (the kubelet's containerLogMaxSize, 10Mi).
    :ivar container_log_max_files: at most this many log files per container, the current one
        included (containerLogMaxFiles).
    :ivar cgroups_per_qos: put each pod under a cgroup parent of its QoS class (the
        kubelet's ``--cgroups-per-qos``, default on); ``cgroup_root`` is where ``kubepods``
        goes, ``cgroup_driver`` (cgroupfs or systemd) how the parent is spelled; it must match
        the runtime's driver.
    :ivar seccomp_root_dir: where Localhost seccomp profiles resolve (default
        ``<root_dir>/seccomp``).
    :ivar memory_capacity: the node's memory in bytes for oom_score_adj (0: /proc/meminfo).
    :ivar expect_pod_ip: whether a sandbox without an IP is broken and re-made (the kubelet's
        rule). None: yes, until a sandbox this process made comes back without one, which
        means the runtime's network gives none (``--network-plugin noop``).
    """

    root_dir: Path = field(default=Path("/var/lib/kubert/kubelet"), converter=Path)
    log_root: Path = field(default=Path("/var/log/pods"), converter=Path)
    cluster_dns: tuple[str, ...] = field(default=(), converter=tuple)
    cluster_domain: str = "cluster.local"
    resolv_conf: Path = field(default=Path("/etc/resolv.conf"), converter=Path)
    serialize_image_pulls: bool = True
    max_parallel_image_pulls: int = 0
    registry_pull_qps: float = 5.0
    registry_burst: int = 10
    min_grace_period: int = 2
    runtime_handler: str = ""
    expect_pod_ip: bool | None = None
    container_log_dir: Path | None = field(default=None, converter=optional(Path))
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    cgroups_per_qos: bool = True
    cgroup_root: str = "/"
    cgroup_driver: str = field(default="cgroupfs", validator=in_(("cgroupfs", "systemd")))
    memory_capacity: int = 0
    seccomp_root_dir: Path | None = field(default=None)

    @property
    def seccomp_root(self) -> Path:
        """Where Localhost seccomp profiles are (the kubelet's ``<root-dir>/seccomp``)."""
        return Path(self.seccomp_root_dir) if self.seccomp_root_dir else self.root_dir / "seccomp"

    def pod_dir(self, uid: str) -> Path:
        return self.root_dir / "pods" / uid

    @property
    def log_links_dir(self) -> Path:
        """The directory of the log agents' links (see ``container_log_dir``)."""
        return self.container_log_dir or self.log_root.parent / "containers"
