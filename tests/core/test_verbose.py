"""Verbose status info (crictl inspectp/inspect/inspecti/info) and PodSandboxStatus's
containers_statuses and timestamp, over the real socket against the memory backend."""

from __future__ import annotations

import json
import time

import pytest

from kubert.cri.api import pb
from kubert.errors import UnavailableError
from tests.fixtures.server import RunningServer

from .helpers import Pod, Stubs, container_config


def _sandbox_status(stubs: Stubs, sandbox_id: str, verbose: bool) -> pb.PodSandboxStatusResponse:
    return stubs.runtime.PodSandboxStatus(
        pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose)
    )


def test_sandbox_info_only_when_verbose(stubs: Stubs, pod: Pod) -> None:
    assert not _sandbox_status(stubs, pod.sandbox_id, verbose=False).info
    info = json.loads(_sandbox_status(stubs, pod.sandbox_id, verbose=True).info["info"])
    assert info["state"] == "SANDBOX_READY"
    assert info["containers"] == [pod.container_id]
    assert info["config"]["metadata"]["name"] == "web"
    assert info["config"]["port_mappings"][0]["host_port"] == 8080


def test_sandbox_status_carries_its_containers_and_when_they_were_read(
    stubs: Stubs, pod: Pod
) -> None:
    created = stubs.runtime.CreateContainer(
        pb.CreateContainerRequest(
            pod_sandbox_id=pod.sandbox_id, config=container_config("second"),
            sandbox_config=pod.config,
        )
    ).container_id
    before = time.time_ns()
    answer = _sandbox_status(stubs, pod.sandbox_id, verbose=False)
    after = time.time_ns()
    states = {c.id: c.state for c in answer.containers_statuses}
    assert states == {pod.container_id: pb.CONTAINER_RUNNING, created: pb.CONTAINER_CREATED}
    assert before <= answer.timestamp <= after
    stubs.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=created))
    again = _sandbox_status(stubs, pod.sandbox_id, verbose=False)
    assert [c.id for c in again.containers_statuses] == [pod.container_id]


def test_container_info(stubs: Stubs, pod: Pod) -> None:
    request = pb.ContainerStatusRequest(container_id=pod.container_id)
    assert not stubs.runtime.ContainerStatus(request).info
    request.verbose = True
    info = json.loads(stubs.runtime.ContainerStatus(request).info["info"])
    assert info["sandboxID"] == pod.sandbox_id
    assert info["argv"] == ["sleep", "3600"]
    assert info["state"] == "CONTAINER_RUNNING"


def test_image_info(stubs: Stubs, pod: Pod) -> None:
    spec = pb.ImageSpec(image="busybox:latest")
    answer = stubs.images.ImageStatus(pb.ImageStatusRequest(image=spec, verbose=True))
    info = json.loads(answer.info["info"])
    assert info["id"] == answer.image.id and info["size"] == answer.image.size
    assert "busybox:latest" in info["repoTags"]
    absent = stubs.images.ImageStatus(
        pb.ImageStatusRequest(image=pb.ImageSpec(image="nginx:1.27"), verbose=True)
    )
    assert not absent.HasField("image") and not absent.info


def test_runtime_info(stubs: Stubs, pod: Pod, cri_server: RunningServer) -> None:
    assert not stubs.runtime.Status(pb.StatusRequest()).info
    answer = stubs.runtime.Status(pb.StatusRequest(verbose=True))
    kubert = json.loads(answer.info["kubert"])
    assert kubert["backends"]["runtime"] == "memory"
    assert kubert["podInfraContainerImage"] == cri_server.service.pod_infra_image
    assert json.loads(answer.info["info"])["sandboxes"] == 1
    assert {c.type for c in answer.status.conditions} == {"RuntimeReady", "NetworkReady"}


def test_info_is_best_effort(
    stubs: Stubs, pod: Pod, cri_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: the backend cannot give the extra; the status itself must still answer.
    def fail(sandbox_id: str) -> dict[str, str]:
        raise UnavailableError("engine", "gone for a moment")

    monkeypatch.setattr(cri_server.runtime, "sandbox_info", fail)
    answer = _sandbox_status(stubs, pod.sandbox_id, verbose=True)
    assert answer.status.id == pod.sandbox_id and not answer.info
