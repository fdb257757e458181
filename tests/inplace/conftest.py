"""Fixtures of the in-place upgrade tests: real dockerd, real CNI bridge, real registry.

``app_images`` builds three images from the test busybox (``docker commit``, so each has its
own ID and config): ``v1`` stays local, ``v2`` and ``crash`` are pushed to the test registry and
removed locally so that the upgrade's pre-pull really pulls them; ``missing`` names a tag the
registry does not have. ``inplace_env`` starts kubert's CRI server (runtime ``docker``, network
``cni``) and runs the ``kubert`` command line against it, in this process with the plugin
registered, or in a separate process that loads the installed entry points (the crash tests
kill that one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from attrs import frozen
from click.testing import CliRunner

from kubert.cli import build_cli
from kubert.cri.client import CriClient
from kubert.kubelet import KubeletConfig, PodRuntimeStatus, observe_pod
from kubert.plugins import PluginHost
from kubert_inplace import plugin as inplace_plugin
from tests.cni.helpers import PrivateNet, bridge_net

#: Busybox's init ignores SIGTERM as PID 1; the trap makes a stop take milliseconds.
SERVE = "trap 'exit 0' TERM; echo serving $(cat /version); sleep 3600 & wait"


@frozen
class AppImages:
    v1: str
    v2: str
    crash: str
    missing: str


def _commit(client: Any, base: str, version: str, cmd: str, repository: str, tag: str) -> None:
    container = client.containers.create(
        base, ["sh", "-c", f"echo {version} > /version"], network_mode="none"
    )
    try:
        container.start()
        container.wait(timeout=30)
        quoted = cmd.replace('"', '\\"')
        container.commit(repository=repository, tag=tag,
                         changes=[f'CMD ["sh", "-c", "{quoted}"]', f"LABEL version={version}"])
    finally:
        container.remove(force=True)


@pytest.fixture(scope="session")
def app_images(docker_engine: Any, docker_registry: Any) -> AppImages:
    client = docker_engine.client()
    try:
        remote = f"{docker_registry.host}/kubert/inplace-app"
        _commit(client, docker_engine.busybox, "v1", SERVE, "kubert-test/inplace-app", "v1")
        _commit(client, docker_engine.busybox, "v2", SERVE, remote, "v2")
        _commit(client, docker_engine.busybox, "crash", "echo crashing; exit 3", remote, "crash")
        for tag in ("v2", "crash"):
            for message in client.api.push(remote, tag=tag, stream=True, decode=True):
                if "error" in message:
                    pytest.fail(f"pushing {remote}:{tag}: {message['error']}", pytrace=False)
            client.api.remove_image(f"{remote}:{tag}")
    finally:
        client.close()
    return AppImages(v1="kubert-test/inplace-app:v1", v2=f"{remote}:v2",
                     crash=f"{remote}:crash", missing=f"{remote}:missing")


@pytest.fixture
def inplace_net(tmp_path: Path) -> Iterator[PrivateNet]:
    """A private bridge and /24 for this test (10.246.x.0/24, a range no other test uses)."""
    plugins = ("bridge", "host-local", "loopback")
    with bridge_net(tmp_path, "kbtip", "10.246", plugins, "10-inplace.conflist") as net:
        yield net


@frozen
class InPlaceEnv:
    """A CRI server on docker + CNI, and the ``kubert`` command line pointed at it."""

    address: str
    root: Path
    cri: CriClient
    images: AppImages
    cli: click.Group

    @property
    def config(self) -> KubeletConfig:
        return KubeletConfig(root_dir=self.root / "kubelet", log_root=self.root / "logs")

    def kubert(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
               separate: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``kubert ARGS``: in this process (with the plugin registered, as its entry point
        does), or with ``separate`` in a new process that loads the installed entry points and
        may be killed (fault injection)."""
        environ = {
            "CONTAINER_RUNTIME_ENDPOINT": self.address,
            "KUBERT_KUBELET_ROOT": str(self.root / "kubelet"),
            "KUBERT_LOG_ROOT": str(self.root / "logs"),
            **(env or {}),
        }
        if separate:
            done = subprocess.run(
                [sys.executable, "-c", "from kubert.cli import main; main()", *args],
                env={**os.environ, "KUBERT_DISABLE_PLUGIN_AUTOLOAD": "0", **environ},
                capture_output=True, text=True, timeout=120, check=False,
            )
        else:
            result = CliRunner().invoke(self.cli, list(args), env=environ, catch_exceptions=False)
            done = subprocess.CompletedProcess(
                ["kubert", *args], result.exit_code, result.stdout, result.stderr
            )
        if check and done.returncode != 0:
            pytest.fail(f"kubert {' '.join(args)} exited {done.returncode}:\n"
                        f"{done.stdout}\n{done.stderr}", pytrace=False)
        return done

    def observe(self, uid: str) -> PodRuntimeStatus:
        return observe_pod(self.cri, uid)


@pytest.fixture
def inplace_env(
    clean_engine: Any,
    app_images: AppImages,
    inplace_net: PrivateNet,
    cri_server_factory: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[InPlaceEnv]:
    server = cri_server_factory(**inplace_net.docker_server_args(clean_engine))
    client = server.client()
    try:
        cli = build_cli(PluginHost(autoload=False).load(extra=(inplace_plugin,)))
        yield InPlaceEnv(address=server.address, root=tmp_path, cri=client, images=app_images,
                         cli=cli)
    finally:
        client.close()
