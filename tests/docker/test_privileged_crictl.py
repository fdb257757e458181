"""The rest of the privileged-host items through kubert's socket with crictl, as an operator
drives them: ALL capabilities, a container killed over its memory limit, read-only mounts and
the refusal of recursive ones (not advertised in Status)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.crictl import crictl

pytestmark = pytest.mark.docker


class Pod:
    """One pod made with ``crictl runp``; containers made with ``crictl create``."""

    def __init__(self, address: str, image: str, tmp_path: Path) -> None:
        self.address, self.image, self.dir = address, image, tmp_path
        self.config = tmp_path / "pod.json"
        self.config.write_text(json.dumps({
            "metadata": {"name": "ops", "namespace": "test", "uid": f"uid-{time.time_ns()}"},
            "log_directory": str(tmp_path / "logs"),
        }))
        self.id = crictl(address, "runp", str(self.config)).stdout.strip()

    def create(self, name: str, check: bool = True, **config: Any) -> Any:
        path = self.dir / f"{name}.json"
        path.write_text(json.dumps({
            "metadata": {"name": name}, "image": {"image": self.image},
            "command": ["sleep", "60"], **config,
        }))
        result = crictl(self.address, "create", self.id, str(path), str(self.config),
                        check=check)
        return result.stdout.strip() if check else result

    def run(self, name: str, **config: Any) -> str:
        cid = str(self.create(name, **config))
        crictl(self.address, "start", cid)
        return cid

    def sh(self, cid: str, script: str, check: bool = True) -> Any:
        return crictl(self.address, "exec", "-s", cid, "sh", "-c", script, check=check)


@pytest.fixture
def pod(docker_server: Any, docker_engine: Any, tmp_path: Path) -> Iterator[Pod]:
    made = Pod(docker_server.address, docker_engine.busybox, tmp_path)
    yield made
    crictl(made.address, "rmp", "-f", made.id)


def _bounding_set() -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines()
                if x.startswith("CapBnd:"))
    return int(line.split()[1], 16)


def test_all_capabilities(pod: Pod) -> None:
    cid = pod.run("all", linux={"security_context": {
        "capabilities": {"add_capabilities": ["ALL"]}}})
    status = pod.sh(cid, "cat /proc/self/status").stdout
    effective = int(next(x for x in status.splitlines() if x.startswith("CapEff:")).split()[1],
                    16)
    known = (1 << 38) - 1  # what every engine kubert supports can name
    assert effective & ~_bounding_set() == 0 and _bounding_set() & known & ~effective == 0


def test_over_the_memory_limit_is_oom_killed(pod: Pod) -> None:
    cid = pod.run("hog", command=["sh", "-c", "tail /dev/zero"], linux={
        "resources": {"memory_limit_in_bytes": 32 * 1024 * 1024}})
    deadline = time.monotonic() + 60
    while True:
        status = json.loads(crictl(pod.address, "inspect", cid).stdout)["status"]
        if status["state"] == "CONTAINER_EXITED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (status["exitCode"], status["reason"]) == (137, "OOMKilled")


def test_read_only_mounts(pod: Pod, tmp_path: Path) -> None:
    source = tmp_path / "ro"
    (source / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(source / "sub")], check=True)
    try:
        cid = pod.run("ro", mounts=[
            {"container_path": "/m", "host_path": str(source), "readonly": True}])
        denied = pod.sh(cid, "touch /m/top", check=False)
        assert denied.returncode != 0 and "Read-only" in denied.stdout + denied.stderr
        pod.sh(cid, "touch /m/sub/below")  # non-recursive: the submount stays writable
    finally:
        subprocess.run(["umount", "-l", str(source / "sub")], check=False)


def test_recursive_read_only_is_refused_and_not_advertised(pod: Pod) -> None:
    handlers = json.loads(crictl(pod.address, "info").stdout)["runtimeHandlers"]
    assert handlers and not any(h["features"].get("recursiveReadOnlyMounts") for h in handlers)
    cases = {
        "must also be readonly": {"readonly": False},
        "PROPAGATION_PRIVATE": {"readonly": True, "propagation": 1},
        "recursive read-only": {"readonly": True},
    }
    for index, (message, fields) in enumerate(cases.items()):
        refused = pod.create(f"rro{index}", check=False, mounts=[{
            "container_path": "/m", "host_path": "/tmp", "recursive_read_only": True,
            **fields}])
        assert refused.returncode != 0
        assert "InvalidArgument" in refused.stderr
        assert "mounts[0].recursive_read_only" in refused.stderr and message in refused.stderr
    listed = json.loads(crictl(pod.address, "ps", "-a", "-p", pod.id, "-o", "json").stdout)
    assert listed["containers"] == []


def test_mount_propagation(pod: Pod, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    subprocess.run(["mount", "--bind", str(shared), str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(shared)], check=True)
        made = {
            mode: pod.run(f"p{mode}", mounts=[
                {"container_path": "/m", "host_path": str(shared), "propagation": mode}],
                linux={"security_context": {"privileged": True}})
            for mode in (0, 1, 2)  # PRIVATE, HOST_TO_CONTAINER, BIDIRECTIONAL
        }
        (shared / "host").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(shared / "host")], check=True)
        (shared / "host" / "marker").write_text("host\n")
        assert pod.sh(made[1], "cat /m/host/marker").stdout.strip() == "host"
        assert pod.sh(made[2], "cat /m/host/marker").stdout.strip() == "host"
        assert pod.sh(made[0], "cat /m/host/marker", check=False).returncode != 0
        pod.sh(made[2], "mkdir /m/pod && mount -t tmpfs tmpfs /m/pod && echo pod > /m/pod/m")
        assert (shared / "pod" / "m").read_text() == "pod\n"
    finally:
        for sub in ("pod", "host", ""):
            subprocess.run(["umount", "-l", str(shared / sub)], check=False)
