"""kubert_docker.podfiles: a pod's resolv.conf and hosts as the engine would write them."""

from __future__ import annotations

from pathlib import Path

import kubert
from kubert_docker import podfiles
from kubert_docker.dns import dns_dict, pod_resolv_conf
from kubert_docker.podfiles import PodFiles, host_resolv_conf


def test_pod_dns_config_in_the_engines_order() -> None:
    dns = dns_dict(kubert.DNSConfig(servers=("10.96.0.10",), searches=("a.svc", "svc"),
                                        options=("ndots:5",)))
    assert dns is not None
    assert pod_resolv_conf(dns) == "search a.svc svc\nnameserver 10.96.0.10\noptions ndots:5\n"


def test_host_resolv_conf_drops_loopback_nameservers(tmp_path: Path) -> None:
    source = tmp_path / "resolv.conf"
    source.write_text("# comment\nnameserver 127.0.0.1\nnameserver 10.0.0.2\n"
                      "nameserver ::1\nsearch example.org\noptions edns0\n")
    assert host_resolv_conf(source) == (
        "# comment\nnameserver 10.0.0.2\nsearch example.org\noptions edns0\n"
    )


def test_host_resolv_conf_falls_back_to_the_engines_defaults(tmp_path: Path) -> None:
    source = tmp_path / "resolv.conf"
    source.write_text("nameserver 127.0.0.11\nsearch lan\n")
    assert host_resolv_conf(source) == "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_searches_without_servers_keep_the_hosts_nameservers(tmp_path: Path) -> None:
    source = tmp_path / "host-resolv.conf"
    source.write_text("nameserver 10.0.0.2\n")
    files = PodFiles(tmp_path / "pods", host_resolv=source)
    files.write("s1", {"servers": [], "searches": ["svc"], "options": []})
    assert (files.directory("s1") / "resolv.conf").read_text() == (
        "search svc\nnameserver 10.0.0.2\n"
    )


def test_binds_leave_a_mounted_file_to_its_mount_and_follow_readonly(tmp_path: Path) -> None:
    files = PodFiles(tmp_path)
    mounts = (kubert.Mount(container_path="/etc/hosts/", host_path="/x"),)
    assert files.binds("s1", mounts, readonly=True) == [
        f"{tmp_path}/s1/resolv.conf:/etc/resolv.conf:ro"
    ]
    assert len(files.binds("s1", (), readonly=False)) == 2


def test_ensure_rewrites_what_a_crash_emptied_and_sweep_removes_the_unknown(
    tmp_path: Path,
) -> None:
    files = PodFiles(tmp_path)
    files.write("keep", {"servers": ["10.0.0.9"], "searches": [], "options": []})
    files.write("gone", None)
    (files.directory("keep") / "hosts").write_text("")
    files.ensure("keep", {"servers": ["10.0.0.9"], "searches": [], "options": []})
    assert (files.directory("keep") / "hosts").read_text() == podfiles.DEFAULT_HOSTS
    assert (files.directory("keep") / "resolv.conf").read_text() == "nameserver 10.0.0.9\n"
    files.sweep(["keep"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
