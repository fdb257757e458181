"""Pull secrets in the kubelet's order, unit-level: image locations, docker config keys, the
pod's kubernetes.io/dockerconfigjson Secrets before the node's config.json."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kubert.kubelet import KubeletConfig, load_pods
from kubert.kubelet.documents import load_documents
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.pullsecrets import credentials, image_location


@pytest.mark.parametrize(
    ("image", "where"),
    [
        ("nginx", ("index.docker.io", "library/nginx")),
        ("docker.io/library/nginx:1.25", ("index.docker.io", "library/nginx")),
        ("127.0.0.1:5000/team/app:v1", ("127.0.0.1:5000", "team/app")),
        ("quay.io/org/app@sha256:" + "a" * 64, ("quay.io", "org/app")),
        ("localhost/app", ("localhost", "app")),
    ],
)
def test_image_location(image: str, where: tuple[str, str]) -> None:
    assert image_location(image) == where


def dockerconfig(entries: dict[str, tuple[str, str]]) -> str:
    auths = {k: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
             for k, (u, p) in entries.items()}
    return json.dumps({"auths": auths})


def secret(name: str, entries: dict[str, tuple[str, str]]) -> str:
    encoded = base64.b64encode(dockerconfig(entries).encode()).decode()
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: {name}}}
type: kubernetes.io/dockerconfigjson
data: {{.dockerconfigjson: {encoded}}}
"""


POD = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  imagePullSecrets: [{name: first}, {name: missing}, {name: second}]
  containers: [{name: c, image: "reg.example:5000/team/app:v1"}]
"""


def test_pod_secrets_in_order_then_node_config(tmp_path: Path) -> None:
    config = KubeletConfig(root_dir=tmp_path / "kubelet")
    objects = ObjectStore(config)
    objects.save(load_documents(secret("first", {
        "reg.example:5000": ("host-wide", "1"),
        "https://reg.example:5000/team": ("team", "2"),
        "other.example": ("unrelated", "x"),
    })).objects[0])
    objects.save(load_documents(secret("second", {"reg.example:5000/team/app": ("app", "3")}))
                 .objects[0])
    (config.root_dir / "config.json").write_text(dockerconfig({"*.example:5000": ("node", "4")}))
    pod = load_pods(POD)[0]
    found = credentials(config, pod, pod.spec.containers[0].image)
    assert [(a.username, a.password) for a in found] == [
        ("team", "2"), ("host-wide", "1"), ("app", "3"), ("node", "4")
    ]
    assert found[0].server_address == "reg.example:5000"
    assert credentials(config, pod, "elsewhere.io/app") == []


def test_a_dockerconfigjson_secret_needs_its_key() -> None:
    text = "kind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\n"
    with pytest.raises(Exception, match=r"\.dockerconfigjson"):
        load_documents(text)
