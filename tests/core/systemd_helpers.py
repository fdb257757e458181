"""Shared by the systemd tests: the kubert command line, crictl, and a notify socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CRICTL = ROOT.parent / "shared" / "tools" / "crictl"
CRI_DOCKERD = ROOT.parent / "shared" / "tools" / "cri-dockerd"
MAIN = "import sys; sys.argv = ['kubert', *sys.argv[1:]]; from kubert.cli import main; main()"


def kubert(*args: str) -> list[str]:
    """argv running kubert's entry point in this interpreter."""
    return [sys.executable, "-c", MAIN, *args]


def memory_serve(endpoint: str, root: Path, *extra: str) -> list[str]:
    """``kubert serve`` on the memory runtime and the noop network (no engine needed)."""
    return kubert("serve", "--runtime", "memory", "--network-plugin", "noop",
                  "--container-runtime-endpoint", endpoint, "--root-directory", str(root), *extra)


def crictl(endpoint: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The real crictl against ``endpoint`` (``unix:///…``); skips when it is absent."""
    if not CRICTL.exists():
        pytest.skip(f"crictl is not at {CRICTL}")
    return subprocess.run(
        [str(CRICTL), "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
         "--timeout", "20s", *args],
        capture_output=True, text=True, timeout=timeout,
    )


def socket_activate() -> str:
    """The path of Debian's systemd-socket-activate; skips when systemd is not installed."""
    for candidate in ("systemd-socket-activate", "/lib/systemd/systemd-socket-activate",
                      "/usr/lib/systemd/systemd-socket-activate"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip("systemd-socket-activate is missing (scripts/setup-host installs systemd)")


def passthrough_env() -> list[str]:
    """``-E`` arguments: systemd-socket-activate starts the service with an empty environment,
    so the variables that make this checkout's kubert the one that runs are passed on."""
    names = ("PATH", "PYTHONPATH", "KUBERT_DISABLE_PLUGIN_AUTOLOAD", "HOME")
    return [arg for name in names if name in os.environ for arg in ("-E", name)]


class NotifyListener:
    """A unix datagram socket standing in for systemd's notify socket.

    :param abstract: bind in the abstract namespace (``@name``), as systemd does nowadays.
    """

    def __init__(self, directory: Path, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"kubert-test-notify-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            path = directory / "notify.sock"
            self.sock.bind(str(path))
            self.address = str(path)
        self.messages: list[str] = []

    def receive_until(self, marker: str, timeout: float = 30.0) -> list[str]:
        """Messages received until one contains ``marker`` (all of them, in order)."""
        self.sock.settimeout(timeout)
        while not any(marker in m for m in self.messages):
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                raise AssertionError(
                    f"no {marker!r} within {timeout}s; got {self.messages}"
                ) from None
        return self.messages

    def close(self) -> None:
        self.sock.close()
