"""Malformed requests get INVALID_ARGUMENT naming the field, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from kubert.cri.api import pb

from .helpers import Pod, Stubs, container_config, sandbox_config


def _sandbox(mutate: Callable[[pb.PodSandboxConfig], None]) -> pb.RunPodSandboxRequest:
    config = sandbox_config("bad")
    mutate(config)
    return pb.RunPodSandboxRequest(config=config)


def _container(mutate: Callable[[pb.ContainerConfig], None], pod: Pod) -> pb.CreateContainerRequest:
    config = container_config("bad")
    mutate(config)
    return pb.CreateContainerRequest(
        pod_sandbox_id=pod.sandbox_id, config=config, sandbox_config=pod.config
    )


def _clear_metadata(config: pb.PodSandboxConfig) -> None:
    config.ClearField("metadata")


# (case id, the call, the field the error must name)
Call = Callable[[Stubs, Pod], object]
CASES: list[tuple[str, Call, str]] = [
    ("no config", lambda s, p: s.runtime.RunPodSandbox(pb.RunPodSandboxRequest()), "config"),
    (
        "empty metadata",
        lambda s, p: s.runtime.RunPodSandbox(_sandbox(_clear_metadata)),
        "config.metadata",
    ),
    (
        "empty name",
        lambda s, p: s.runtime.RunPodSandbox(_sandbox(lambda c: setattr(c.metadata, "name", ""))),
        "config.metadata.name",
    ),
    (
        "name with underscore",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c.metadata, "namespace", "a_b"))
        ),
        "config.metadata.namespace",
    ),
    (
        "unknown protocol enum",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c.port_mappings[0], "protocol", 7))
        ),
        "config.port_mappings[0].protocol",
    ),
    (
        "unknown namespace mode enum",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c.linux.security_context.namespace_options, "network", 42))
        ),
        "config.linux.security_context.namespace_options.network",
    ),
    (
        "port out of range",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c.port_mappings[0], "host_port", 70000))
        ),
        "config.port_mappings[0].host_port",
    ),
    (
        "bad label key",
        lambda s, p: s.runtime.RunPodSandbox(_sandbox(lambda c: c.labels.update({"-bad": "x"}))),
        "config.labels",
    ),
    (
        # The error names the key; a 20 KiB key must not push the status past what gRPC
        # carries (the client would see RESOURCE_EXHAUSTED "Stream removed" instead).
        "huge bad label key",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: c.labels.update({"-" + "k" * 20000: "x"}))
        ),
        "config.labels",
    ),
    (
        "absurd annotations",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: c.annotations.update({f"k{i}": "v" * 1024 for i in range(300)}))
        ),
        "config.annotations",
    ),
    (
        "absurd hostname",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c, "hostname", "h" * 5000))
        ),
        "config.hostname",
    ),
    (
        "relative log directory",
        lambda s, p: s.runtime.RunPodSandbox(
            _sandbox(lambda c: setattr(c, "log_directory", "var/log"))
        ),
        "config.log_directory",
    ),
    (
        "empty sandbox id",
        lambda s, p: s.runtime.StopPodSandbox(pb.StopPodSandboxRequest()),
        "pod_sandbox_id",
    ),
    (
        "path in sandbox id",
        lambda s, p: s.runtime.RemovePodSandbox(
            pb.RemovePodSandboxRequest(pod_sandbox_id="../../etc")
        ),
        "pod_sandbox_id",
    ),
    (
        "absurd container id",
        lambda s, p: s.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id="a" * 4096)),
        "container_id",
    ),
    (
        "negative stop timeout",
        lambda s, p: s.runtime.StopContainer(
            pb.StopContainerRequest(container_id=p.container_id, timeout=-5)
        ),
        "timeout",
    ),
    (
        "empty exec command",
        lambda s, p: s.runtime.ExecSync(pb.ExecSyncRequest(container_id=p.container_id)),
        "cmd",
    ),
    (
        "unknown state in filter",
        lambda s, p: s.runtime.ListContainers(
            pb.ListContainersRequest(
                filter=pb.ContainerFilter(state=pb.ContainerStateValue(state=99))
            )
        ),
        "filter.state.state",
    ),
    (
        "bad filter id",
        lambda s, p: s.runtime.ListPodSandbox(
            pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(id="no/slashes"))
        ),
        "filter.id",
    ),
    (
        "container without metadata",
        lambda s, p: s.runtime.CreateContainer(_container(lambda c: c.ClearField("metadata"), p)),
        "config.metadata",
    ),
    (
        "env key with '='",
        lambda s, p: s.runtime.CreateContainer(
            _container(lambda c: c.envs.add(key="A=B", value="x"), p)
        ),
        "config.envs[0].key",
    ),
    (
        "relative mount path",
        lambda s, p: s.runtime.CreateContainer(
            _container(lambda c: c.mounts.add(container_path="data", host_path="/tmp"), p)
        ),
        "config.mounts[0].container_path",
    ),
    (
        "unknown mount propagation",
        lambda s, p: s.runtime.CreateContainer(
            _container(lambda c: c.mounts.add(container_path="/d", propagation=9), p)
        ),
        "config.mounts[0].propagation",
    ),
    (
        "absurd argument list",
        lambda s, p: s.runtime.CreateContainer(
            _container(lambda c: c.args.extend(["x"] * 5000), p)
        ),
        "config.args",
    ),
    (
        "log path escaping its directory",
        lambda s, p: s.runtime.CreateContainer(
            _container(lambda c: setattr(c, "log_path", "../../etc/passwd"), p)
        ),
        "config.log_path",
    ),
    (
        "no sandbox config",
        lambda s, p: s.runtime.CreateContainer(
            pb.CreateContainerRequest(pod_sandbox_id=p.sandbox_id, config=container_config("x"))
        ),
        "sandbox_config",
    ),
    (
        "pull without image",
        lambda s, p: s.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec())),
        "image.image",
    ),
    (
        "image status without spec",
        lambda s, p: s.images.ImageStatus(pb.ImageStatusRequest()),
        "image",
    ),
    (
        "negative oom score",
        lambda s, p: s.runtime.UpdateContainerResources(
            pb.UpdateContainerResourcesRequest(
                container_id=p.container_id,
                linux=pb.LinuxContainerResources(oom_score_adj=-5000),
            )
        ),
        "linux.oom_score_adj",
    ),
]


@pytest.mark.parametrize(("call", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_argument_names_the_field(
    stubs: Stubs, pod: Pod, call: Call, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(stubs, pod)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert info.value.details().startswith(field + ":") or info.value.details().startswith(
        field + "["
    ), info.value.details()
    # The server is still there, and the pod it already had is intact.
    assert stubs.runtime.Version(pb.VersionRequest()).runtime_name == "kubert"
    items = stubs.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert [s.id for s in items] == [pod.sandbox_id]


def test_oversized_message_is_refused_and_server_keeps_serving(stubs: Stubs) -> None:
    huge = sandbox_config("huge")
    huge.annotations["blob"] = "x" * (17 * 1024 * 1024)
    with pytest.raises(grpc.RpcError) as info:
        stubs.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=huge))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stubs.runtime.Version(pb.VersionRequest()).runtime_name == "kubert"
