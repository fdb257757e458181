"""The generic attrs <-> protobuf converter, model by model, with hypothesis round trips."""

from __future__ import annotations

import attrs
import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

import kubert.model as models
from kubert import InvalidArgumentError
from kubert.cri.api import pb
from kubert.cri.convert import to_model, to_proto
from kubert.model import (
    ContainerFilter,
    ContainerState,
    Image,
    LinuxContainerSecurityContext,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxState,
    PortMapping,
    Protocol,
)

# Models whose protobuf message has the same name; the converter must cover every field pair.
PAIRS = [
    (getattr(models, name), getattr(pb, name))
    for name in models.__all__
    if attrs.has(getattr(models, name)) and hasattr(pb, name)
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_every_model_field_exists_in_its_message(model: type, message: type) -> None:
    names = {f.name for f in message.DESCRIPTOR.fields}
    missing = [a.name for a in attrs.fields(model) if a.name not in names]
    assert missing == []


def test_wrappers_and_state_values() -> None:
    context = LinuxContainerSecurityContext(run_as_user=0, run_as_group=None)
    message = to_proto(context, pb.LinuxContainerSecurityContext)
    assert message.HasField("run_as_user") and message.run_as_user.value == 0
    assert not message.HasField("run_as_group")
    assert to_model(message, LinuxContainerSecurityContext) == context

    image = Image(id="sha256:1", uid=None, username="nobody")
    assert not to_proto(image, pb.Image).HasField("uid")
    assert to_model(to_proto(image, pb.Image), Image).uid is None

    filters = ContainerFilter(state=ContainerState.CONTAINER_EXITED, label_selector={"a": "b"})
    message_filter = to_proto(filters, pb.ContainerFilter)
    assert message_filter.state.state == pb.CONTAINER_EXITED
    assert to_model(message_filter, ContainerFilter) == filters
    assert to_model(pb.PodSandboxFilter(), PodSandboxFilter).state is None
    ready = pb.PodSandboxFilter(state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY))
    assert to_model(ready, PodSandboxFilter).state == PodSandboxState.SANDBOX_READY


def test_errors_carry_the_full_path() -> None:
    request = pb.RunPodSandboxRequest(
        config=pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="ok", uid="u", namespace="ns"),
            linux=pb.LinuxPodSandboxConfig(sysctls={"bad key!": "1"}),
        )
    )
    with pytest.raises(InvalidArgumentError) as info:
        to_model(request, models.RunPodSandboxRequest)
    assert info.value.field == "config.linux.sysctls['bad key!']"

    bad_enum = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="ok", uid="u", namespace="ns"),
        port_mappings=[pb.PortMapping(), pb.PortMapping(protocol=12)],
    )
    with pytest.raises(InvalidArgumentError) as enum_info:
        to_model(bad_enum, PodSandboxConfig, "config")
    assert enum_info.value.field == "config.port_mappings[1].protocol"
    assert enum_info.value.value == 12


def test_optional_request_field_absent() -> None:
    assert to_model(pb.ListPodSandboxRequest(), models.ListPodSandboxRequest).filter is None
    unset = to_model(pb.UpdateRuntimeConfigRequest(), models.UpdateRuntimeConfigRequest)
    assert unset.runtime_config.network_config.pod_cidr == ""


def test_required_request_field_absent() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        to_model(pb.UpdateContainerResourcesRequest(container_id="c1"),
                 models.UpdateContainerResourcesRequest)
    assert str(info.value) == "linux: is required (got None)"


_VALID_SANDBOX = pb.PodSandboxConfig(
    metadata=pb.PodSandboxMetadata(name="ok", uid="u", namespace="ns")
)
_CMD_LIMIT = "must be at most 65536 characters, no NUL"
_TIMEOUT = "must be between 0 and 2147483647 seconds"


# The request models' validators answer with the texts the server wrote inline before:
# (request message, its model, the whole error message).
@pytest.mark.parametrize(
    ("message", "model", "expected"),
    [
        (pb.RunPodSandboxRequest(config=_VALID_SANDBOX, runtime_handler="a\x00b"),
         models.RunPodSandboxRequest, "runtime_handler: is not a handler name (got 'a\\x00b')"),
        (pb.RunPodSandboxRequest(config=_VALID_SANDBOX, runtime_handler="h" * 257),
         models.RunPodSandboxRequest,
         f"runtime_handler: is not a handler name (got {'h' * 40!r})"),
        (pb.UpdateRuntimeConfigRequest(runtime_config=pb.RuntimeConfig(
            network_config=pb.NetworkConfig(pod_cidr="x" * 5000))),
         models.UpdateRuntimeConfigRequest,
         f"runtime_config.network_config.pod_cidr: is not a CIDR list (got {'x' * 40!r})"),
        (pb.ExecSyncRequest(container_id="c1"), models.ExecSyncRequest,
         "cmd: must name a command to run (got ())"),
        (pb.ExecSyncRequest(container_id="c1", cmd=["sh", "a\x00"]), models.ExecSyncRequest,
         f"cmd[1]: {_CMD_LIMIT} (got 'a\\x00')"),
        (pb.ExecSyncRequest(container_id="c1", cmd=["x"] * 4097), models.ExecSyncRequest,
         "cmd: has more than 4096 items (got 4097)"),
        (pb.ExecSyncRequest(container_id="c1", cmd=["true"], timeout=-1),
         models.ExecSyncRequest, f"timeout: {_TIMEOUT} (got -1)"),
        (pb.StopContainerRequest(container_id="c1", timeout=2**31), models.StopContainerRequest,
         f"timeout: {_TIMEOUT} (got 2147483648)"),
        (pb.StopPodSandboxRequest(pod_sandbox_id="a/b"), models.StopPodSandboxRequest,
         "pod_sandbox_id: must be 1-128 letters, digits, '_', '-' or '.' (got 'a/b')"),
        (pb.CheckpointContainerRequest(container_id="c1"), models.CheckpointContainerRequest,
         "location: must be a path of at most 4096 characters (got '')"),
        (pb.PullImageRequest(image=pb.ImageSpec()), models.PullImageRequest,
         "image.image: must name an image (got '')"),
        (pb.RemoveImageRequest(image=pb.ImageSpec()), models.RemoveImageRequest,
         "image.image: must name an image (got '')"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if isinstance(value, type) else None,
)
def test_request_validators_name_field_and_value(
    message: Message, model: type, expected: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        to_model(message, model)
    assert str(info.value) == expected


_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_labels = st.dictionaries(_names, st.text(max_size=20).filter(lambda t: "\x00" not in t),
                          max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    name=_names, namespace=_names, uid=_names, attempt=st.integers(0, 2**32 - 1),
    labels=_labels, annotations=_labels,
    ports=st.lists(
        st.builds(
            PortMapping, protocol=st.sampled_from(Protocol),
            container_port=st.integers(0, 65535), host_port=st.integers(0, 65535),
        ),
        max_size=3,
    ),
)
def test_sandbox_config_round_trip(
    name: str, namespace: str, uid: str, attempt: int, labels: dict[str, str],
    annotations: dict[str, str], ports: list[PortMapping],
) -> None:
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name=name, namespace=namespace, uid=uid, attempt=attempt),
        labels=labels, annotations=annotations, port_mappings=tuple(ports),
    )
    message = to_proto(config, pb.PodSandboxConfig)
    # Through the wire format too, as the server receives it.
    wire = pb.PodSandboxConfig.FromString(message.SerializeToString())
    assert to_model(wire, PodSandboxConfig) == config


def test_requests_name_their_first_bad_field_in_field_order() -> None:
    """The server converts ``in_order``: a request's ID or handler is named before a fault
    in its nested messages, as the server's checks always did; without it the converter
    converts every nested message first."""
    create = pb.CreateContainerRequest(pod_sandbox_id="", sandbox_config=_VALID_SANDBOX)
    with pytest.raises(InvalidArgumentError) as ordered:
        to_model(create, models.CreateContainerRequest, in_order=True)
    assert ordered.value.field == "pod_sandbox_id"
    with pytest.raises(InvalidArgumentError) as unordered:
        to_model(create, models.CreateContainerRequest)
    assert unordered.value.field == "config"

    run = pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(), runtime_handler="\x00")
    with pytest.raises(InvalidArgumentError) as handler:
        to_model(run, models.RunPodSandboxRequest, in_order=True)
    assert handler.value.field == "runtime_handler"

    pull = pb.PullImageRequest(image=pb.ImageSpec(), sandbox_config=pb.PodSandboxConfig())
    with pytest.raises(InvalidArgumentError) as image:
        to_model(pull, models.PullImageRequest, in_order=True)
    assert image.value.field == "image.image"
    with pytest.raises(InvalidArgumentError) as nested_first:
        to_model(pull, models.PullImageRequest)
    assert nested_first.value.field == "sandbox_config.metadata"
