"""CRI calls through a socket systemd passes (``fd://``) against one the server binds itself
(``unix://``), for kubert and cri-dockerd side by side in the same run on one private engine.

kubert serves ``fd://`` through a relay (grpc-python cannot serve an inherited descriptor), so
this shows what the extra hop costs per call next to cri-dockerd, which serves both natively.
Needs root, Debian's systemd package (``systemd-socket-activate``) and
``../shared/tools/cri-dockerd``: ``python3 benchmarks/bench_socket_activation.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc
from timing import median_ms

from kubert_docker.testing import DockerEngine, running_engine

CRI_DOCKERD = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "cri-dockerd"



def kubert_argv(engine: DockerEngine, root: Path) -> list[str]:
    return [sys.executable, "-m", "kubert.cli", "serve", "--runtime", "docker",
            "--docker-endpoint", engine.host, "--network-plugin", "noop",
            "--root-directory", str(root), "--pod-infra-container-image", engine.pause,
            "--log-level", "warning"]


def cri_dockerd_argv(engine: DockerEngine, root: Path) -> list[str]:
    (root / "net.d").mkdir(parents=True, exist_ok=True)
    return [str(CRI_DOCKERD), "--docker-endpoint", engine.host, "--network-plugin", "cni",
            "--cni-conf-dir", str(root / "net.d"), "--cri-dockerd-root-directory", str(root),
            "--pod-infra-container-image", engine.pause, "--streaming-bind-addr", "127.0.0.1",
            "--log-level", "warn"]


@contextmanager
def serving(argv: list[str], sock: Path, activated: bool) -> Iterator[Any]:
    """The server on ``sock``, bound by itself or handed over by systemd-socket-activate; a
    RuntimeService stub once it answers."""
    if activated:
        activate = shutil.which("systemd-socket-activate")
        assert activate, "systemd-socket-activate is missing (scripts/setup-host installs it)"
        passed = [a for name in ("PATH", "PYTHONPATH", "HOME") if name in os.environ
                  for a in ("-E", name)]
        command = [activate, *passed, "--listen", str(sock), *argv,
                   "--container-runtime-endpoint", "fd://"]
    else:
        command = [*argv, "--container-runtime-endpoint", f"unix://{sock}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    channel = grpc.insecure_channel(f"unix://{sock}")
    try:
        stub = rpc.RuntimeServiceStub(channel)
        deadline = time.monotonic() + 60
        while True:
            try:
                stub.Version(pb.VersionRequest(), timeout=5, wait_for_ready=True)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
        yield stub
    finally:
        channel.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kubert-bench-fd-"))
    (root / "engine").mkdir()
    runs = [("kubert", kubert_argv)]
    if CRI_DOCKERD.exists():
        runs.append(("cri-dockerd", cri_dockerd_argv))
    else:
        print(f"(cri-dockerd is not at {CRI_DOCKERD}: kubert only)")
    try:
        with running_engine(root / "engine") as engine:
            print(f"median of {args.rounds} calls, ms   Version   ListPodSandbox   ListContainers")
            for name, make_argv in runs:
                for activated in (False, True):
                    workdir = Path(tempfile.mkdtemp(prefix="fd-", dir=root))
                    sock = workdir / "cri.sock"
                    with serving(make_argv(engine, workdir / "root"), sock, activated) as stub:
                        version = median_ms(lambda: stub.Version(pb.VersionRequest()),
                                            args.rounds)
                        pods = median_ms(
                            lambda: stub.ListPodSandbox(pb.ListPodSandboxRequest()), args.rounds)
                        containers = median_ms(
                            lambda: stub.ListContainers(pb.ListContainersRequest()), args.rounds)
                    label = f"{name} {'fd:// (activated)' if activated else 'unix://'}"
                    print(f"{label:<31} {version:9.3f} {pods:16.3f} {containers:16.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
