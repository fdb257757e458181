"""The plugin module: both backends register by name, and the serve flags are cri-dockerd's."""

from __future__ import annotations

from pathlib import Path

from kubert import BackendContext, NetworkBackend
from kubert.plugins import PluginHost
from kubert_cni import plugin
from kubert_cni.backend import CNINetwork
from kubert_cni.kubenet import KubenetNetwork


def test_backends_register_and_build_from_options(tmp_path: Path) -> None:
    host = PluginHost(autoload=False).load(extra=[plugin])
    assert host.backend_class("network", "cni") is CNINetwork
    assert host.backend_class("network", "kubenet") is KubenetNetwork
    backend = host.create_backend(
        "network", "kubenet", BackendContext(root_dir=tmp_path, options={"pod-cidr": "10.9.0.0/24"})
    )
    assert isinstance(backend, NetworkBackend)
    assert isinstance(backend, KubenetNetwork)
    assert backend.pod_cidrs == ("10.9.0.0/24",)


def test_serve_flags_use_cri_dockerds_names() -> None:
    host = PluginHost(autoload=False).load(extra=[plugin])
    flags = {(o.flag, o.backend) for o in host.serve_options()}
    for flag in ("--cni-conf-dir", "--cni-bin-dir", "--cni-cache-dir"):
        assert (flag, "cni") in flags
    for flag in ("--network-plugin-mtu", "--hairpin-mode", "--non-masquerade-cidr", "--pod-cidr",
                 "--cni-bin-dir"):
        assert (flag, "kubenet") in flags
    bin_dir = next(o for o in host.serve_options() if o.flag == "--cni-bin-dir")
    assert bin_dir.type == "list" and bin_dir.default == ["/opt/cni/bin", "/usr/lib/cni"]
