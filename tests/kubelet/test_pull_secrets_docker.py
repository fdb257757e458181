"""Pull secrets on the real engine: a private registry on 127.0.0.1 demanding htpasswd auth.
Without credentials the pull fails (ErrImagePull); with the pod's dockerconfigjson Secret
(a wrong credential first, the right one second: tried in turn) or the node's config.json
it succeeds, and the container is created from the pulled image's ID."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from kubert.model import ContainerFilter

from .conftest import invoker

pytestmark = [pytest.mark.docker]



def dockerconfig(host: str, *users: tuple[str, str]) -> str:
    # Several entries for one registry: the more specific key (with the path) is tried first.
    keys = [f"{host}/kubert", host]
    auths = {key: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
             for key, (u, p) in zip(keys, users, strict=False)}
    return json.dumps({"auths": auths})


def test_private_registry_pulls_with_pod_secret_then_node_config(
    docker_auth_registry: Any, clean_engine: Any, docker_client: Any,
    cri_server_factory: Callable[..., Any], cli: click.Group, tmp_path: Path,
) -> None:
    from kubert_docker import plugin as docker_plugin

    server = cri_server_factory(
        runtime="docker", network="noop", plugins=(docker_plugin,),
        pod_infra_image=clean_engine.pause, options={"docker": clean_engine.backend_options()},
    )
    root = tmp_path / "kubelet"
    run = invoker(cli, server.address, tmp_path)

    registry = docker_auth_registry
    image = registry.busybox
    good = (registry.username, registry.password)
    secret = base64.b64encode(
        dockerconfig(registry.host, (registry.username, "wrong"), good).encode()
    ).decode()
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: private}}
spec:
  terminationGracePeriodSeconds: 1
  imagePullSecrets: [{{name: regcred}}]
  containers:
  - {{name: app, image: "{image}", imagePullPolicy: Always, command: [sleep, "3600"]}}
"""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(pod)
    try:
        refused = run("apply", "-f", str(manifest), "--timeout", "20")
        assert refused.exit_code == 1 and "ErrImagePull" in refused.output, refused.output

        objects = tmp_path / "secret.yaml"
        objects.write_text(f"""
apiVersion: v1
kind: Secret
metadata: {{name: regcred}}
type: kubernetes.io/dockerconfigjson
data: {{.dockerconfigjson: {secret}}}
""")
        assert run("apply", "-f", str(objects)).exit_code == 0
        run("delete", "-f", str(manifest))  # start afresh: no image backoff left
        pulled = run("apply", "-f", str(manifest), "--timeout", "60")
        assert pulled.exit_code == 0, pulled.output
        assert f'Successfully pulled image "{image}"' in pulled.output
        cri = server.client()
        try:
            (created,) = cri.list_containers(
                ContainerFilter(label_selector={"io.kubernetes.pod.name": "private"})
            )
            image_id = docker_client.images.get(image).id
            assert created.image.image == image_id
            assert created.image.user_specified_image == image
        finally:
            cri.close()
        run("delete", "-f", str(manifest))
        run("delete", "-f", str(objects))
        docker_client.images.remove(image)

        # Without the Secret, the node's docker config (<root-dir>/config.json) is used.
        (root / "config.json").write_text(dockerconfig(registry.host, good))
        node = run("apply", "-f", str(manifest), "--timeout", "60")
        assert node.exit_code == 0, node.output
    finally:
        run("delete", "-f", str(manifest))
        with contextlib.suppress(Exception):  # already gone when the test failed early
            docker_client.images.remove(image)
