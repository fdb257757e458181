"""The configuration example in docs/operations.md loads as written, with the real plugins."""

from __future__ import annotations

import re
from pathlib import Path

from kubert.config import load_config
from kubert.plugins import PluginHost

DOC = Path(__file__).parents[2] / "docs" / "operations.md"


def test_the_documented_config_file_loads(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "docs/operations.md lost its TOML example"
    config_file = tmp_path / "kubert.toml"
    config_file.write_text(block.group(1))
    host = PluginHost(autoload=False)
    import kubert_cni.plugin
    import kubert_docker.plugin

    host.load(extra=(kubert_docker.plugin, kubert_cni.plugin))
    config = load_config(config_file, {}, host.serve_options())
    assert config.runtime == "docker"
    assert config.network_plugin == "cni"
    assert config.metrics_address == "127.0.0.1:10258"
    assert config.backend_options("docker")["registry-mirrors"] == ["docker.io=127.0.0.1:5000"]
    assert config.backend_options("cni")["conf-dir"] == "/etc/cni/net.d"
