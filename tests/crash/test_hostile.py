"""Hostile input over the real gRPC server: every unary RPC of CRI v1 gets requests built by
hypothesis from random and extreme values for every field (huge strings and maps, path
traversal, invalid IDs, unknown enum numbers). Each must be answered with a precise status,
never INTERNAL or UNKNOWN, and the server must keep serving. The in-memory backend takes the
big profile; the docker backend a smaller one aimed at what touches the host (RunPodSandbox,
CreateContainer and their paths), after which no file may exist outside the dirs kubert got.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubert import (
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubert.cri.api import pb
from kubert.cri.client import CriClient
from tests.crash.harness import REPORTS, thorough
from tests.crash.hostile import message_of, mutated, unary_methods
from tests.fixtures.pods import start_sleeper

#: Answers a hostile request may get. DEADLINE_EXCEEDED only from the server (ExecSync's own
#: timeout), never from the client's deadline: that one means the call hung.
PRECISE = {
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.DEADLINE_EXCEEDED,
}
CLIENT_DEADLINE = 60.0
FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
}


class Fuzzer:
    """Sends hostile requests on one channel and checks each answer."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(
            address.replace("unix://", "unix:"),
            options=[("grpc.max_send_message_length", 32 * 1024 * 1024),
                     ("grpc.max_receive_message_length", 32 * 1024 * 1024)],
        )
        self.tried = 0
        self.codes: dict[str, int] = {}

    def call(self, service: str, method: MethodDescriptor, request: Message) -> tuple[
        grpc.StatusCode, str
    ]:
        response_cls = getattr(pb, method.output_type.name)
        rpc: Callable[..., Any] = self.channel.unary_unary(
            f"/runtime.v1.{service}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        self.tried += 1
        try:
            rpc(request, timeout=CLIENT_DEADLINE)
            code = grpc.StatusCode.OK
            details = ""
        except grpc.RpcError as error:
            code, details = error.code(), error.details() or ""
        self.codes[code.name] = self.codes.get(code.name, 0) + 1
        assert code in PRECISE, f"{method.name} answered {code.name}: {details}\n{request!r:.2000}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            assert details != "Deadline Exceeded", f"{method.name} did not answer in time"
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            assert details, f"{method.name}: INVALID_ARGUMENT without saying what is wrong"
        return code, details

    def still_serving(self) -> None:
        stub = self.channel.unary_unary(
            "/runtime.v1.RuntimeService/Version",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.VersionResponse.FromString,
        )
        assert stub(pb.VersionRequest(), timeout=10).runtime_name == "kubert"

    def close(self) -> None:
        self.channel.close()


def _real_objects(client: CriClient, image: str, log_dir: str) -> list[str]:
    """A ready pod with a running container, so that hostile requests also reach real objects."""
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="victim", namespace="fuzz", uid="uid-victim"),
        log_directory=log_dir,
    )
    sandbox_id = client.run_pod_sandbox(config)
    container_id = start_sleeper(client, sandbox_id, config, image, log_path="app.log")
    return [sandbox_id, container_id, sandbox_id[:12], container_id[:12]]


Case = tuple[str, MethodDescriptor, st.SearchStrategy[Message]]


def _cases(
    methods: list[tuple[str, MethodDescriptor]], ids: list[str],
    bases: dict[str, Message] | None = None,
) -> list[Case]:
    """Per method: fully random requests, and (for methods with a valid base request) that
    base with a few fields made hostile, which gets further into the backend."""
    id_strategy = st.sampled_from(ids)
    cases: list[Case] = []
    for service, method in methods:
        cases.append((service, method, message_of(method.input_type, ids=id_strategy)))
        if bases and method.name in bases:
            cases.append((service, method, mutated(bases[method.name], id_strategy)))
    return cases


def _bases(sandbox_id: str, container_id: str, image: str, log_dir: str) -> dict[str, Message]:
    sandbox = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="fuzzed", namespace="fuzz", uid="uid-fuzzed"),
        log_directory=log_dir, labels={"app": "fuzzed"},
        port_mappings=[pb.PortMapping(container_port=80)],
    )
    container = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="fuzzed"), image=pb.ImageSpec(image=image),
        command=["sleep", "3600"], log_path="fuzzed.log",
        mounts=[pb.Mount(container_path="/data", host_path=log_dir)],
    )
    return {
        "RunPodSandbox": pb.RunPodSandboxRequest(config=sandbox),
        "CreateContainer": pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=container, sandbox_config=sandbox
        ),
        "ExecSync": pb.ExecSyncRequest(container_id=container_id, cmd=["echo", "hi"],
                                       timeout=10),
        "UpdateContainerResources": pb.UpdateContainerResourcesRequest(
            container_id=container_id, linux=pb.LinuxContainerResources(cpu_shares=512)
        ),
        "ListContainers": pb.ListContainersRequest(
            filter=pb.ContainerFilter(pod_sandbox_id=sandbox_id)
        ),
    }


def _fuzz(fuzzer: Fuzzer, cases: list[Case], examples: int,
          sandbox_log_dir: str | None = None, *, explore: bool = False) -> None:
    # CI replays the same derandomized inputs on every machine, so a pass or a failure is
    # reproducible; the thorough profile (``explore``) draws new ones each run.
    @settings(max_examples=examples, derandomize=not explore, **FUZZ_SETTINGS)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        service, method, requests = data.draw(st.sampled_from(cases), label="case")
        request = data.draw(requests, label="request")
        if sandbox_log_dir is not None and method.name == "CreateContainer":
            # Aim traversal at the log directory kubert was given.
            request.sandbox_config.log_directory = sandbox_log_dir
        fuzzer.call(service, method, request)

    fuzz()
    fuzzer.still_serving()


def test_hostile_requests_in_memory(
    cri_server_factory: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    server = cri_server_factory()
    with server.client() as client:
        log_dir = "/var/log/pods/fuzz_victim_uid-victim"
        ids = _real_objects(client, "busybox:latest", log_dir)
    fuzzer = Fuzzer(server.address)
    examples = 5000 if thorough(request.config) else 1000
    cases = _cases(unary_methods(), ids, _bases(ids[0], ids[1], "busybox:latest", log_dir))
    try:
        _fuzz(fuzzer, cases, examples, explore=thorough(request.config))
    finally:
        REPORTS.append(f"hostile input (memory backend): inputs tried={fuzzer.tried}, "
                       f"answers {dict(sorted(fuzzer.codes.items()))}")
        fuzzer.close()


@pytest.mark.docker
def test_hostile_requests_on_docker(
    cri_server_factory: Callable[..., Any], clean_engine: Any, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    from kubert_docker import plugin as docker_plugin

    given_dirs = tmp_path / "given"
    log_dir = given_dirs / "logs"
    log_dir.mkdir(parents=True)
    server = cri_server_factory(
        runtime="docker", plugins=(docker_plugin,), pod_infra_image=clean_engine.pause,
        options={"docker": clean_engine.backend_options()},
    )
    with server.client() as client:
        ids = _real_objects(client, clean_engine.busybox, str(log_dir))
    wanted = {"RunPodSandbox", "CreateContainer", "StopContainer", "RemoveContainer",
              "ContainerStatus", "ExecSync", "UpdateContainerResources", "ReopenContainerLog",
              "CheckpointContainer", "PodSandboxStatus", "ImageStatus", "ListContainers"}
    methods = [(s, m) for s, m in unary_methods() if m.name in wanted]
    bases = _bases(ids[0], ids[1], clean_engine.busybox, str(log_dir))
    fuzzer = Fuzzer(server.address)
    examples = 600 if thorough(request.config) else 100
    before = _files_outside(tmp_path, given_dirs)
    try:
        _fuzz(fuzzer, _cases(methods, ids, bases), examples, sandbox_log_dir=str(log_dir),
              explore=thorough(request.config))
    finally:
        REPORTS.append(f"hostile input (docker backend): inputs tried={fuzzer.tried}, "
                       f"answers {dict(sorted(fuzzer.codes.items()))}")
        fuzzer.close()
    assert _files_outside(tmp_path, given_dirs) == before


def _files_outside(tmp_path: Path, given: Path) -> set[str]:
    """Files under ``tmp_path`` (the parent of the log dir kubert got) but outside ``given``."""
    found = set()
    for root, _dirs, files in os.walk(tmp_path):
        if Path(root).is_relative_to(given):
            continue
        found.update(os.path.join(root, f) for f in files)
    return found


def test_log_and_mount_paths_that_escape_are_refused(cri_server: Any) -> None:
    """Sent as raw protobuf (the client's models would refuse them before sending)."""
    with cri_server.client() as client:
        sandbox_id = _real_objects(client, "busybox:latest", "/var/log/pods/fuzz_victim")[0]
    fuzzer = Fuzzer(cri_server.address)
    sandbox = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="victim", namespace="fuzz", uid="uid-victim"),
        log_directory="/var/log/pods/fuzz_victim",
    )
    cases = [
        ("config.log_path", {"log_path": p})
        for p in ("../escape.log", "a/../../escape.log", "/etc/passwd", "..", "x\x00y")
    ] + [
        ("config.mounts[0].container_path",
         {"mounts": [pb.Mount(container_path="/a/../../etc", host_path="/tmp")]}),
        ("config.mounts[0].container_path",
         {"mounts": [pb.Mount(container_path="relative", host_path="/tmp")]}),
        ("config.mounts[0].host_path",
         {"mounts": [pb.Mount(container_path="/data", host_path="/var/../../etc")]}),
        ("config.mounts[0].host_path",
         {"mounts": [pb.Mount(container_path="/data", host_path="relative/dir")]}),
    ]
    try:
        for index, (field_name, fields) in enumerate(cases):
            config = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name=f"c{index}"),
                image=pb.ImageSpec(image="busybox:latest"), **fields,
            )
            request = pb.CreateContainerRequest(
                pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
            )
            with pytest.raises(grpc.RpcError) as caught:
                fuzzer.channel.unary_unary(
                    "/runtime.v1.RuntimeService/CreateContainer",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=pb.CreateContainerResponse.FromString,
                )(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
            assert field_name in (caught.value.details() or ""), fields
        fuzzer.still_serving()
    finally:
        fuzzer.close()


@pytest.mark.docker
def test_image_references_cannot_reach_other_engine_endpoints(
    cri_server_factory: Callable[..., Any], clean_engine: Any
) -> None:
    """The engine API puts references into URL paths: ``a/..`` was GET /images/json (a list,
    answered INTERNAL), and ``x/../../containers/<id>`` in RemoveImage would be DELETE
    /containers/<id>. Such references are refused before any backend sees them."""
    from kubert_docker import plugin as docker_plugin

    server = cri_server_factory(
        runtime="docker", plugins=(docker_plugin,), pod_infra_image=clean_engine.pause,
        options={"docker": clean_engine.backend_options()},
    )
    with server.client() as client:
        sandbox_id, container_id = _real_objects(client, clean_engine.busybox, "/tmp")[:2]
    fuzzer = Fuzzer(server.address)
    references = ["a/..", "/", ".", f"x/../../containers/{container_id}", "busybox?force=1",
                  "busybox#x", "a//b", "%2e%2e", "busybox\n"]
    calls = {
        "ImageStatus": lambda ref: pb.ImageStatusRequest(image=pb.ImageSpec(image=ref)),
        "RemoveImage": lambda ref: pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)),
        "PullImage": lambda ref: pb.PullImageRequest(image=pb.ImageSpec(image=ref)),
    }
    methods = {m.name: (s, m) for s, m in unary_methods()}
    try:
        for reference in references:
            for name, build in calls.items():
                service, method = methods[name]
                code, details = fuzzer.call(service, method, build(reference))
                assert code == grpc.StatusCode.INVALID_ARGUMENT, (name, reference, details)
                assert "image.image" in details, details
        fuzzer.still_serving()
        assert fuzzer.codes == {"INVALID_ARGUMENT": len(references) * len(calls)}
    finally:
        fuzzer.close()
    with server.client() as client:
        assert client.container_status(container_id).state.name == "CONTAINER_RUNNING"
        assert client.pod_sandbox_status(sandbox_id).state.name == "SANDBOX_READY"
