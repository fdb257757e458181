"""Every flag of cri-dockerd, as its own ``--help`` lists them, is accepted by ``kubert serve``.

The flag list is read from the real cri-dockerd binary when it is present (a newer
cri-dockerd with a new flag fails this test until kubert knows the flag), else from kubert's
own table. Values are given as an operator's cri-dockerd unit file gives them, and
``--print-config`` shows what kubert made of each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import click
import pytest

from kubert.cli.compat import CRI_DOCKERD_FLAGS, normalize_bool_flags, parse_duration

from .systemd_helpers import CRI_DOCKERD, ROOT, kubert

#: A value for each cri-dockerd flag that takes one, as a cri-dockerd unit file spells it.
VALUES = {
    "--cni-bin-dir": "/opt/cni/bin,/usr/lib/cni",
    "--cni-cache-dir": "/var/lib/cni/cache",
    "--cni-conf-dir": "/etc/cni/net.d",
    "--container-runtime-endpoint": "unix:///var/run/cri-dockerd.sock",
    "--cri-dockerd-root-directory": "/var/lib/cri-dockerd",
    "--docker-endpoint": "unix:///var/run/docker.sock",
    "--hairpin-mode": "hairpin-veth",
    "--image-pull-progress-deadline": "1m30s",
    "--log-level": "warn",
    "--network-plugin": "cni",
    "--network-plugin-mtu": "1400",
    "--pod-cidr": "10.244.0.0/24",
    "--pod-infra-container-image": "registry.k8s.io/pause:3.10",
    "--runtime-cgroups": "/system.slice/docker.service",
    "--runtime-request-timeout": "2m30s",
    "--streaming-bind-addr": "127.0.0.1:10010",
}
#: Boolean flags that print and exit, checked on their own.
EXITING = {"--help", "--version", "--buildinfo"}
_FLAG_LINE = re.compile(r"^\s+(?:-\w, )?(--[\w-]+)(?: (\w+))?\s{2,}")


def cri_dockerd_flags() -> dict[str, bool]:
    """flag -> takes a value, from ``cri-dockerd --help`` (or kubert's table without it)."""
    if not CRI_DOCKERD.exists():
        return {f.name: f.takes_value for f in CRI_DOCKERD_FLAGS}
    result = subprocess.run([str(CRI_DOCKERD), "--help"], capture_output=True, text=True,
                            timeout=30)
    flags = {}
    for line in result.stdout.splitlines():
        match = _FLAG_LINE.match(line)
        if match:
            flags[match.group(1)] = match.group(2) is not None
    assert "--container-runtime-endpoint" in flags, result.stdout
    return flags


def _argv() -> list[str]:
    argv = []
    for flag, takes_value in sorted(cri_dockerd_flags().items()):
        if flag in EXITING:
            continue
        if takes_value:
            assert flag in VALUES, f"cri-dockerd has a flag this test has no value for: {flag}"
            argv += [flag, VALUES[flag]]
        else:
            argv.append(f"{flag}=true")  # pflag's form; the bare flag is tested below
    return argv


def _print_config(*argv: str, autoload: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["KUBERT_DISABLE_PLUGIN_AUTOLOAD"] = "0" if autoload else "1"
    return subprocess.run(kubert("serve", *argv, "--print-config"), capture_output=True,
                          text=True, timeout=60, env=env)


def test_the_table_matches_the_real_binary() -> None:
    if not CRI_DOCKERD.exists():
        pytest.skip(f"cri-dockerd is not at {CRI_DOCKERD}")
    assert cri_dockerd_flags() == {f.name: f.takes_value for f in CRI_DOCKERD_FLAGS}


def test_every_cri_dockerd_flag_keeps_its_meaning() -> None:
    result = _print_config(*_argv(), autoload=True)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["container_runtime_endpoint"] == "unix:///var/run/cri-dockerd.sock"
    assert config["root_directory"] == "/var/lib/cri-dockerd"
    assert (config["streaming_address"], config["streaming_port"]) == ("127.0.0.1", 10010)
    assert config["log_level"] == "warning"
    assert config["network_plugin"] == "cni"
    assert config["pod_infra_container_image"] == "registry.k8s.io/pause:3.10"
    assert config["ipv6_dual_stack"] is True
    docker, cni, kubenet = (config["backends"][b] for b in ("docker", "cni", "kubenet"))
    assert docker["endpoint"] == "unix:///var/run/docker.sock"
    assert docker["image-pull-progress-deadline"] == 90  # 1m30s
    assert docker["runtime-request-timeout"] == 150.0  # 2m30s
    assert docker["runtime-cgroups"] == "/system.slice/docker.service"
    assert cni["bin-dir"] == ["/opt/cni/bin", "/usr/lib/cni"]
    assert cni["conf-dir"] == "/etc/cni/net.d"
    assert cni["cache-dir"] == "/var/lib/cni/cache"
    assert cni["pod-cidr"] == "10.244.0.0/24"
    assert (kubenet["hairpin-mode"], kubenet["mtu"]) == ("hairpin-veth", 1400)
    assert "--ipv6-dual-stack: kubert always reports every address" in result.stderr


def test_without_plugins_their_flags_are_noted_not_refused() -> None:
    result = _print_config(*_argv(), autoload=False)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if ": ignored, no loaded plugin" in line]
    ignored = {line.split()[2].rstrip(":") for line in notes}
    assert ignored == {
        "--cni-bin-dir", "--cni-cache-dir", "--cni-conf-dir", "--docker-endpoint",
        "--hairpin-mode", "--image-pull-progress-deadline", "--network-plugin-mtu",
        "--pod-cidr", "--runtime-cgroups", "--runtime-request-timeout",
    }
    assert len(notes) == len(ignored)  # one line each


@pytest.mark.parametrize(("flag", "expected"), [
    ("--version", "kubert "), ("--buildinfo", "Program: kubert"), ("-h", "--cri-dockerd-root"),
])
def test_flags_that_print_and_exit(flag: str, expected: str) -> None:
    result = subprocess.run(kubert("serve", flag), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_bad_values_are_named() -> None:
    result = _print_config("--ipv6-dual-stack=maybe", autoload=False)
    assert result.returncode == 2 and "'--ipv6-dual-stack'" in result.stderr
    assert "'maybe' is not a boolean" in result.stderr
    result = _print_config("--streaming-bind-addr", "node-a:10010", autoload=False)
    assert result.returncode == 2 and "'node-a' is not an IP address" in result.stderr
    result = _print_config("--image-pull-progress-deadline", "soon", autoload=True)
    assert result.returncode == 2 and "'soon' is not a duration" in result.stderr


def test_go_durations() -> None:
    assert parse_duration("1m0s") == 60.0
    assert parse_duration("1h2m3.5s") == 3723.5
    assert parse_duration("300ms") == pytest.approx(0.3)
    assert parse_duration("0") == 0.0 and parse_duration("45") == 45.0
    for bad in ("", "1x", "m", "1m 2s", "s1"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_pflag_booleans() -> None:
    assert normalize_bool_flags(["--ipv6-dual-stack=True", "--version=false"]) == [
        "--ipv6-dual-stack"
    ]
    assert normalize_bool_flags(["--ipv6-dual-stack=0", "--", "--version=1"]) == [
        "--no-ipv6-dual-stack", "--", "--version=1"
    ]
    assert normalize_bool_flags(["--log-level=debug"]) == ["--log-level=debug"]
    with pytest.raises(click.BadParameter):
        normalize_bool_flags(["--buildinfo=yes"])


def test_operations_doc_lists_every_cri_dockerd_flag() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    table = doc[doc.index("| cri-dockerd flag |"):]
    table = table[:table.index("\n\n")]
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    documented = {flag.strip("`, ") for row in rows for flag in row.split("|")[1].split()}
    assert documented - {"-h"} == set(cri_dockerd_flags())
