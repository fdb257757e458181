"""SupplementalGroupsPolicy on the real engine through kubert's socket and crictl: Merge adds the
image's /etc/group groups and ContainerStatus.user says what the process got; Strict, which the
engine cannot do, is refused and not advertised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.crictl import crictl

pytestmark = pytest.mark.docker


@pytest.fixture
def address(docker_server: Any) -> str:
    return str(docker_server.address)


def _write(path: Path, data: dict[str, Any]) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def _container(tmp_path: Path, image: str, name: str, **security: Any) -> str:
    return _write(tmp_path / f"{name}.json", {
        "metadata": {"name": name}, "image": {"image": image}, "command": ["sleep", "60"],
        "linux": {"security_context": security},
    })


def test_merge_policy_and_the_reported_user(
    address: str, docker_engine: Any, tmp_path: Path
) -> None:
    pod_json = _write(tmp_path / "pod.json", {
        "metadata": {"name": "groups", "namespace": "test", "uid": "uid-groups"},
        "log_directory": str(tmp_path / "logs"),
    })
    pod = crictl(address, "runp", pod_json).stdout.strip()
    try:
        # busybox's /etc/group: "extra:x:5555:kubert" (user kubert is uid 1234, gid 1234).
        merged = crictl(address, "create", pod, _container(
            tmp_path, docker_engine.busybox, "merged", run_as_username="kubert",
            supplemental_groups=[6666]), pod_json).stdout.strip()
        crictl(address, "start", merged)
        user = json.loads(crictl(address, "inspect", merged).stdout)["status"]["user"]["linux"]
        assert (int(user["uid"]), int(user["gid"])) == (1234, 1234)
        assert {5555, 6666} <= {int(g) for g in user["supplementalGroups"]}
        # What the process itself sees agrees.
        seen = crictl(address, "exec", "-s", merged, "id", "-G").stdout.split()
        assert {int(g) for g in seen} == {int(user["gid"]), *map(int, user["supplementalGroups"])}

        strict = crictl(address, "create", pod, _container(
            tmp_path, docker_engine.busybox, "strict", run_as_user={"value": 1234},
            supplemental_groups_policy=1), pod_json, check=False)
        assert strict.returncode != 0
        assert "InvalidArgument" in strict.stderr
        assert "supplemental_groups_policy" in strict.stderr
        names = crictl(address, "ps", "-a", "-p", pod, "-o", "json").stdout
        assert {c["metadata"]["name"] for c in json.loads(names)["containers"]} == {"merged"}
    finally:
        crictl(address, "rmp", "-f", pod)


def test_strict_is_not_advertised(address: str) -> None:
    info = json.loads(crictl(address, "info").stdout)
    # Status carries the features message; false fields are left out of crictl's JSON.
    assert info["features"] == {}
    assert all(h["features"] == {} for h in info["runtimeHandlers"])
