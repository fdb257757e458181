"""Serve configuration: defaults, TOML file, flags over the file, unknown keys named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubert import InvalidArgumentError, ServeOption
from kubert.config import DEFAULT_ENDPOINT, ServeConfig, load_config, option_id

OPTIONS = [
    ServeOption(flag="--cni-conf-dir", backend="cni", key="conf-dir", default="/etc/cni/net.d"),
    ServeOption(flag="--cni-bin-dir", backend="cni", key="bin-dir", type="list"),
]


def test_defaults() -> None:
    config = load_config(None, {})
    assert config.container_runtime_endpoint == DEFAULT_ENDPOINT
    assert config.root_directory == Path("/var/lib/kubert")
    # cni, as cri-dockerd: a node that swaps one for the other keeps giving pods addresses.
    assert (config.runtime, config.image_backend, config.network_plugin) == (
        "docker", "docker", "cni"
    )
    assert config.checkpoint_store == "file"


def test_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "kubert.toml"
    path.write_text(
        'runtime = "memory"\n'
        'network-plugin = "cni"\n'
        'root-directory = "/srv/kubert"\n'
        'log-level = "debug"\n'
        "[backend.cni]\n"
        'conf-dir = "/opt/cni/conf"\n'
        "[backend.memory]\n"
        "pull_any = true\n"
    )
    config = load_config(
        path,
        {"network_plugin": "noop", "runtime": None},
        OPTIONS,
        {option_id(OPTIONS[1]): ("/a", "/b")},
    )
    assert config.runtime == "memory"  # from the file; the unset flag does not override
    assert config.network_plugin == "noop"  # the flag wins over the file
    assert config.root_directory == Path("/srv/kubert")
    assert config.image_backend == "memory"
    assert config.backend_options("cni") == {"conf-dir": "/opt/cni/conf", "bin-dir": ["/a", "/b"]}
    assert config.backend_options("memory") == {"pull_any": True}


def test_plugin_option_defaults_apply() -> None:
    config = load_config(None, {}, OPTIONS)
    assert config.backend_options("cni") == {"conf-dir": "/etc/cni/net.d"}


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('runtme = "docker"\n', "runtme"),
        ('[backend.cni]\nconf-dri = "/x"\n', "backend.cni.conf-dri"),
        ('log-level = "loud"\n', "log-level"),
        ('runtime = "no spaces allowed"\n', "runtime"),
        ("backend = 3\n", "backend"),
        ("runtime = \n", "config"),
        ('shutdown-grace-period = "soon"\n', "shutdown-grace-period"),
        ("root-directory = 5\n", "root-directory"),
        ("runtime = true\n", "runtime"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(InvalidArgumentError) as info:
        load_config(path, {}, OPTIONS)
    assert named in info.value.field


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no such file"):
        load_config(tmp_path / "absent.toml", {})


def test_image_service_defaults_to_runtime() -> None:
    assert ServeConfig(runtime="memory").image_backend == "memory"
    assert ServeConfig(runtime="memory", image_service="docker").image_backend == "docker"
