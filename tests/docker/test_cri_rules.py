"""CRI rules on the real engine through kubert's socket, driven with crictl as an operator
would: StopContainer of an unknown ID, RunAsGroup without a user, a sandbox only its
checkpoint remembers, Version and Status while the engine is down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import kubert_docker.plugin
from tests.fixtures.crictl import crictl as _crictl

pytestmark = pytest.mark.docker

UNKNOWN_ID = "feed" * 16


@pytest.fixture
def kubert(docker_server: Any) -> Any:
    return docker_server


def _pod_config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "metadata": {"name": name, "namespace": "rules", "uid": f"uid-{name}", "attempt": 0},
        "log_directory": str(tmp_path / "logs"),
        "labels": {"app": name},
    }))
    return path


def test_stop_container_of_an_unknown_id_succeeds(kubert: Any) -> None:
    _crictl(kubert.address, "stop", UNKNOWN_ID)
    gone = _crictl(kubert.address, "inspect", UNKNOWN_ID, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_run_as_group_without_a_user_is_invalid(
    kubert: Any, docker_engine: Any, tmp_path: Path
) -> None:
    pod = _crictl(kubert.address, "runp", str(_pod_config(tmp_path, "group"))).stdout.strip()
    container = tmp_path / "c.json"
    container.write_text(json.dumps({
        "metadata": {"name": "c"}, "image": {"image": docker_engine.busybox},
        "command": ["sleep", "60"],
        "linux": {"security_context": {"run_as_group": {"value": 4321}}},
    }))
    refused = _crictl(kubert.address, "create", pod, str(container),
                      str(_pod_config(tmp_path, "group")), check=False)
    assert refused.returncode != 0
    assert "InvalidArgument" in refused.stderr and "run_as_group" in refused.stderr
    assert _crictl(kubert.address, "ps", "-a", "-q", "-p", pod).stdout.strip() == ""
    _crictl(kubert.address, "rmp", "-f", pod)


def _forgotten_pod(kubert: Any, docker_client: Any, tmp_path: Path, name: str) -> str:
    """A pod whose pause container was removed behind kubert's back."""
    pod = _crictl(kubert.address, "runp", str(_pod_config(tmp_path, name))).stdout.strip()
    docker_client.api.remove_container(pod, force=True, v=True)
    deadline_listing = _crictl(kubert.address, "pods", "-q", "--state", "NotReady")
    assert pod in deadline_listing.stdout.split()
    return pod


def test_sandbox_only_its_checkpoint_remembers(
    kubert: Any, docker_client: Any, tmp_path: Path
) -> None:
    pod = _forgotten_pod(kubert, docker_client, tmp_path, "forgotten")
    inspected = json.loads(_crictl(kubert.address, "inspectp", pod[:12]).stdout)["status"]
    assert inspected["id"] == pod and inspected["state"] == "SANDBOX_NOTREADY"
    assert inspected["metadata"]["name"] == "forgotten"
    assert inspected["labels"] == {"app": "forgotten"}
    _crictl(kubert.address, "rmp", pod[:12])
    assert pod not in _crictl(kubert.address, "pods", "-q").stdout.split()
    assert not list(kubert.root.rglob(f"*{pod}*"))  # the checkpoint is gone too

    again = _forgotten_pod(kubert, docker_client, tmp_path, "forgotten-again")
    _crictl(kubert.address, "rmp", "-fa")
    assert again not in _crictl(kubert.address, "pods", "-q").stdout.split()


def test_version_and_status_while_the_engine_is_down(
    cri_server_factory: Any, tmp_path: Path
) -> None:
    down = cri_server_factory(
        runtime="docker", image="docker", network="noop",
        options={"docker": {"endpoint": f"unix://{tmp_path}/no-engine.sock"}},
        plugins=(kubert_docker.plugin,),
    )
    version = _crictl(down.address, "version").stdout
    assert "RuntimeName:  kubert" in version and "docker unknown" in version
    info = json.loads(_crictl(down.address, "info").stdout)
    ready = {c["type"]: c for c in info["status"]["conditions"]}["RuntimeReady"]
    assert ready["status"] is False and ready["reason"] == "DockerDaemonNotReady"
    assert "no-engine.sock" in ready["message"]


def test_no_seccomp_profile_is_unconfined(
    kubert: Any, docker_engine: Any, tmp_path: Path
) -> None:
    pod_json = _pod_config(tmp_path, "seccomp")
    pod = _crictl(kubert.address, "runp", str(pod_json)).stdout.strip()
    try:
        container = tmp_path / "c.json"
        container.write_text(json.dumps({
            "metadata": {"name": "c"}, "image": {"image": docker_engine.busybox},
            "command": ["sleep", "60"],
            "linux": {"security_context": {"namespace_options": {"pid": 1}}},  # CONTAINER
        }))
        cid = _crictl(kubert.address, "create", pod, str(container), str(pod_json)).stdout
        _crictl(kubert.address, "start", cid.strip())
        status = _crictl(kubert.address, "exec", "-s", cid.strip(), "cat", "/proc/1/status")
        assert "\nSeccomp:\t0\n" in status.stdout
    finally:
        _crictl(kubert.address, "rmp", "-f", pod)
