"""The docker image backend against real registries on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import kubert
from kubert_docker.cli import pull as pull_command
from kubert_docker.images import DockerImages

pytestmark = pytest.mark.docker


def _remove(images: DockerImages, ref: str) -> None:
    images.remove_image(kubert.ImageSpec(image=ref))


def test_pull_by_tag_then_by_digest_status_and_list(
    images: DockerImages, docker_registry: Any
) -> None:
    ref = docker_registry.tiny[0]
    seen: list[kubert.PullProgress] = []
    image_id = images.pull_image(kubert.ImageSpec(image=ref), None, None, progress=seen.append)
    try:
        assert image_id.startswith("sha256:")
        assert any(p.status for p in seen)
        status = images.image_status(kubert.ImageSpec(image=ref))
        assert status is not None and status.id == image_id
        assert ref in status.repo_tags and status.size > 0
        [digest] = status.repo_digests
        assert images.image_status(kubert.ImageSpec(image=digest)).id == image_id
        assert images.image_status(kubert.ImageSpec(image=image_id)).id == image_id
        listed = images.list_images(kubert.ImageFilter(image=kubert.ImageSpec(image=ref)))
        assert [i.id for i in listed] == [image_id]
        assert image_id in {i.id for i in images.list_images(None)}
        _remove(images, ref)
        assert images.image_status(kubert.ImageSpec(image=ref)) is None
        # Pull by digest brings back the same image.
        assert images.pull_image(kubert.ImageSpec(image=digest), None, None) == image_id
    finally:
        _remove(images, image_id)
    assert images.image_status(kubert.ImageSpec(image=digest)) is None


def test_auth_pull_needs_and_uses_credentials(
    images: DockerImages, docker_auth_registry: Any
) -> None:
    ref = docker_auth_registry.tiny[1]
    with pytest.raises(kubert.FailedPreconditionError, match=r"(?i)auth|denied|unauthorized"):
        images.pull_image(kubert.ImageSpec(image=ref), None, None)
    wrong = kubert.AuthConfig(username=docker_auth_registry.username, password="wrong")
    with pytest.raises(kubert.KubertError):
        images.pull_image(kubert.ImageSpec(image=ref), wrong, None)
    auth = kubert.AuthConfig(username=docker_auth_registry.username,
                        password=docker_auth_registry.password,
                        server_address=docker_auth_registry.host)
    image_id = images.pull_image(kubert.ImageSpec(image=ref), auth, None)
    assert images.image_status(kubert.ImageSpec(image=ref)).id == image_id
    _remove(images, image_id)


def test_missing_image_is_not_found(images: DockerImages, docker_registry: Any) -> None:
    with pytest.raises(kubert.NotFoundError):
        images.pull_image(
            kubert.ImageSpec(image=f"{docker_registry.host}/kubert/absent:1"), None, None
        )
    assert images.image_status(kubert.ImageSpec(image="kubert-test/absent:1")) is None
    _remove(images, "kubert-test/absent:1")  # absent is fine


def test_unreachable_registry_is_unavailable(images: DockerImages) -> None:
    with pytest.raises(kubert.UnavailableError):
        images.pull_image(kubert.ImageSpec(image="127.0.0.1:1/kubert/x:1"), None, None)


def test_image_in_use_cannot_be_removed(
    images: DockerImages, pods: Any, docker_engine: Any
) -> None:
    pods.run("sleep", "60")
    with pytest.raises(kubert.FailedPreconditionError, match="in use"):
        _remove(images, docker_engine.busybox)
    assert images.image_status(kubert.ImageSpec(image=docker_engine.busybox)) is not None


def test_image_status_reports_the_config_user(images: DockerImages, docker_engine: Any) -> None:
    status = images.image_status(kubert.ImageSpec(image=docker_engine.busybox_user))
    assert (status.uid, status.username) == (1234, "")
    assert images.image_status(kubert.ImageSpec(image=docker_engine.busybox)).uid is None


def test_infra_image_is_pinned(docker_engine: Any, tmp_path: Path) -> None:
    backend = DockerImages(
        kubert.BackendContext(
            root_dir=tmp_path,
            options=docker_engine.backend_options(),
            pod_infra_container_image=docker_engine.pause,
        )
    )
    try:
        assert backend.image_status(kubert.ImageSpec(image=docker_engine.pause)).pinned
        assert not backend.image_status(kubert.ImageSpec(image=docker_engine.busybox)).pinned
    finally:
        backend.close()


def test_image_fs_info_is_the_engines_data_root(images: DockerImages, docker_engine: Any) -> None:
    info = images.image_fs_info()
    [usage] = info.image_filesystems
    assert usage.fs_id.mountpoint.startswith(str(docker_engine.data_root))
    assert usage.used_bytes > 0


def test_registry_mirror_serves_docker_hub_names(
    docker_engine: Any, docker_registry: Any, tmp_path: Path
) -> None:
    backend = DockerImages(
        kubert.BackendContext(
            root_dir=tmp_path,
            options={
                **docker_engine.backend_options(),
                "registry_mirrors": [f"docker.io={docker_registry.host}"],
            },
        )
    )
    try:
        image_id = backend.pull_image(kubert.ImageSpec(image="busybox:1.36"), None, None)
        status = backend.image_status(kubert.ImageSpec(image="docker.io/library/busybox:1.36"))
        assert status.id == image_id and "busybox:1.36" in status.repo_tags
        backend.remove_image(kubert.ImageSpec(image="busybox:1.36"))
        assert backend.image_status(kubert.ImageSpec(image="busybox:1.36")) is None
    finally:
        backend.close()


def test_kubert_pull_command_shows_progress(
    docker_engine: Any, docker_registry: Any, images: DockerImages
) -> None:
    ref = docker_registry.tiny[0]
    result = CliRunner().invoke(pull_command, [ref, "--docker-endpoint", docker_engine.host])
    try:
        assert result.exit_code == 0, result.output
        assert "Pull complete" in result.output or "Download complete" in result.output
        assert f"{ref}: sha256:" in result.output
    finally:
        _remove(images, ref)


def test_pull_without_progress_is_cancelled_at_the_deadline(
    docker_engine: Any, tmp_path: Path
) -> None:
    """A "registry" that accepts connections and never answers: the pull is given up after
    the progress deadline instead of hanging."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def hold() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=hold, daemon=True).start()
    backend = DockerImages(
        kubert.BackendContext(
            root_dir=tmp_path,
            options={**docker_engine.backend_options(), "image-pull-progress-deadline": 2},
        )
    )
    try:
        started = time.monotonic()
        port = listener.getsockname()[1]
        with pytest.raises(kubert.UnavailableError, match="no progress for 2s"):
            backend.pull_image(
                kubert.ImageSpec(image=f"127.0.0.1:{port}/kubert/slow:1"), None, None
            )
        assert time.monotonic() - started < 30
    finally:
        backend.close()
        listener.close()
        for conn in held:
            conn.close()
