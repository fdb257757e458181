"""Config loading: file order, validity, upconversion, version choice, settings checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubert import BackendContext, InvalidArgumentError
from kubert_cni.config import parse_config, scan
from kubert_cni.errors import CNIConfigError
from kubert_cni.settings import CNISettings

BRIDGE = {"type": "bridge", "bridge": "kbt0"}


def write(directory: Path, name: str, doc: object) -> None:
    (directory / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))


def test_first_valid_file_in_lexicographic_order_wins_and_invalid_ones_are_reported(
    tmp_path: Path,
) -> None:
    write(tmp_path, "05-broken.conflist", "{not json")
    write(tmp_path, "10-notype.conflist", {"cniVersion": "1.0.0", "name": "a", "plugins": [{}]})
    write(tmp_path, "15-old.conf", {"cniVersion": "0.2.0", "name": "b", "type": "bridge"})
    write(tmp_path, "20-good.conflist", {"cniVersion": "0.4.0", "name": "good",
                                         "plugins": [BRIDGE]})
    write(tmp_path, "30-later.conflist", {"cniVersion": "1.0.0", "name": "later",
                                          "plugins": [BRIDGE]})
    write(tmp_path, "00-ignored.txt", "whatever")

    found = scan(tmp_path)

    assert found.network is not None
    assert found.network.name == "good"
    assert found.network.cni_version == "0.4.0"
    reasons = {Path(s.path).name: s.reason for s in found.skipped}
    assert set(reasons) == {"05-broken.conflist", "10-notype.conflist", "15-old.conf"}
    assert "not valid JSON" in reasons["05-broken.conflist"]
    assert "plugins[0] has no 'type'" in reasons["10-notype.conflist"]
    assert "'0.2.0' is not supported" in reasons["15-old.conf"]


def test_conf_and_json_are_upconverted_to_one_plugin_lists(tmp_path: Path) -> None:
    write(tmp_path, "10-single.json", {"cniVersion": "0.3.1", "name": "one", "type": "ptp",
                                       "ipam": {"type": "host-local"}})
    network = scan(tmp_path).network
    assert network is not None
    assert network.plugin_types == ("ptp",)
    assert network.to_document()["plugins"][0]["ipam"] == {"type": "host-local"}
    with pytest.raises(CNIConfigError, match=r"has a 'plugins' list; name it \.conflist"):
        parse_config(json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [BRIDGE]}),
                     "x.conf", single=True)


def test_cni_versions_array_picks_the_highest_supported() -> None:
    doc = {"cniVersion": "0.3.1", "cniVersions": ["0.3.1", "1.1.0", "2.0.0", "1.0.0"],
           "name": "n", "plugins": [BRIDGE]}
    assert parse_config(json.dumps(doc), "n.conflist", single=False).cni_version == "1.1.0"
    doc["cniVersions"] = ["0.1.0", "9.9.9"]
    with pytest.raises(CNIConfigError, match=r"none of cniVersions \['0.1.0', '9.9.9'\]"):
        parse_config(json.dumps(doc), "n.conflist", single=False)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"cniVersion": "1.0.0", "plugins": [BRIDGE]}, "'name' must be a non-empty string"),
        ({"cniVersion": "1.0.0", "name": "a/b", "plugins": [BRIDGE]}, "path separator"),
        ({"cniVersion": "1.0.0", "name": "n", "plugins": []}, "non-empty list"),
        ({"name": "n", "plugins": [BRIDGE]}, "'cniVersion' is missing"),
        ({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../bin/sh"}]},
         "must be a bare binary name"),
        ({"cniVersion": "1.0.0", "name": "n", "plugins": [BRIDGE], "disableCheck": "yes"},
         "'disableCheck' must be true or false"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_invalid_documents_name_the_problem(doc: object, reason: str) -> None:
    with pytest.raises(CNIConfigError, match=reason) as caught:
        parse_config(json.dumps(doc), "/etc/cni/net.d/x.conflist", single=False)
    assert "/etc/cni/net.d/x.conflist" in str(caught.value)


def test_missing_or_empty_dir_says_so(tmp_path: Path) -> None:
    assert "no network config found in" in scan(tmp_path / "absent").problem()
    write(tmp_path, "1.conf", "[]")
    problem = scan(tmp_path).problem()
    assert "no valid network config" in problem and "1.conf" in problem


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"hairpin-mode": "sometimes"}, "--hairpin-mode"),
        ({"pod-cidr": "10.0.0.0/33"}, "--pod-cidr"),
        ({"pod-cidr": "10.0.0.0/24,10.1.0.0/24"}, "--pod-cidr"),
        ({"non-masquerade-cidr": "ten"}, "--non-masquerade-cidr"),
        ({"mtu": 100}, "--network-plugin-mtu"),
        ({"plugin-timeout": 0}, "--cni-plugin-timeout"),
        ({"plugin-timeout": "soon"}, "--cni-plugin-timeout"),
        ({"bridge": "a-bridge-name-too-long"}, "--kubenet-bridge"),
    ],
)
def test_bad_settings_are_refused_naming_the_flag(tmp_path: Path, options: dict[str, object],
                                                  flag: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CNISettings.from_context(BackendContext(root_dir=tmp_path, options=options), "cni")
    assert caught.value.field == flag


def test_settings_defaults_keep_state_under_the_root(tmp_path: Path) -> None:
    settings = CNISettings.from_context(
        BackendContext(root_dir=tmp_path, options={"bin-dir": "/a,/b", "pod-cidr": "fd00::/64 ,"
                                                   " 10.9.0.0/24"}), "kubenet")
    assert settings.cache_dir == tmp_path / "kubenet" / "cache"
    assert settings.ipam_dir == tmp_path / "kubenet" / "ipam"
    assert settings.bin_dirs == (Path("/a"), Path("/b"))
    assert settings.pod_cidrs == ("fd00::/64", "10.9.0.0/24")
    assert str(settings.conf_dir) == "/etc/cni/net.d"
