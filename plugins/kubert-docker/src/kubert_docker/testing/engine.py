"""A private Docker engine for tests, demos and benchmarks: no pytest needed.

``start_dockerd`` starts Debian's ``dockerd`` (which spawns its own containerd) with a private
data root, exec root, pid file and unix socket, and ``--iptables=false --bridge=none`` so that
the host's network is left alone; ``running_engine`` also builds the images below and stops it
by its pid afterwards. Nothing here talks to the internet: the busybox image is the host's
static busybox put in with ``docker import``, and the pause image a ``pause()`` binary compiled
with ``gcc -static`` (a busybox shell loop only when no static toolchain is present).

A backend author runs kubert's conformance suite on Docker with it; kubert's own tests, demo
and benchmarks use it the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

BUSYBOX = "kubert-test/busybox:latest"
#: The same rootfs with ``USER 1234`` in its config (ImageStatus uid, run-as tests).
BUSYBOX_USER = "kubert-test/busybox:user"
PAUSE = "kubert-test/pause:latest"
#: The kubelet's default sandbox image, tagged locally so a default config never pulls.
DEFAULT_PAUSE = "registry.k8s.io/pause:3.9"

PR_SET_PDEATHSIG = 1

_PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"""
_PAUSE_SH = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"


class EngineUnavailable(RuntimeError):
    """This machine cannot run a private engine (no dockerd, not root, no registry binary);
    the message says what to install. Test fixtures turn it into a skip."""


class EngineFailed(RuntimeError):
    """The engine (or registry) is there but did not start; the message carries its log."""


def die_with_parent() -> None:
    """preexec_fn: SIGTERM the child when the test process dies, even by SIGKILL, so that
    a killed test run leaves no dockerd or registry behind."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_pid(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process we started, then SIGKILL it after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class DockerEngine:
    """A running private dockerd.

    :ivar host: its endpoint, ``unix:///…/docker.sock`` (pass as ``DOCKER_HOST``).
    :ivar root: the directory holding its socket, data root and exec root.
    :ivar pid: dockerd's pid.
    """

    busybox = BUSYBOX
    busybox_user = BUSYBOX_USER
    pause = PAUSE
    default_pause = DEFAULT_PAUSE

    def __init__(self, root: Path, proc: subprocess.Popen[bytes]) -> None:
        self.root = root
        self.proc = proc
        self.pid = proc.pid
        self.socket = root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.data_root = root / "data"
        self.exec_root = root / "exec"
        self.log_file = root / "dockerd.log"

    def client(self, timeout: int = 60) -> Any:
        """A new ``docker.DockerClient`` for this engine (the caller closes it)."""
        import docker

        return docker.DockerClient(base_url=self.host, version="auto", timeout=timeout)

    def backend_options(self) -> dict[str, Any]:
        """Options for the kubert ``docker`` backend that point it at this engine."""
        return {"endpoint": self.host}

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @cached_property
    def privileged_works(self) -> bool:
        """Whether ``--privileged`` containers start here (they fail where CAP_SYS_ADMIN-only
        sandboxes refuse "ALL" capabilities: "unable to apply caps")."""
        return self._probe(privileged=True)

    @cached_property
    def negative_oom_score_adj_works(self) -> bool:
        """Whether runc may lower oom_score_adj (needs CAP_SYS_RESOURCE on the host)."""
        return self._probe(oom_score_adj=-5)

    def _probe(self, **kwargs: Any) -> bool:
        import docker

        client = self.client()
        try:
            client.containers.run(
                self.busybox, ["true"], remove=True, network_mode="none", **kwargs
            )
        except docker.errors.APIError:
            return False
        finally:
            client.close()
        return True

    def remove_all_containers(self) -> None:
        client = self.client()
        try:
            for container in client.api.containers(all=True, quiet=True):
                with contextlib.suppress(Exception):
                    client.api.remove_container(container["Id"], force=True, v=True)
        finally:
            client.close()


def start_dockerd(root: Path, *, outlive_caller: bool = False) -> DockerEngine:
    """A private dockerd under ``root``; it dies with the calling process unless
    ``outlive_caller`` (scripts/demo starts it from a short-lived helper process)."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("dockerd is not on PATH (apt-get install docker.io)")
    if os.geteuid() != 0:
        raise EngineUnavailable("dockerd needs root")
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            str(dockerd),
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"),
            "--pidfile", str(root / "dockerd.pid"),
            "-H", f"unix://{root / 'docker.sock'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=None if outlive_caller else die_with_parent,
    )
    log.close()
    engine = DockerEngine(root, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EngineFailed(f"dockerd exited with {proc.returncode}:\n{engine.log_tail()}")
        if engine.socket.exists():
            client = engine.client(timeout=5)
            try:
                client.ping()
                return engine
            except Exception:
                pass
            finally:
                client.close()
        time.sleep(0.1)
    stop_pid(proc, 10)
    raise EngineFailed(f"dockerd did not answer within 30s:\n{engine.log_tail()}")


#: The image config line that gives the test images a PATH.
PATH_ENV = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def busybox_rootfs(user: str | None = None) -> bytes:
    """A tarball of a rootfs: /bin/busybox, its applet links, /etc/passwd and /etc/group."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    applets = subprocess.run(
        [busybox, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "home"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue  # a link named busybox would replace the binary itself
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
            "kubert:x:1234:1234:kubert:/home:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/:/bin/false\n",
            "etc/group": "root:x:0:\nkubert:x:1234:\nextra:x:5555:kubert\nnogroup:x:65534:\n",
        }
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _pause_rootfs(workdir: Path) -> tuple[bytes, list[str]]:
    """A pause image rootfs and its entrypoint: a static C binary, or busybox when no gcc."""
    source = workdir / "pause.c"
    binary = workdir / "pause"
    source.write_text(_PAUSE_C)
    gcc = shutil.which("gcc")
    built = gcc is not None and subprocess.run(
        [gcc, "-static", "-Os", "-s", "-o", str(binary), str(source)],
        capture_output=True, check=False,
    ).returncode == 0
    if not built:
        return busybox_rootfs(), ["/bin/sh", "-c", _PAUSE_SH]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(binary), arcname="pause")
    return buf.getvalue(), ["/pause"]


def import_rootfs(client: Any, rootfs: bytes, ref: str, changes: list[str]) -> None:
    repository, _, tag = ref.rpartition(":")
    client.api.import_image_from_data(rootfs, repository=repository, tag=tag, changes=changes)


def build_images(engine: DockerEngine) -> None:
    client = engine.client()
    try:
        path_env = PATH_ENV
        busybox = busybox_rootfs()
        import_rootfs(client, busybox, BUSYBOX, [path_env, 'CMD ["/bin/sh"]'])
        import_rootfs(client, busybox, BUSYBOX_USER, [path_env, "USER 1234", 'CMD ["/bin/sh"]'])
        rootfs, entrypoint = _pause_rootfs(engine.root)
        quoted = ", ".join(f'"{part}"' for part in entrypoint)
        import_rootfs(client, rootfs, PAUSE, [path_env, f"ENTRYPOINT [{quoted}]"])
        client.api.tag(PAUSE, *DEFAULT_PAUSE.rsplit(":", 1))
    finally:
        client.close()


@contextlib.contextmanager
def running_engine(
    root: Path, start: Callable[[Path], DockerEngine] = start_dockerd
) -> Iterator[DockerEngine]:
    """dockerd started by ``start`` on ``root``, with the test images present; its containers
    are removed (so it exits promptly) and it is stopped by pid afterwards."""
    engine = start(root)
    try:
        build_images(engine)
        yield engine
    finally:
        with contextlib.suppress(Exception):
            engine.remove_all_containers()
        stop_pid(engine.proc, 30)


