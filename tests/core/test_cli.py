"""The command line as a user runs it: ``kubert serve``, ``kubert plugins``, ``kubert version``,
and the commands plugins and the kubelet layer add."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import click
import pytest
from click.testing import CliRunner

from kubert import (
    ContainerConfig,
    ContainerEvent,
    ContainerMetadata,
    ImageSpec,
    PodSandboxConfig,
    PodSandboxMetadata,
    hookimpl,
)
from kubert import __version__ as kubert_version
from kubert.cli import build_cli
from kubert.cri.client import CriClient
from kubert.cri.socket import socket_answers
from kubert.plugins import PluginHost
from tests.fixtures.polling import eventually

MAIN = "from kubert.cli import main; main()"


def kubert(*args: str, prelude: str = "") -> list[str]:
    """argv running kubert's entry point in this interpreter (``prelude`` runs first)."""
    code = f"{prelude}\nimport sys\nsys.argv = ['kubert', *sys.argv[1:]]\n{MAIN}"
    return [sys.executable, "-c", code, *args]


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kubert-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_for_socket(path: Path, process: subprocess.Popen[str]) -> None:
    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"kubert serve exited early: {process.communicate()}")
        return path.exists() and socket_answers(path)

    # Up to ~20 s, usually well under one.
    if not eventually(answering, timeout=20, interval=0.1):
        raise AssertionError("kubert serve did not start listening")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_memory_then_signal(workdir: Path, signum: signal.Signals) -> None:
    sock = workdir / "run" / "kubert.sock"
    process = subprocess.Popen(
        kubert(
            "serve", "--runtime", "memory", "--network-plugin", "noop",
            "--container-runtime-endpoint", f"unix://{sock}",
            "--root-directory", str(workdir / "root"),
        ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_socket(sock, process)
        with CriClient.connect(f"unix://{sock}") as client:
            assert client.version().runtime_name == "kubert"
            config = PodSandboxConfig(
                metadata=PodSandboxMetadata(name="cli", uid="u", namespace="default")
            )
            sandbox_id = client.run_pod_sandbox(config)
            assert [s.id for s in client.list_pod_sandbox()] == [sandbox_id]
            # A watch is in flight when the signal comes; it must end, not hold the server.
            events = client.container_events()
            seen: queue.SimpleQueue[object] = queue.SimpleQueue()
            ended = threading.Event()

            def watch() -> None:
                try:
                    for event in events:
                        seen.put(event)
                    ended.set()
                except Exception as error:  # shown by the assertion below
                    seen.put(error)

            threading.Thread(target=watch, daemon=True).start()
            container = ContainerConfig(
                metadata=ContainerMetadata(name="w"), image=ImageSpec(image="busybox:latest")
            )
            first: object = None
            for attempt in range(40):  # until the watch demonstrably receives events
                client.create_container(
                    sandbox_id,
                    attrs.evolve(container, metadata=ContainerMetadata(name="w", attempt=attempt)),
                    config,
                )
                with contextlib.suppress(queue.Empty):
                    first = seen.get(timeout=0.25)
                    break
            assert isinstance(first, ContainerEvent), first
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
            assert ended.wait(10), [seen.get() for _ in range(seen.qsize())]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "draining in-flight calls" in stderr
    assert "Traceback" not in stderr
    assert not sock.exists()
    assert (workdir / "root" / "checkpoints" / f"{sandbox_id}.json").is_file()


def test_serve_refuses_a_live_socket(workdir: Path) -> None:
    sock = workdir / "kubert.sock"
    args = ("serve", "--runtime", "memory", "--network-plugin", "noop",
            "--container-runtime-endpoint", str(sock),
            "--root-directory", str(workdir / "root"))
    first = subprocess.Popen(kubert(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        _wait_for_socket(sock, first)
        second = subprocess.run(kubert(*args), capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "already listening" in second.stderr
        assert "Traceback" not in second.stderr
        assert socket_answers(sock)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_serve_unknown_runtime_names_the_choices(workdir: Path) -> None:
    result = subprocess.run(
        kubert("serve", "--runtime", "nosuch", "--container-runtime-endpoint",
               str(workdir / "k.sock"), "--root-directory", str(workdir)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "nosuch" in result.stderr and "memory" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_config_unknown_key(workdir: Path) -> None:
    config = workdir / "kubert.toml"
    config.write_text('runtime = "memory"\nsokcet = "x"\n')
    result = subprocess.run(kubert("serve", "--config", str(config)), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "sokcet" in result.stderr and "unknown setting" in result.stderr


def _plugins_table(prelude: str = "", *args: str) -> dict[str, str]:
    """``kubert plugins`` with entry points loaded: its rows keyed by plugin name."""
    env = {k: v for k, v in os.environ.items() if k != "KUBERT_DISABLE_PLUGIN_AUTOLOAD"}
    result = subprocess.run(kubert("plugins", *args, prelude=prelude), capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return {line.split()[0]: line for line in result.stdout.splitlines()[1:]}


def test_plugins_with_docker_sdk() -> None:
    rows = _plugins_table("", "--runtime", "memory")
    assert set(rows) >= {"core", "memory", "docker", "cni", "inplace", "checkpoint", "noop"}
    assert "runtime:memory" in rows["memory"] and " yes" in rows["memory"]
    assert "runtime:docker" in rows["docker"]
    assert "not selected by configuration" in rows["docker"]
    # cni is the default network (as cri-dockerd's), so it is the selected one.
    assert "network:cni" in rows["cni"] and " yes" in rows["cni"]
    assert "not selected" in rows["noop"]


def _fake_distribution(root: Path, name: str, requires: list[str]) -> str:
    """A distribution's metadata under ``root`` (no code): its entry point names a module that
    does not exist, so a test passes only if kubert refuses it before importing anything."""
    dist_info = root / f"{name.replace('-', '_')}-1.0.0.dist-info"
    dist_info.mkdir()
    lines = "".join(f"Requires-Dist: {line}\n" for line in requires)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n{lines}"
    )
    (dist_info / "entry_points.txt").write_text(f"[kubert]\n{name}-ep = no_such_module_x\n")
    return f"import sys; sys.path.insert(0, {str(root)!r})"


def test_plugins_with_a_missing_dependency(tmp_path: Path) -> None:
    prelude = _fake_distribution(tmp_path, "kubert-needy", ["kubert>=0.2,<1", "kubert-no-sdk>=1"])
    rows = _plugins_table(prelude, "--runtime", "memory")
    needy = rows["kubert-needy-ep"]
    assert "kubert-needy 1.0.0 needs kubert-no-sdk>=1, which is not installed" in needy
    assert "fix: pip install 'kubert-no-sdk>=1'" in needy
    assert " yes" in rows["memory"] and "runtime:docker" in rows["docker"]


def test_plugins_built_for_another_core(tmp_path: Path) -> None:
    """A distribution whose declared core range excludes this kubert is reported with both
    versions and the fix, and not loaded (its module would not even import)."""
    prelude = _fake_distribution(tmp_path, "kubert-future", ["kubert<10,>=9.0"])
    rows = _plugins_table(prelude, "--runtime", "memory")
    future = rows["kubert-future-ep"]
    assert "kubert-future 1.0.0 is built for kubert<10,>=9.0" in future
    assert f"kubert {kubert_version} is installed" in future
    assert "pip install 'kubert<10,>=9.0'" in future
    assert " yes" in rows["memory"]


def test_version() -> None:
    result = subprocess.run(kubert("version"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("kubert ") and "CRI API v1" in result.stdout


class CommandPlugin:
    __name__ = "command-plugin"

    @hookimpl
    def kubert_add_commands(self, cli: click.Group) -> None:
        @click.command("hello")
        def hello() -> None:
            click.echo("hello from a plugin")

        cli.add_command(hello)


class BrokenCommandPlugin:
    __name__ = "broken-command-plugin"

    @hookimpl
    def kubert_add_commands(self, cli: click.Group) -> None:
        raise RuntimeError("boom")


def test_plugin_commands_and_broken_plugins(capsys: pytest.CaptureFixture[str]) -> None:
    host = PluginHost(autoload=False).load(extra=(CommandPlugin(), BrokenCommandPlugin()))
    runner = CliRunner()
    group = build_cli(host)
    complaint = capsys.readouterr().err
    assert "'broken-command-plugin' could not add its commands (RuntimeError: boom)" in complaint
    result = runner.invoke(group, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output
    assert "hello" in runner.invoke(group, ["--help"]).output


class PodCommandPlugin:
    """Adds a command that needs the host's plugin manager (as the kubelet layer's do)."""

    __name__ = "pod-command-plugin"

    def __init__(self) -> None:
        self.pm: object = None

    @hookimpl
    def kubert_add_commands(self, cli: click.Group, pm: object) -> None:
        self.pm = pm


def test_kubelet_layer_adds_its_commands_through_the_core_hook() -> None:
    """With autoload off (as here), the core distribution's own entry point still registers
    the kubelet layer; its pod commands reach the command line through kubert_add_commands,
    which hands each implementation the arguments it names."""
    import kubert.kubelet.plugin

    plugin = PodCommandPlugin()
    host = PluginHost(autoload=False).load(extra=(plugin,))
    assert host.pm.get_plugin("kubelet") is kubert.kubelet.plugin
    assert host.pm.hook.kubert_sync_pod.has_spec()  # the layer's hookspecs were added
    group = build_cli(host)
    assert plugin.pm is host.pm
    assert {"apply", "get", "describe", "logs", "delete", "kubelet"} <= set(group.commands)
    apply = group.commands["apply"].callback
    assert apply is not None and apply.__module__ == "kubert.kubelet.cli.apply"


def test_blocked_kubelet_layer_unloads_its_plugins_with_the_fix(tmp_path: Path) -> None:
    """A pod-policy plugin whose layer is blocked is reported by name with the fix, never a
    traceback, and the layer's commands are gone while the core's stay."""
    plugin_dir = tmp_path / "policy"
    plugin_dir.mkdir()
    (plugin_dir / "kubert_policy_x.py").write_text(
        "from kubert import hookimpl\n\n@hookimpl\ndef kubert_sync_pod(context, actions):\n"
        "    return None\n"
    )
    prelude = (
        f"import sys; sys.path.insert(0, {str(plugin_dir)!r})\n"
        "import kubert.plugins, kubert_policy_x\n"
        "_load = kubert.plugins.PluginHost.load\n"
        "kubert.plugins.PluginHost.load = lambda self, extra=(): _load(self, (kubert_policy_x,))\n"
    )
    env = dict(os.environ, KUBERT_BLOCK_PLUGINS="kubelet")
    listed = subprocess.run(kubert("plugins", prelude=prelude), capture_output=True, text=True,
                            timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stdout + listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "blocked" in rows["kubelet"]
    assert "implements kubert_sync_pod, which no loaded plugin or layer" in rows["kubert_policy_x"]
    helped = subprocess.run(kubert("--help", prelude=prelude), capture_output=True, text=True,
                            timeout=60, env=env)
    assert helped.returncode == 0, helped.stderr
    commands = {line.split()[0] for line in helped.stdout.split("Commands:")[1].splitlines()
                if line.strip()}
    assert {"serve", "plugins", "version", "exec", "port-forward"} <= commands
    assert not commands & {"apply", "get", "describe", "logs", "delete", "kubelet"}
