"""The docker backend's log options: parsed, refused with the field named, passed to the engine."""

from __future__ import annotations

import pytest

import kubert
from kubert_docker.settings import DockerConfig


def test_defaults_are_the_rotation_kubert_always_used_with_no_daemon_default_left_open(
) -> None:
    assert DockerConfig.from_options({}).engine_log_config() == {
        "Type": "json-file",
        "Config": {"max-size": "50m", "max-file": "2", "compress": "false", "mode": "blocking"},
    }


def test_sizes_and_counts_are_taken_as_the_config_file_or_python_spells_them() -> None:
    config = DockerConfig.from_options({"log-max-size": "512K", "log_max_files": "5"})
    assert config.engine_log_config()["Config"]["max-size"] == "512k"
    assert config.engine_log_config()["Config"]["max-file"] == "5"


@pytest.mark.parametrize(("key", "value"), [
    ("log-max-size", "50x"), ("log-max-size", "0m"), ("log-max-size", ""),
    ("log-max-files", 1), ("log-max-files", "two"),
])
def test_bad_values_name_the_field_and_the_value(key: str, value: object) -> None:
    with pytest.raises(kubert.InvalidArgumentError) as caught:
        DockerConfig.from_options({key: value})
    assert caught.value.field == f"docker.{key}"
    assert caught.value.value == value
