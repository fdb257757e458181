"""The generic attrs <-> protobuf converter, model by model, with hypothesis round trips."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kubert.model as models
from kubert import InvalidArgumentError
from kubert.cri.api import pb
from kubert.cri.convert import message_field, to_model, to_proto
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
        message_field(request, "config", PodSandboxConfig)
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
    assert message_field(pb.ListPodSandboxRequest(), "filter", PodSandboxFilter,
                         required=False) is None


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
