"""Privileged pods, ALL capabilities, mount propagation, read-only mounts and the OOM killer on
the real engine — on this host too, whose capability bounding set lacks CAP_SYS_RESOURCE (where
the engine's own ``--privileged`` fails in runc). Nothing here is skipped for the host."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert_docker.privileged import CAPABILITIES, Privileged, detect, host_config
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker

CAP_SYS_ADMIN = 21
#: The capabilities every engine kubert supports can name (through CAP_AUDIT_READ).
ENGINE_KNOWN = (1 << 38) - 1


def _host_bounding_set() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapBnd")


def _field(pods: Any, cid: str, name: str) -> str:
    return str(pods.status_field(cid, name))


def _privileged_pod(pods: Any) -> str:
    return pods.sandbox(
        linux=kubert.LinuxPodSandboxConfig(
            security_context=kubert.LinuxSandboxSecurityContext(privileged=True)
        )
    )


def _linux(**security: Any) -> kubert.LinuxContainerConfig:
    return kubert.LinuxContainerConfig(
        security_context=kubert.LinuxContainerSecurityContext(**security)
    )


# ---- detection ----------------------------------------------------------------------------


def _fake_proc(tmp_path: Path, bounding: int, last: int = 40) -> Path:
    (tmp_path / "self").mkdir(parents=True)
    (tmp_path / "sys/kernel").mkdir(parents=True)
    (tmp_path / "self/status").write_text(f"Name:\tx\nCapBnd:\t{bounding:016x}\n")
    (tmp_path / "sys/kernel/cap_last_cap").write_text(f"{last}\n")
    return tmp_path


def test_detection_follows_the_bounding_set(tmp_path: Path) -> None:
    full = (1 << 41) - 1
    lacking = _fake_proc(tmp_path / "a", full & ~(1 << 24))
    assert detect("auto", lacking).missing == ("CAP_SYS_RESOURCE",)
    assert detect("engine", lacking).native
    assert detect("auto", _fake_proc(tmp_path / "b", full)).native
    forced = detect("bounding-set", _fake_proc(tmp_path / "c", full))
    assert not forced.native and host_config(forced, False, [], [])["CapDrop"] == []
    # Capabilities past the kernel's last one are not "missing".
    assert detect("auto", _fake_proc(tmp_path / "d", (1 << 38) - 1, last=37)).native


def test_this_host_is_detected(runtime: Any) -> None:
    bounding = _host_bounding_set()
    expected = tuple(
        f"CAP_{name}"
        for bit, name in enumerate(CAPABILITIES)
        if bit <= int(Path("/proc/sys/kernel/cap_last_cap").read_text()) and not bounding >> bit & 1
    )
    assert runtime.privileged.missing == (expected or runtime.privileged.missing)
    assert runtime.privileged.native == (not expected)


def test_privileged_mode_is_a_validated_setting() -> None:
    from kubert_docker.settings import DockerConfig, serve_options

    assert "--privileged-mode" in {o.flag for o in serve_options()}
    assert DockerConfig.from_options({"privileged-mode": "engine"}).privileged_mode == "engine"
    with pytest.raises(kubert.InvalidArgumentError, match="privileged-mode"):
        DockerConfig.from_options({"privileged-mode": "maybe"})


# ---- what privileged means inside ---------------------------------------------------------


def test_privileged_pod_creates_a_network_link_in_its_namespace(pods: Any) -> None:
    sandbox_id = _privileged_pod(pods)
    admin = pods.container(sandbox_id, "sleep", "60", name="admin", linux=_linux(privileged=True))
    watcher = pods.container(sandbox_id, "sleep", "60", name="watcher")
    # (busybox's ip names the peer veth0 itself; it has no "peer name").
    pods.exec(admin, "ip link add kv0 type veth && ip link set kv0 up")
    # The link is in the pod's network namespace: its unprivileged sibling sees it, the host not.
    seen = pods.exec(watcher, "ip -o link show")
    assert "kv0@" in seen, seen
    assert not Path("/sys/class/net/kv0").exists()
    # The privileged container's /sys is its pod's: the pod's interfaces, writable.
    assert set(pods.exec(admin, "ls /sys/class/net").split()) == {"lo", "kv0", "veth0"}
    pods.exec(admin, "echo 1400 > /sys/class/net/kv0/mtu")
    assert "mtu 1400" in pods.exec(watcher, "ip link show kv0")
    mount = pods.runtime.sysfs.directory / sandbox_id
    assert str(mount) in Path("/proc/self/mountinfo").read_text()
    pods.runtime.remove_sandbox(sandbox_id)
    assert str(mount) not in Path("/proc/self/mountinfo").read_text()


def test_privileged_container_has_what_containerd_gives(pods: Any) -> None:
    sandbox_id = _privileged_pod(pods)
    cid = pods.container(
        sandbox_id,
        "sleep",
        "60",
        linux=_linux(privileged=True, masked_paths=("/proc/kcore",), readonly_paths=("/proc/sys",)),
    )
    effective = int(_field(pods, cid, "CapEff"), 16)
    bounding = _host_bounding_set()
    # Every capability of the host's bounding set that the engine can name, and nothing else.
    assert effective & ~bounding == 0
    assert bounding & ENGINE_KNOWN & ~effective == 0
    assert _field(pods, cid, "Seccomp") == "0"
    mounts = pods.exec(cid, "cat /proc/self/mountinfo").splitlines()
    by_target = {line.split()[4]: line.split()[5].split(",") for line in mounts}
    # No masked or read-only paths, even those the request named (privileged overrides them).
    assert not [t for t in by_target if t.startswith("/proc/")]
    # sysfs and the cgroup hierarchies are writable.
    assert "rw" in by_target["/sys"]
    cgroups = [t for t in by_target if t.startswith("/sys/fs/cgroup/")]
    assert cgroups and all("rw" in by_target[t] for t in cgroups)
    pods.exec(cid, "echo 1 > /sys/kernel/mm/ksm/run || test ! -e /sys/kernel/mm/ksm/run")
    # The host's devices are there (every character device at the top of the host's /dev).
    host_chars = {
        p.name
        for p in Path("/dev").iterdir()
        if p.is_char_device() and p.name not in ("console", "ptmx", "tty")
    }
    inside = set(pods.exec(cid, "ls /dev").split())
    assert host_chars <= inside, host_chars - inside
    plain = pods.container(sandbox_id, "sleep", "60", name="plain")
    assert not int(_field(pods, plain, "CapEff"), 16) >> CAP_SYS_ADMIN & 1


def test_seccomp_profile_is_ignored_when_privileged(pods: Any, tmp_path: Path) -> None:
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
            }
        )
    )
    sandbox_id = _privileged_pod(pods)
    for index, seccomp in enumerate(
        (
            kubert.SecurityProfile(
                profile_type=kubert.ProfileType.Localhost, localhost_ref=str(profile)
            ),
            kubert.SecurityProfile(profile_type=kubert.ProfileType.RuntimeDefault),
            # Not even read: a privileged container's profile is ignored.
            kubert.SecurityProfile(
                profile_type=kubert.ProfileType.Localhost, localhost_ref="/no/such.json"
            ),
        )
    ):
        cid = pods.container(
            sandbox_id,
            "sleep",
            "60",
            name=f"s{index}",
            linux=_linux(privileged=True, seccomp=seccomp),
        )
        assert _field(pods, cid, "Seccomp") == "0"
        pods.exec(cid, "mkdir /tmp/made")


def test_adding_all_capabilities(pods: Any) -> None:
    cid = pods.run(
        "sleep", "60", linux=_linux(capabilities=kubert.Capability(add_capabilities=("ALL",)))
    )
    effective = int(_field(pods, cid, "CapEff"), 16)
    bounding = _host_bounding_set()
    assert bounding & ENGINE_KNOWN & ~effective == 0
    assert _field(pods, cid, "Seccomp") == "0"  # no profile asked: unconfined
    # ALL and then a drop: the drop wins.
    dropped = pods.run(
        "sleep",
        "60",
        linux=_linux(
            capabilities=kubert.Capability(
                add_capabilities=("ALL",), drop_capabilities=("SYS_ADMIN",)
            )
        ),
    )
    assert not int(_field(pods, dropped, "CapEff"), 16) >> CAP_SYS_ADMIN & 1


# ---- mounts -------------------------------------------------------------------------------


@contextlib.contextmanager
def _mounted(target: Path, *options: str, source: str = "tmpfs") -> Iterator[Path]:
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *(options or ("-t", "tmpfs")), source, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def shared_dir(tmp_path: Path) -> Iterator[Path]:
    """A host directory that is a shared mount point of its own (propagation needs one)."""
    root = tmp_path / "shared"
    root.mkdir()
    with _mounted(root, "--bind", source=str(root)):
        subprocess.run(["mount", "--make-rshared", str(root)], check=True)
        yield root


def _mount(
    host: Path, target: str, propagation: kubert.MountPropagation, **kw: Any
) -> kubert.Mount:
    return kubert.Mount(container_path=target, host_path=str(host), propagation=propagation, **kw)


def test_mount_propagation_private_rslave_rshared(pods: Any, shared_dir: Path) -> None:
    sandbox_id = _privileged_pod(pods)
    made: dict[kubert.MountPropagation, str] = {}
    for propagation in (
        kubert.MountPropagation.PROPAGATION_PRIVATE,
        kubert.MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
        kubert.MountPropagation.PROPAGATION_BIDIRECTIONAL,
    ):
        made[propagation] = pods.container(
            sandbox_id,
            "sleep",
            "60",
            name=f"p{int(propagation)}",
            mounts=(_mount(shared_dir, "/m", propagation),),
            linux=_linux(privileged=True),
        )
    private, slave, shared = made.values()
    with _mounted(shared_dir / "from-host"):
        (shared_dir / "from-host" / "marker").write_text("host")
        assert pods.exec(slave, "cat /m/from-host/marker") == "host"
        assert pods.exec(shared, "cat /m/from-host/marker") == "host"
        assert pods.runtime.exec_sync(private, ["cat", "/m/from-host/marker"], 10).exit_code
    # A mount made inside reaches the host only through the bidirectional mount.
    pods.exec(
        shared,
        "mkdir -p /m/from-pod && mount -t tmpfs tmpfs /m/from-pod && echo pod > /m/from-pod/marker",
    )
    try:
        assert (shared_dir / "from-pod" / "marker").read_text().strip() == "pod"
    finally:
        subprocess.run(["umount", "-l", str(shared_dir / "from-pod")], check=False)
    pods.exec(slave, "mkdir -p /m/slave-made && mount -t tmpfs tmpfs /m/slave-made")
    assert not os.path.ismount(shared_dir / "slave-made")


def test_readonly_mount_is_not_recursive(pods: Any, tmp_path: Path) -> None:
    source = tmp_path / "ro"
    with _mounted(source / "sub"):
        cid = pods.run(
            "sleep",
            "60",
            mounts=(kubert.Mount(container_path="/m", host_path=str(source), readonly=True),),
        )
        denied = pods.runtime.exec_sync(cid, ["touch", "/m/top"], 10)
        assert denied.exit_code and b"Read-only" in denied.stderr
        pods.exec(cid, "touch /m/sub/below")  # the submount stays writable
        assert (source / "sub" / "below").exists()


def test_recursive_read_only_is_refused_clearly_and_not_advertised(pods: Any) -> None:
    handlers = pods.runtime.runtime_handlers()
    assert handlers and not any(h.features.recursive_read_only_mounts for h in handlers)
    sandbox_id = pods.sandbox()
    cases = {
        "must also be readonly": dict(readonly=False),
        "PROPAGATION_PRIVATE": dict(
            readonly=True, propagation=kubert.MountPropagation.PROPAGATION_HOST_TO_CONTAINER
        ),
        "recursive read-only": dict(readonly=True),
    }
    for message, fields in cases.items():
        config = pods.container_config(
            "true",
            name="rro",
            mounts=(
                kubert.Mount(
                    container_path="/m", host_path="/tmp", recursive_read_only=True, **fields
                ),
            ),
        )
        with pytest.raises(
            kubert.InvalidArgumentError, match=r"mounts\[0\]\.recursive_read_only"
        ) as raised:
            pods.runtime.create_container(sandbox_id, config, pods.configs[sandbox_id])
        assert message in str(raised.value)
    assert [
        c.metadata.name
        for c in pods.runtime.list_containers(None)
        if c.pod_sandbox_id == sandbox_id
    ] == []


# ---- the OOM killer -----------------------------------------------------------------------


def test_container_over_its_memory_limit_is_oom_killed(pods: Any) -> None:
    resources = kubert.LinuxContainerResources(memory_limit_in_bytes=32 * 1024 * 1024)
    # tail keeps the whole newline-free stream in memory until the limit stops it.
    cid = pods.run(
        "sh", "-c", "tail /dev/zero", linux=kubert.LinuxContainerConfig(resources=resources)
    )
    status = eventually(
        lambda: (
            (s := pods.runtime.container_status(cid)).state
            == kubert.ContainerState.CONTAINER_EXITED
            and s
        ),
        timeout=60,
        interval=0.02,
    )
    assert status, pods.runtime.container_status(cid)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


def test_native_form_is_the_engines_flag() -> None:
    assert host_config(Privileged(), True, ["/a:/b"], []) == {"Privileged": True}


def test_privileged_pod_through_crictl(
    docker_server: Any, docker_engine: Any, tmp_path: Path
) -> None:
    """As an operator would: crictl runp/create/start/exec on kubert's socket."""
    from tests.fixtures.crictl import crictl

    server = docker_server
    pod_json = tmp_path / "pod.json"
    pod_json.write_text(
        json.dumps(
            {
                "metadata": {"name": "priv", "namespace": "test", "uid": "uid-priv"},
                "log_directory": str(tmp_path / "logs"),
                "linux": {"security_context": {"privileged": True}},
            }
        )
    )
    container_json = tmp_path / "c.json"
    container_json.write_text(
        json.dumps(
            {
                "metadata": {"name": "admin"},
                "image": {"image": docker_engine.busybox},
                "command": ["sleep", "60"],
                "log_path": "admin.log",
                "linux": {"security_context": {"privileged": True}},
            }
        )
    )
    address = server.address
    # crictl info shows the form privileged takes here (this host: the bounding set's).
    shown = json.loads(crictl(address, "info").stdout)["info"]["privileged"]
    expected = detect("auto")
    assert shown == {
        "form": "engine" if expected.native else "bounding-set",
        "missing": list(expected.missing),
    }
    pod = crictl(address, "runp", str(pod_json)).stdout.strip()
    try:
        cid = crictl(address, "create", pod, str(container_json), str(pod_json)).stdout.strip()
        crictl(address, "start", cid)
        crictl(address, "exec", "-s", cid, "ip", "link", "add", "kc0", "type", "veth")
        links = crictl(address, "exec", "-s", cid, "ip", "-o", "link", "show").stdout
        assert "kc0@" in links
        status = crictl(address, "exec", "-s", cid, "cat", "/proc/self/status").stdout
        assert "Seccomp:\t0" in status
    finally:
        crictl(address, "rmp", "-f", pod)


def test_privileged_body_overrides_what_privileged_means(tmp_path: Path) -> None:
    """The create body: privileged replaces capabilities, profiles and masked paths, keeps
    no-new-privileges, the request's own devices and a /sys bind of its own."""
    from kubert_docker import spec
    from kubert_docker.settings import DockerConfig

    facts = spec.HostFacts(privileged=Privileged(missing=("CAP_SYS_RESOURCE",)), apparmor=True)
    sc = kubert.LinuxContainerSecurityContext(
        privileged=True,
        no_new_privs=True,
        masked_paths=("/proc/kcore",),
        capabilities=kubert.Capability(drop_capabilities=("NET_RAW",)),
        seccomp=kubert.SecurityProfile(profile_type=kubert.ProfileType.RuntimeDefault),
    )
    config = kubert.ContainerConfig(
        metadata=kubert.ContainerMetadata(name="c"),
        image=kubert.ImageSpec(image="busybox"),
        mounts=(kubert.Mount(container_path="/sys", host_path=str(tmp_path)),),
        devices=(
            kubert.Device(container_path="/dev/mine", host_path="/dev/null", permissions="r"),
        ),
        linux=kubert.LinuxContainerConfig(security_context=sc),
    )
    sandbox = kubert.PodSandboxConfig(
        metadata=kubert.PodSandboxMetadata(name="p", uid="u", namespace="n")
    )
    _, body, _ = spec.container_body(
        "sb", kubert.NamespaceOption(), config, sandbox, DockerConfig(), facts, ""
    )
    host = body["HostConfig"]
    assert (host["Privileged"], host["CapAdd"], host["CapDrop"]) == (
        False,
        ["ALL"],
        ["CAP_SYS_RESOURCE"],
    )
    assert host["MaskedPaths"] == [] and host["ReadonlyPaths"] == []
    assert set(host["SecurityOpt"]) == {
        "seccomp=unconfined",
        "apparmor=unconfined",
        "label=disable",
        "no-new-privileges",
    }
    assert host["Binds"] == [f"{tmp_path}:/sys:rprivate"]  # the request's /sys, not the host's
    assert host["Devices"][0]["PathInContainer"] == "/dev/mine"
    assert {d["PathOnHost"] for d in host["Devices"][1:]} >= {"/dev/null", "/dev/zero"}
    native = spec.HostFacts(privileged=Privileged())
    _, body, _ = spec.container_body(
        "sb", kubert.NamespaceOption(), config, sandbox, DockerConfig(), native, ""
    )
    assert body["HostConfig"]["Privileged"] is True
    assert "CapDrop" not in body["HostConfig"]


def test_pod_sysfs_is_swept_when_its_sandbox_is_gone(
    pods: Any, docker_engine: Any, docker_client: Any, tmp_path: Path
) -> None:
    """A pod sysfs pins its network namespace: one whose sandbox went away behind kubert's
    back (or while kubert was down) is unmounted when a backend next syncs with the engine."""
    from tests.fixtures.docker_helpers import make_runtime

    sandbox_id = _privileged_pod(pods)
    pods.container(sandbox_id, "sleep", "60", linux=_linux(privileged=True))
    mount = pods.runtime.sysfs.directory / sandbox_id
    assert str(mount) in Path("/proc/self/mountinfo").read_text()
    docker_client.api.remove_container(sandbox_id, force=True, v=True)
    # A second backend on the same root, as after a restart: its first sync sweeps the mount.
    again = make_runtime(docker_engine, pods.runtime.root.parent)
    try:
        assert eventually(
            lambda: str(mount) not in Path("/proc/self/mountinfo").read_text(),
            timeout=10,
            interval=0.02,
        )
    finally:
        again.close()
