"""Results of every supported version: validation, conversion, and the pod's IPs."""

from __future__ import annotations

import pytest

from kubert import InvalidArgumentError, PodIP
from kubert_cni.podargs import parse_bandwidth
from kubert_cni.result import ResultError, convert_result, pod_network_status, validate_result

NETNS = "/var/run/netns/pod"


def result(version: str) -> dict[str, object]:
    old = version < "1.0.0"
    ips = [
        {"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2},
        {"address": "fd00::5/64", "interface": 2},
        {"address": "10.1.0.1/24", "interface": 0},  # the bridge's own address
        {"address": "10.1.0.6/24", "interface": 2},
    ]
    if old:
        for ip in ips:
            ip["version"] = "6" if ":" in str(ip["address"]) else "4"
    return {
        "cniVersion": version,
        "interfaces": [
            {"name": "cbr0", "mac": "aa:bb:cc:dd:ee:ff"},
            {"name": "veth1", "mac": "aa:bb:cc:dd:ee:fe"},
            {"name": "eth0", "mac": "aa:bb:cc:dd:ee:fd", "sandbox": NETNS},
        ],
        "ips": ips,
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {},
    }


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
def test_pod_ips_of_every_version(version: str) -> None:
    res = result(version)
    validate_result(res)
    status = pod_network_status(res, NETNS)
    assert status.ip == "10.1.0.5"
    assert status.additional_ips == (PodIP(ip="fd00::5"), PodIP(ip="10.1.0.6"))


def test_ipv6_only_is_primary_and_ips_without_interface_count() -> None:
    res = {"cniVersion": "1.0.0", "ips": [{"address": "fd00::7/64"}]}
    assert pod_network_status(res, NETNS).ip == "fd00::7"
    assert pod_network_status({"cniVersion": "1.0.0"}, NETNS).ip == ""


def test_conversion_adds_and_drops_the_ip_version_field() -> None:
    new = convert_result(result("0.4.0"), "1.0.0")
    assert new["cniVersion"] == "1.0.0"
    assert all("version" not in ip for ip in new["ips"])
    old = convert_result(new, "0.3.1")
    assert [ip["version"] for ip in old["ips"]] == ["4", "6", "4", "4"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"ips": [{"address": "10.1.0.5"}]}, r"ips\[0\].address must be an address in CIDR"),
        ({"ips": [{"address": "10.1.0.5/24", "interface": 4}]}, r"ips\[0\].interface must index"),
        ({"ips": "x"}, "'ips' must be a list"),
        ({"interfaces": {}}, "'interfaces' must be a list"),
    ],
)
def test_invalid_results_name_the_field(bad: dict[str, object], message: str) -> None:
    with pytest.raises(ResultError, match=message):
        validate_result(bad)


@pytest.mark.parametrize(
    ("text", "bits"),
    [("10M", 10_000_000), ("1Gi", 2**30), ("1.5k", 1500), ("1e6", 1_000_000), ("1000", 1000)],
)
def test_bandwidth_quantities(text: str, bits: int) -> None:
    assert parse_bandwidth("kubernetes.io/ingress-bandwidth", text) == bits


@pytest.mark.parametrize(("text", "why"), [("fast", "quantity"), ("999", "below 1k"),
                                           ("2P", "above 1P"), ("-5M", "below 1k")])
def test_bad_bandwidth_names_the_annotation(text: str, why: str) -> None:
    with pytest.raises(InvalidArgumentError, match=why) as caught:
        parse_bandwidth("kubernetes.io/egress-bandwidth", text)
    assert caught.value.field == "annotations['kubernetes.io/egress-bandwidth']"
