"""ConfigMaps and Secrets: loading (documents, List, base64), the store's modes, the atomic
writer, env and volumes built from them, and what a missing object does."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kubert.kubelet import KubeletConfig, atomicwriter, load_pods, volumes
from kubert.kubelet.documents import load_documents
from kubert.kubelet.envsources import MissingObjectError, container_env
from kubert.kubelet.manifest import ManifestError
from kubert.kubelet.objects import CONFIG_MAP, SECRET, object_from_dict
from kubert.kubelet.objectstore import ObjectStore

CM = """
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {mode: fast, greeting: hello}
"""
SECRET_DOC = """
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
type: Opaque
data: {token: czNjcjN0}
"""
POD = """
apiVersion: v1
kind: Pod
metadata: {name: app, labels: {tier: web, app: shop}}
spec:
  volumes:
  - {name: cfg, configMap: {name: app-config, items: [{key: mode, path: conf/mode, mode: 0600}]}}
  - {name: sec, secret: {secretName: app-secret, defaultMode: 0400}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  containers:
  - name: c
    image: busybox:1.36
    envFrom: [{prefix: CFG_, configMapRef: {name: app-config}}]
    env:
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: app-secret, key: token}}}
    - {name: MAYBE, valueFrom: {configMapKeyRef: {name: nothere, key: k, optional: true}}}
    - {name: MSG, value: "$(CFG_greeting) world"}
"""


def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs"))


def test_documents_and_list_load_pods_and_objects() -> None:
    loaded = load_documents(CM + "---" + SECRET_DOC + "---" + POD, "all.yaml")
    assert [o.ref for o in loaded.objects] == ["configmap/app-config", "secret/app-secret"]
    assert [p.name for p in loaded.pods] == ["app"]
    assert loaded.objects[1].data == {"token": b"s3cr3t"}
    as_list = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "- " + doc.strip().replace("\n", "\n  ") + "\n" for doc in (CM, SECRET_DOC)
    )
    assert [o.ref for o in load_documents(as_list).objects] == [
        "configmap/app-config", "secret/app-secret"
    ]


def test_a_bad_document_refuses_the_file_naming_document_and_field() -> None:
    bad = SECRET_DOC.replace("czNjcjN0", "not base64!")
    with pytest.raises(ManifestError) as caught:
        load_documents(CM + "---" + bad, "two.yaml")
    assert caught.value.problems == [("#1 data['token']", "not valid base64")]


def test_string_data_wins_and_keys_are_checked() -> None:
    doc = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA=="},
           "stringData": {"a": "y", "b/c": "z"}}
    with pytest.raises(ManifestError) as caught:
        object_from_dict(doc)
    assert [p for p, _ in caught.value.problems] == ["data['b/c']"]
    del doc["stringData"]["b/c"]  # type: ignore[attr-defined]
    assert object_from_dict(doc).data == {"a": b"y"}


def test_secrets_are_private_and_config_maps_readable(tmp_path: Path) -> None:
    objects = store(tmp_path)
    for doc in (CM, SECRET_DOC):
        objects.save(load_documents(doc).objects[0])
    secret_file = objects.root / "secrets" / "default" / "app-secret.json"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((objects.root / "secrets").stat().st_mode) == 0o700
    cm_file = objects.root / "configmaps" / "default" / "app-config.json"
    assert stat.S_IMODE(cm_file.stat().st_mode) == 0o644
    assert objects.get(SECRET, "default", "app-secret").data == {"token": b"s3cr3t"}
    assert [o.name for o in objects.list(CONFIG_MAP)] == ["app-config"]
    assert objects.delete(CONFIG_MAP, "default", "app-config")
    assert objects.get(CONFIG_MAP, "default", "app-config") is None


def test_atomic_writer_swaps_data_and_drops_what_is_gone(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomicwriter.write(target, {"a": (b"1", 0o644), "d/b": (b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert (target / "a").read_text() == "1" and os.readlink(target / "a") == "..data/a"
    assert stat.S_IMODE((target / "d" / "b").stat().st_mode) == 0o600
    assert not atomicwriter.write(target, {"a": (b"1", 0o644), "d/b": (b"2", 0o600)})
    assert atomicwriter.write(target, {"a": (b"new", 0o644)})
    assert os.readlink(target / "..data") != first
    assert not (target / first).exists()
    assert not (target / "d").exists()
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith("..")) == ["a"]
    assert (target / "a").read_text() == "new"


def test_env_from_objects_in_kubelet_order(tmp_path: Path) -> None:
    objects = store(tmp_path)
    for doc in (CM, SECRET_DOC):
        objects.save(load_documents(doc).objects[0])
    pod = load_pods(POD)[0]
    env = container_env(pod, pod.spec.containers[0], (), objects)
    assert env == {"CFG_mode": "fast", "CFG_greeting": "hello", "TOKEN": "s3cr3t",
                   "MSG": "hello world"}
    objects.delete(SECRET, "default", "app-secret")
    with pytest.raises(MissingObjectError) as caught:
        container_env(pod, pod.spec.containers[0], (), objects)
    assert str(caught.value) == 'secret "app-secret" not found'


def test_missing_key_message_names_object_and_key(tmp_path: Path) -> None:
    objects = store(tmp_path)
    objects.save(load_documents(CM).objects[0])
    text = POD.replace("configMapRef: {name: app-config}",
                       "configMapRef: {name: x, optional: true}")
    text = text.replace("secretKeyRef: {name: app-secret, key: token}",
                        "configMapKeyRef: {name: app-config, key: nokey}")
    pod = load_pods(text)[0]
    with pytest.raises(MissingObjectError) as caught:
        container_env(pod, pod.spec.containers[0], (), objects)
    assert str(caught.value) == "couldn't find key nokey in ConfigMap default/app-config"


def test_volumes_items_modes_downward_and_refresh(tmp_path: Path) -> None:
    objects = store(tmp_path)
    for doc in (CM, SECRET_DOC):
        objects.save(load_documents(doc).objects[0])
    pod = load_pods(POD)[0]
    config = objects.config
    dirs = {v.name: volumes.setup_volume(config, pod, v) for v in pod.spec.volumes}
    assert dirs["cfg"] == config.pod_dir(pod.uid) / "volumes/kubernetes.io~configmap/cfg"
    assert (dirs["cfg"] / "conf" / "mode").read_text() == "fast"
    assert not (dirs["cfg"] / "greeting").exists()  # items select keys
    assert stat.S_IMODE((dirs["cfg"] / "conf" / "mode").stat().st_mode) == 0o600
    assert (dirs["sec"] / "token").read_bytes() == b"s3cr3t"
    assert stat.S_IMODE((dirs["sec"] / "token").stat().st_mode) == 0o400
    assert (dirs["info"] / "labels").read_text() == 'app="shop"\ntier="web"'
    assert (dirs["info"] / "name").read_text() == "app"

    edited = load_documents(CM.replace("mode: fast", "mode: slow")).objects[0]
    objects.save(edited)
    assert volumes.refresh_pod(config, pod) == ["cfg"]
    assert (dirs["cfg"] / "conf" / "mode").read_text() == "slow"
    assert volumes.refresh_pod(config, pod) == []
    # A volume whose object went away keeps its last content (the kubelet's failed remount).
    objects.delete(CONFIG_MAP, "default", "app-config")
    assert volumes.refresh_pod(config, pod) == []
    assert (dirs["cfg"] / "conf" / "mode").read_text() == "slow"


def test_optional_volume_of_missing_object_is_empty_required_one_fails(tmp_path: Path) -> None:
    objects = store(tmp_path)
    pod = load_pods(POD.replace("{secretName: app-secret, defaultMode: 0400}",
                                "{secretName: app-secret, optional: true}"))[0]
    sec = next(v for v in pod.spec.volumes if v.name == "sec")
    directory = volumes.setup_volume(objects.config, pod, sec)
    assert [p.name for p in directory.iterdir() if not p.name.startswith("..")] == []
    cfg = next(v for v in pod.spec.volumes if v.name == "cfg")
    with pytest.raises(MissingObjectError, match='configmap "app-config" not found'):
        volumes.setup_volume(objects.config, pod, cfg)


def test_env_from_secret_optional_and_invalid_names(tmp_path: Path) -> None:
    objects = store(tmp_path)
    secret = SECRET_DOC.replace("data: {token: czNjcjN0}",
                                "stringData: {token: t, bad-name: x, 1st: y}")
    objects.save(load_documents(secret).objects[0])
    pod = load_pods("""
metadata: {name: p}
spec:
  containers:
  - name: c
    image: x
    envFrom:
    - {secretRef: {name: app-secret}}
    - {configMapRef: {name: absent, optional: true}}
""")[0]
    # Keys that are not variable names ("1st") are skipped, as the kubelet skips them.
    env = container_env(pod, pod.spec.containers[0], (), objects)
    assert env == {"token": "t", "bad-name": "x"}


def test_value_from_needs_exactly_one_source_and_kinds_are_named() -> None:
    with pytest.raises(ManifestError) as caught:
        load_pods("""
metadata: {name: p}
spec:
  containers:
  - name: c
    image: x
    env: [{name: A, valueFrom: {}}]
    envFrom: [{configMapRef: {name: a}, secretRef: {name: b}}]
""")
    paths = [p for p, _ in caught.value.problems]
    assert paths == ["spec.containers[0].env[0].valueFrom", "spec.containers[0].envFrom[0]"]
    with pytest.raises(ManifestError) as caught:
        load_documents("kind: Deployment\nmetadata: {name: d}\nspec: {}\n")
    assert caught.value.problems[0][0] == "kind"

