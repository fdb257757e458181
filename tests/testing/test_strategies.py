"""The public strategies draw what they promise: valid configs build, near-valid values are
refused by the models with an error naming the field."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubert import (
    ContainerConfig,
    ContainerMetadata,
    InvalidArgumentError,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubert.testing import strategies
from kubert.testing.configs import ConfigFactory


@settings(max_examples=50, deadline=None)
@given(config=strategies.sandbox_configs())
def test_sandbox_configs_are_valid(config: PodSandboxConfig) -> None:
    assert config.metadata.name and config.metadata.uid


@settings(max_examples=50, deadline=None)
@given(config=strategies.container_configs())
def test_container_configs_are_valid(config: ContainerConfig) -> None:
    assert config.image.image == "busybox:latest"


@settings(max_examples=50, deadline=None)
@given(name=strategies.invalid_names())
def test_invalid_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        PodSandboxMetadata(name=name, uid="u", namespace="default")
    assert caught.value.field == "name"
    with pytest.raises(InvalidArgumentError):
        ContainerMetadata(name=name)


@settings(max_examples=50, deadline=None)
@given(key=strategies.invalid_label_keys(), value=strategies.label_values())
def test_invalid_label_keys_are_refused(key: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError, match="labels"):
        PodSandboxConfig(
            metadata=PodSandboxMetadata(name="a", uid="u", namespace="n"), labels={key: value}
        )


@settings(max_examples=50, deadline=None)
@given(spec=strategies.sandbox_specs(), container=strategies.container_specs(images=3),
       images=st.lists(st.sampled_from(["a:1", "b:2", "c:3"]), min_size=1, max_size=3))
def test_specs_become_valid_configs(
    spec: strategies.SandboxSpec, container: strategies.ContainerSpec, images: list[str]
) -> None:
    factory = ConfigFactory(images=tuple(images))
    sandbox = factory.sandbox(spec)
    assert sandbox.metadata.uid.endswith(factory.token)
    assert (sandbox.labels, sandbox.annotations) == (spec.labels, spec.annotations)
    config = factory.container(container)
    assert config.image.image in images
    if container.exit_code is not None:
        assert config.command + config.args == ("sh", "-c", f"exit {container.exit_code}")
    assert repr(container).startswith("ContainerSpec(")
