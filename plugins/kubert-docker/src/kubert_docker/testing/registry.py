"""A private image registry on 127.0.0.1 (Debian's ``docker-registry``) holding the test
images, with or without htpasswd auth, for pull tests: no internet, no pytest."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from kubert_docker.testing.engine import (
    BUSYBOX,
    PATH_ENV,
    PAUSE,
    DockerEngine,
    EngineFailed,
    EngineUnavailable,
    busybox_rootfs,
    die_with_parent,
    free_port,
    import_rootfs,
    stop_pid,
)

REGISTRY_USER = "kubert"
REGISTRY_PASSWORD = "s3cret-pull"


class Registry:
    """A running ``docker-registry`` on 127.0.0.1, holding the test images.

    :ivar host: ``127.0.0.1:<port>``, the registry part of image references.
    :ivar username: set (with ``password``) when it demands htpasswd auth.
    """

    def __init__(self, host: str, username: str = "", password: str = "") -> None:
        self.host = host
        self.username = username
        self.password = password

    @property
    def busybox(self) -> str:
        return f"{self.host}/kubert/busybox:latest"

    @property
    def pause(self) -> str:
        return f"{self.host}/kubert/pause:latest"

    @property
    def tiny(self) -> tuple[str, str]:
        """Two small images of their own (distinct IDs) that nothing local uses: safe to pull
        and remove by ID."""
        return (f"{self.host}/kubert/tiny:one", f"{self.host}/kubert/tiny:two")

    @property
    def mirrored(self) -> dict[str, str]:
        """Docker Hub names this registry also serves as a mirror (``docker.io=<host>``): the
        two tiny images as ``library/busybox:1.36`` and ``library/alpine:3.20``."""
        return {"busybox:1.36": f"{self.host}/library/busybox:1.36",
                "alpine:3.20": f"{self.host}/library/alpine:3.20"}

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def _start_registry(root: Path, htpasswd_line: str | None) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise EngineUnavailable(
            "docker-registry is not installed (apt-get install docker-registry)"
        )
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    auth = ""
    if htpasswd_line is not None:
        (root / "htpasswd").write_text(htpasswd_line)
        auth = f"auth:\n  htpasswd:\n    realm: kubert-test\n    path: {root / 'htpasswd'}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return proc, f"127.0.0.1:{port}"
        except OSError:
            pass
        time.sleep(0.1)
    stop_pid(proc, 5)
    tail = (root / "registry.log").read_text(errors="replace")[-2000:]
    raise EngineFailed(f"docker-registry did not come up on port {port}:\n{tail}")


def _htpasswd_line(user: str, password: str) -> str:
    tool = shutil.which("htpasswd")
    if tool is None:
        raise EngineUnavailable("htpasswd is not installed (apt-get install apache2-utils)")
    return subprocess.run(
        [tool, "-Bbn", user, password], check=True, capture_output=True, text=True
    ).stdout.strip() + "\n"


def _tiny_rootfs(text: str) -> bytes:
    """busybox plus a file of its own: an image with an ID of its own that still runs what
    the conformance suite runs in the images it pulls (``sleep``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(busybox_rootfs())) as base, \
            tarfile.open(fileobj=buf, mode="w") as tar:
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
        data = text.encode()
        info = tarfile.TarInfo("tiny.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _push(engine: DockerEngine, registry: Registry) -> None:
    client = engine.client()
    try:
        auth = registry.auth_config() if registry.username else None
        pairs = [(BUSYBOX, registry.busybox), (PAUSE, registry.pause)]
        for remote, hub in zip(registry.tiny, registry.mirrored.values(), strict=True):
            local = "kubert-test/tiny:" + remote.rsplit(":", 1)[1]
            import_rootfs(client, _tiny_rootfs(f"tiny image {local}\n"), local, [PATH_ENV])
            pairs += [(local, remote), (local, hub)]
        for local, remote in pairs:
            repository, tag = remote.rsplit(":", 1)
            client.api.tag(local, repository, tag)
            for message in client.api.push(
                repository, tag=tag, stream=True, decode=True, auth_config=auth
            ):
                if "error" in message:
                    raise EngineFailed(f"pushing {remote}: {message['error']}")
            # Pull tests start from an engine that does not have the image.
            client.api.remove_image(remote)
        for local in {local for local, _ in pairs if local.startswith("kubert-test/tiny:")}:
            client.api.remove_image(local)
    finally:
        client.close()


@contextlib.contextmanager
def running_registry(engine: DockerEngine, auth: bool) -> Iterator[Registry]:
    root = Path(tempfile.mkdtemp(prefix="kubert-registry-"))
    line = _htpasswd_line(REGISTRY_USER, REGISTRY_PASSWORD) if auth else None
    proc, host = _start_registry(root, line)
    try:
        registry = (
            Registry(host, REGISTRY_USER, REGISTRY_PASSWORD) if auth else Registry(host)
        )
        _push(engine, registry)
        yield registry
    finally:
        stop_pid(proc, 10)
        shutil.rmtree(root, ignore_errors=True)
