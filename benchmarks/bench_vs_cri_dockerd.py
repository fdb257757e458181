"""kubert against cri-dockerd, side by side: one private dockerd, one CNI bridge config, one
static pause image, the two runtimes in alternating rounds (only one of them running at a time,
so that neither follows the other's containers).

Both run as their own processes (``kubert serve`` from this checkout, and
``/work/shared/tools/cri-dockerd``) with the real CNI plugins of /usr/lib/cni on a private
bridge and a private /24 pod range; each makes its pods' netns itself. One client (the CRI's
generated stubs over the unix socket) drives both. Printed:

- per-step medians of a sequential pod lifecycle (RunPodSandbox, CreateContainer,
  StartContainer, StopPodSandbox, RemovePodSandbox) and the ratio kubert / cri-dockerd;
- the wall time of 10 and of 50 lifecycles at once;
- the engine requests of one lifecycle of each, through a counting proxy on the engine socket
  (after a warm-up lifecycle: start-up requests and first image lookups are not counted), and
  kubert's fsyncs and checkpoint writes of one lifecycle (its ``kubert_fsyncs_total``-style
  metrics);
- RSS and threads idle and with 100 pods, and with 100 pods the relist (ListPodSandbox +
  ListContainers), PodSandboxStatus of each pod and ListContainerStats;
- a relist of 1000 pods and 1000 containers over the real gRPC socket on the memory backend
  and on the docker backend's view (kubert-docker's runtime over a view filled from synthetic
  inspect documents: a real engine here cannot hold a thousand pods), and where its time goes
  (model building, conversion to the serialized answers, the client's parse, gRPC).

Run as root: ``python3 benchmarks/bench_vs_cri_dockerd.py [--rounds N] [--quick]``. It prints a
skip line and exits 0 when the cri-dockerd binary is absent (only the relist of 1000 then).
Goals: sequential <= 0.95x, 10 and 50 at once <= 0.90x, idle RSS <= 60 MB, 100 pods <= 80 MB,
threads not growing with pods, relist of 1000 <= 10 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc

from kubert_docker.testing import DockerEngine, running_engine, stop_pid
from kubert_docker.testing.proxy import CountingProxy

ROOT = Path(__file__).resolve().parent.parent
CRI_DOCKERD = Path(os.environ.get("CRI_DOCKERD", "/work/shared/tools/cri-dockerd"))
CNI_BIN = Path("/usr/lib/cni")
STEPS = ("RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox",
         "RemovePodSandbox")
Timings = dict[str, float]


# ---- the two runtimes ------------------------------------------------------------------


class Runtime:
    """One runtime process serving CRI on ``socket``; started and stopped by its pid."""

    name = ""

    def __init__(self, root: Path, engine_host: str, net: Network, pause: str) -> None:
        self.root = root
        self.engine_host = engine_host
        self.net = net
        self.pause = pause
        self.socket = root / "cri.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.stub: Any = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> Runtime:
        self.root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        log = (self.root / "log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, env=self.env())
        log.close()
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.stub = rpc.RuntimeServiceStub(self.channel)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.root / 'log'}")
            try:
                self.stub.Version(pb.VersionRequest(), timeout=2)
                ready = self.stub.Status(pb.StatusRequest(), timeout=5).status.conditions
                if all(c.status for c in ready):
                    return self
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not get ready; see {self.root / 'log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.proc is not None:
            stop_pid(self.proc, grace=15)  # type: ignore[arg-type]
            self.proc = None

    def proc_status(self) -> tuple[float, int]:
        """(RSS in MB, threads) of the runtime process."""
        assert self.proc is not None
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.proc.pid}/status").read_text()
            .splitlines() if ":" in line
        )
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


class Kubert(Runtime):
    name = "kubert"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.metrics_port = _free_port()
        #: Serve metrics (the count phase reads the fsync counters there); off elsewhere, as
        #: by default, so that RSS and threads are the plain server's.
        self.metrics = False

    def env(self) -> dict[str, str]:
        paths = [ROOT / "src", *(ROOT / "plugins" / p / "src" for p in
                                 ("kubert-docker", "kubert-cni", "kubert-inplace"))]
        return dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in paths))

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "kubert.cli", "serve", "--runtime", "docker",
            "--container-runtime-endpoint", f"unix://{self.socket}",
            "--root-directory", str(self.root / "state"),
            "--docker-endpoint", self.engine_host,
            "--network-plugin", "cni", "--cni-conf-dir", str(self.net.conf_dir),
            "--cni-bin-dir", str(CNI_BIN), "--cni-cache-dir", str(self.root / "cni-cache"),
            "--pod-infra-container-image", self.pause, "--log-level", "warning",
            *(["--metrics-address", f"127.0.0.1:{self.metrics_port}"] if self.metrics else []),
        ]

    def durability(self) -> dict[str, float]:
        """kubert's fsync and checkpoint counters, from its metrics endpoint."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        values = {}
        for name in ("fsyncs", "atomic_writes", "checkpoint_writes", "checkpoint_deletes"):
            found = re.search(rf"^kubert_{name}_total (\S+)$", text, re.M)
            values[name] = float(found.group(1)) if found else float("nan")
        return values


class CriDockerd(Runtime):
    name = "cri-dockerd"

    def command(self) -> list[str]:
        return [
            str(CRI_DOCKERD), "--container-runtime-endpoint", f"unix://{self.socket}",
            "--docker-endpoint", self.engine_host, "--network-plugin", "cni",
            "--cni-conf-dir", str(self.net.conf_dir), "--cni-bin-dir", str(CNI_BIN),
            "--cni-cache-dir", str(self.root / "cni-cache"),
            "--cri-dockerd-root-directory", str(self.root / "state"),
            "--pod-infra-container-image", self.pause, "--streaming-bind-addr", "127.0.0.1",
            "--log-level", "error",
        ]


# ---- the network -----------------------------------------------------------------------


class Network:
    """A private bridge and /24 for pods, one conflist both runtimes read."""

    def __init__(self, root: Path) -> None:
        octet = random.randrange(1, 250)
        self.bridge = f"kbvs{octet:03d}{random.randrange(100):02d}"
        self.subnet = f"10.246.{octet}.0/24"
        self.conf_dir = root / "net.d"
        self.conf_dir.mkdir(parents=True)
        conflist = {
            "cniVersion": "1.0.0", "name": "kbvs-net",
            "plugins": [{
                "type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                         "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(root / "ipam")},
            }],
        }
        (self.conf_dir / "10-kbvs.conflist").write_text(json.dumps(conflist))

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


# ---- one pod ---------------------------------------------------------------------------


def _timed(timings: Timings, step: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    timings[step] = time.perf_counter() - started
    return result


_SERIAL = iter(range(10**9))
#: What the kubelet asks for a pod without hostNetwork, hostPID, hostIPC or
#: shareProcessNamespace: the pod's network and IPC, a PID namespace per container (the
#: messages' zero value would be POD for all three).
_KUBELET_NAMESPACES = pb.NamespaceOption(
    network=pb.NamespaceMode.POD, pid=pb.NamespaceMode.CONTAINER, ipc=pb.NamespaceMode.POD
)
#: ``--zero-namespaces``: no Linux security context in either config, as earlier versions of
#: this benchmark sent (no kubelet does). cri-dockerd then leaves the pause container on the
#: engine's default network mode instead of ``none``, which changes its RunPodSandbox time.
ZERO_NAMESPACES = False


def pod_config(logs: Path) -> pb.PodSandboxConfig:
    n = next(_SERIAL)
    uid = f"bench-{n}-{time.time_ns()}"
    (logs / uid).mkdir(parents=True)  # the kubelet makes the pod's log directory
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=f"bench{n}", uid=uid, namespace="bench"),
        log_directory=str(logs / uid), hostname=f"bench{n}",
    )
    if not ZERO_NAMESPACES:
        config.linux.security_context.namespace_options.CopyFrom(_KUBELET_NAMESPACES)
    return config


def container_config(image: str) -> pb.ContainerConfig:
    config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="app"), image=pb.ImageSpec(image=image),
        command=["sleep", "3600"], log_path="app.log",
    )
    if not ZERO_NAMESPACES:
        config.linux.security_context.namespace_options.CopyFrom(_KUBELET_NAMESPACES)
    return config


def lifecycle(stub: Any, image: str, logs: Path) -> Timings:
    t: Timings = {}
    pod = pod_config(logs)
    sid = _timed(t, "RunPodSandbox", lambda: stub.RunPodSandbox(
        pb.RunPodSandboxRequest(config=pod), timeout=120).pod_sandbox_id)
    cid = _timed(t, "CreateContainer", lambda: stub.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=sid, config=container_config(image), sandbox_config=pod),
        timeout=120).container_id)
    _timed(t, "StartContainer", lambda: stub.StartContainer(
        pb.StartContainerRequest(container_id=cid), timeout=120))
    _timed(t, "StopPodSandbox", lambda: stub.StopPodSandbox(
        pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120))
    _timed(t, "RemovePodSandbox", lambda: stub.RemovePodSandbox(
        pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120))
    return t


def run_pod(stub: Any, image: str, logs: Path) -> str:
    pod = pod_config(logs)
    sid = stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pod), timeout=120).pod_sandbox_id
    cid = stub.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=sid, config=container_config(image), sandbox_config=pod),
        timeout=120).container_id
    stub.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=120)
    return str(sid)


def remove_pods(stub: Any) -> None:
    for sandbox in stub.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=60).items:
        stub.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox.id), timeout=120)
        stub.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox.id),
                              timeout=120)


def at_once(stub: Any, image: str, logs: Path, pods: int) -> float:
    with ThreadPoolExecutor(max_workers=pods) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: lifecycle(stub, image, logs), range(pods)))
        return time.perf_counter() - started


# ---- measurements ----------------------------------------------------------------------


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


def timed_ms(call: Callable[[], Any], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def rounds_phase(
    sides: list[Runtime], engine: DockerEngine, logs: Path, args: argparse.Namespace
) -> dict[str, dict[str, list[float]]]:
    """Alternating rounds: each side started, warmed up, timed, stopped."""
    results: dict[str, dict[str, list[float]]] = {s.name: {} for s in sides}
    for n in range(args.rounds):
        order = sides if n % 2 == 0 else list(reversed(sides))
        for side in order:
            side.start()
            try:
                lifecycle(side.stub, engine.busybox, logs)  # warm-up
                got = results[side.name]
                for _ in range(args.sequential):
                    for step, seconds in lifecycle(side.stub, engine.busybox, logs).items():
                        got.setdefault(step, []).append(seconds)
                for pods in args.at_once:
                    seconds = at_once(side.stub, engine.busybox, logs, pods)
                    got.setdefault(f"{pods} at once", []).append(seconds)
                remove_pods(side.stub)
            finally:
                side.stop()
            print(f"  round {n + 1} {side.name} done", flush=True)
    return results


_ID = re.compile(r"[0-9a-f]{64}")


def count_phase(side: Runtime, engine: DockerEngine, logs: Path, root: Path) -> dict[str, Any]:
    """Engine requests of one lifecycle after a warm-up one, through a counting proxy."""
    with CountingProxy(engine.socket, root / f"proxy-{side.name}.sock") as proxy:
        side.engine_host = proxy.host
        if isinstance(side, Kubert):
            side.metrics = True
        side.start()
        try:
            lifecycle(side.stub, engine.busybox, logs)
            proxy.settle()
            mark = proxy.mark()
            before = side.durability() if isinstance(side, Kubert) else {}
            lifecycle(side.stub, engine.busybox, logs)
            proxy.settle()
            made = proxy.since(mark)
            after = side.durability() if isinstance(side, Kubert) else {}
        finally:
            side.stop()
            side.engine_host = engine.host
            if isinstance(side, Kubert):
                side.metrics = False
    kinds = Counter(_ID.sub("ID", str(r)) for r in made)
    return {"requests": len(made), "kinds": kinds,
            "durability": {k: after[k] - before[k] for k in after}}


def scale_phase(
    side: Runtime, engine: DockerEngine, logs: Path, pods: int, stats_rounds: int
) -> dict[str, float]:
    side.start()
    try:
        time.sleep(2)  # idle: start-up done, the first sync settled
        idle_rss, idle_threads = side.proc_status()
        with ThreadPoolExecutor(max_workers=10) as pool:
            ids = list(pool.map(lambda _: run_pod(side.stub, engine.busybox, logs), range(pods)))
        time.sleep(2)
        full_rss, full_threads = side.proc_status()
        stub = side.stub

        def relist() -> None:
            stub.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=60)
            stub.ListContainers(pb.ListContainersRequest(), timeout=60)

        def statuses() -> None:
            for sid in ids:
                stub.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=sid), timeout=60)

        relist_ms = timed_ms(relist, 20)
        status_ms = timed_ms(statuses, 3)
        stats_ms = timed_ms(
            lambda: stub.ListContainerStats(pb.ListContainerStatsRequest(), timeout=300),
            stats_rounds,
        )
        remove_pods(stub)
    finally:
        side.stop()
    return {"idle RSS MB": idle_rss, f"RSS MB, {pods} pods": full_rss,
            "threads idle": idle_threads, f"threads, {pods} pods": full_threads,
            "relist ms": relist_ms, "PodSandboxStatus of each ms": status_ms,
            "ListContainerStats ms": stats_ms}


# ---- the relist of a thousand pods ------------------------------------------------------


def relist_figures(server: Any, rounds: int) -> dict[str, float]:
    """A relist over ``server``'s real gRPC socket (client and server in this process) and
    where its time goes: the service's model building, the conversion to the serialized
    answers (the server sends those bytes as they are), the client's parse, and the rest
    (gRPC's own handling of the two answers), and the floor: a bare gRPC server sending the
    same bytes."""
    from kubert.cri import lists

    channel = grpc.insecure_channel(server.address)
    stub = rpc.RuntimeServiceStub(channel)
    try:
        service = server.service
        answer = {
            "ListPodSandbox ms": timed_ms(
                lambda: stub.ListPodSandbox(pb.ListPodSandboxRequest()), rounds),
            "ListContainers ms": timed_ms(
                lambda: stub.ListContainers(pb.ListContainersRequest()), rounds),
        }
        answer["relist ms"] = timed_ms(lambda: (
            stub.ListPodSandbox(pb.ListPodSandboxRequest()),
            stub.ListContainers(pb.ListContainersRequest())), rounds)
        answer["model building ms, sandboxes"] = timed_ms(
            lambda: service.list_pod_sandbox(None), rounds)
        answer["model building ms, containers"] = timed_ms(
            lambda: service.list_containers(None), rounds)

        def convert() -> tuple[bytes, bytes]:
            return (lists.pod_sandbox_list_bytes(service.list_pod_sandbox(None)),
                    lists.container_list_bytes(service.list_containers(None)))

        # Entries unchanged since the previous relist, as between two kubelet relists.
        answer["conversion to serialized answers ms (both)"] = timed_ms(convert, rounds) - (
            answer["model building ms, sandboxes"] + answer["model building ms, containers"])
        wire = convert()
        answer["parse on the client ms (both)"] = timed_ms(lambda: (
            pb.ListPodSandboxResponse.FromString(wire[0]),
            pb.ListContainersResponse.FromString(wire[1])), rounds)
        answer["gRPC and the rest ms (both)"] = answer["relist ms"] - sum(
            answer[key] for key in ("model building ms, sandboxes",
                                    "model building ms, containers",
                                    "conversion to serialized answers ms (both)",
                                    "parse on the client ms (both)"))
        # The floor to compare "relist ms" with (the client's parse included).
        answer["bare gRPC server, same answers ms"] = bare_grpc_relist_ms(wire, rounds)
        answer["answer bytes (both)"] = float(len(wire[0]) + len(wire[1]))
        return answer
    finally:
        channel.close()


def bare_grpc_relist_ms(wire: tuple[bytes, bytes], rounds: int) -> float:
    """The floor: a gRPC server with the same options on a unix socket that answers the two
    list calls with the fixed serialized answers ``wire``, through the same client stub."""
    from kubert.cri.server import MAX_MESSAGE_BYTES

    answers = {"ListPodSandbox": wire[0], "ListContainers": wire[1]}
    handler = grpc.method_handlers_generic_handler("runtime.v1.RuntimeService", {
        name: grpc.unary_unary_rpc_method_handler(lambda _request, _context, body=body: body)
        for name, body in answers.items()
    })
    workdir = Path(tempfile.mkdtemp(prefix="kubert-bare-grpc-", dir="/tmp"))
    server = grpc.server(ThreadPoolExecutor(max_workers=4), handlers=[handler], options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ])
    server.add_insecure_port(f"unix://{workdir / 'bare.sock'}")
    server.start()
    channel = grpc.insecure_channel(f"unix://{workdir / 'bare.sock'}")
    stub = rpc.RuntimeServiceStub(channel)
    try:
        return timed_ms(lambda: (stub.ListPodSandbox(pb.ListPodSandboxRequest()),
                                 stub.ListContainers(pb.ListContainersRequest())), rounds)
    finally:
        channel.close()
        server.stop(grace=None)
        shutil.rmtree(workdir, ignore_errors=True)


def memory_relist(pods: int, rounds: int) -> dict[str, float]:
    """A relist of ``pods`` pods and as many containers, memory backend, real gRPC socket."""
    from kubert.testing.server import start_server

    workdir = Path(tempfile.mkdtemp(prefix="kubert-relist-", dir="/tmp"))
    server = start_server(workdir)
    channel = grpc.insecure_channel(server.address)
    stub = rpc.RuntimeServiceStub(channel)
    try:
        for n in range(pods):
            pod = pb.PodSandboxConfig(
                metadata=pb.PodSandboxMetadata(name=f"p{n}", uid=f"u{n}", namespace="bench"),
                labels={"app": f"a{n % 10}", "pod-template-hash": "abcdef"},
                annotations={"kubernetes.io/config.seen": "2026-01-01T00:00:00Z"},
            )
            sid = stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id
            config = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="app"),
                image=pb.ImageSpec(image="registry.k8s.io/pause:3.9"),
                labels={"io.kubernetes.container.name": "app"},
                annotations={"io.kubernetes.container.hash": "1234abcd"},
            )
            stub.CreateContainer(pb.CreateContainerRequest(
                pod_sandbox_id=sid, config=config, sandbox_config=pod))
        return relist_figures(server, rounds)
    finally:
        channel.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def docker_view_relist(pods: int, rounds: int) -> dict[str, float]:
    """The same relist answered by kubert-docker's runtime from a view holding ``pods`` pods
    and as many containers, filled from synthetic inspect documents (no engine; see
    :mod:`docker_view`), memory image service, real gRPC socket."""
    import docker_view

    from kubert.testing.server import start_server

    workdir = Path(tempfile.mkdtemp(prefix="kubert-relist-view-", dir="/tmp"))
    server = start_server(
        workdir, runtime=docker_view.NAME, image="memory", plugins=(docker_view,),
        options={docker_view.NAME: {"pods": pods}},
    )
    try:
        return relist_figures(server, rounds)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---- printing --------------------------------------------------------------------------


def _ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}x" if theirs else "n/a"


def print_rounds(results: dict[str, dict[str, list[float]]], at_once_sizes: list[int]) -> None:
    kub, cd = results["kubert"], results["cri-dockerd"]
    print(f"\n{'sequential lifecycle (ms, median)':36} {'kubert':>9} {'cri-dockerd':>12} ratio")
    totals = {name: 0.0 for name in results}
    for step in STEPS:
        k, c = median_ms(kub[step]), median_ms(cd[step])
        totals["kubert"] += k
        totals["cri-dockerd"] += c
        print(f"  {step:34} {k:9.1f} {c:12.1f} {_ratio(k, c)}")
    k, c = totals["kubert"], totals["cri-dockerd"]
    print(f"  {'total (sum of step medians)':34} {k:9.1f} {c:12.1f} {_ratio(k, c)}  goal <= 0.95x")
    for pods in at_once_sizes:
        key = f"{pods} at once"
        k, c = median_ms(kub[key]), median_ms(cd[key])
        label = f"{key} (wall ms, median)"
        print(f"  {label:34} {k:9.0f} {c:12.0f} {_ratio(k, c)}  goal <= 0.90x")
    batches = len(kub.get(f"{at_once_sizes[0]} at once", [])) if at_once_sizes else 0
    print(f"  ({len(kub[STEPS[0]])} sequential lifecycles and {batches} of each batch a side)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per side")
    parser.add_argument("--sequential", type=int, default=5, help="timed lifecycles a round")
    parser.add_argument("--at-once", type=int, nargs="*", default=[10, 50])
    parser.add_argument("--pods", type=int, default=100, help="pods of the scale phase")
    parser.add_argument("--stats-rounds", type=int, default=2)
    parser.add_argument("--relist-pods", type=int, default=1000)
    parser.add_argument("--relist-rounds", type=int, default=30)
    parser.add_argument("--relist-only", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 2 lifecycles, 10 at once, 20 pods")
    parser.add_argument("--zero-namespaces", action="store_true",
                        help="send no Linux security context (the messages' zero value, "
                        "POD namespaces for all) instead of the kubelet's namespace options")
    args = parser.parse_args()
    global ZERO_NAMESPACES
    ZERO_NAMESPACES = args.zero_namespaces
    if args.quick:
        args.rounds, args.sequential, args.at_once, args.pods = 1, 2, [10], 20

    print(f"relist of {args.relist_pods} pods and {args.relist_pods} containers over the real "
          f"gRPC socket, median of {args.relist_rounds} (goal <= 10 ms); load "
          f"{os.getloadavg()[0]:.1f}:")
    figures = {
        "memory backend": memory_relist(args.relist_pods, args.relist_rounds),
        "docker backend's view (synthetic inspects, no engine)": docker_view_relist(
            args.relist_pods, args.relist_rounds),
    }
    print(f"  {'':44} {'memory':>8} {'docker view':>12}")
    for key in figures["memory backend"]:
        values = [got[key] for got in figures.values()]
        number = "{:8.0f} {:12.0f}" if key.startswith("answer bytes") else "{:8.2f} {:12.2f}"
        print(f"  {key:44} " + number.format(*values))
    print("  (docker view: kubert-docker's runtime over a state view filled from synthetic "
          "inspect documents, no engine;\n   gRPC and the rest: the relist's median less the "
          "others', each timed on its own, so under load it can even come out negative)")
    if args.relist_only:
        return
    if not CRI_DOCKERD.exists():
        print(f"SKIPPED: the cri-dockerd binary is absent ({CRI_DOCKERD}); set CRI_DOCKERD")
        return
    if os.geteuid() != 0 or not (CNI_BIN / "bridge").exists():
        print("SKIPPED: needs root and the CNI plugins in /usr/lib/cni")
        return

    root = Path(tempfile.mkdtemp(prefix="kbvs-", dir="/tmp"))
    (root / "engine").mkdir()
    net = Network(root)
    logs = root / "logs"
    try:
        with running_engine(root / "engine") as engine:
            sides: list[Runtime] = [
                Kubert(root / "kubert", engine.host, net, engine.pause),
                CriDockerd(root / "cri-dockerd", engine.host, net, engine.pause),
            ]
            print(f"\nengine {engine.host}, bridge {net.bridge} {net.subnet}, "
                  f"pause image {engine.pause}; {os.cpu_count()} CPUs, load "
                  f"{os.getloadavg()[0]:.1f}; namespace options: "
                  + ("none (zero value)" if ZERO_NAMESPACES else "the kubelet's"))
            counts = {side.name: count_phase(side, engine, logs, root) for side in sides}
            print("\nengine requests of one lifecycle (counting proxy, after a warm-up one):")
            for name, got in counts.items():
                print(f"  {name}: {got['requests']}")
                for kind, times in sorted(got["kinds"].items()):
                    print(f"      {times} x {kind}")
            durable = counts["kubert"]["durability"]
            print("kubert's durable writes of one lifecycle: " + ", ".join(
                f"{k} {v:.0f}" for k, v in durable.items()))

            results = rounds_phase(sides, engine, logs, args)
            print_rounds(results, args.at_once)

            print(f"\nwith {args.pods} pods (one container each):")
            scale = {side.name: scale_phase(side, engine, logs, args.pods, args.stats_rounds)
                     for side in sides}
            print(f"  {'':34} {'kubert':>9} {'cri-dockerd':>12} ratio")
            for key in scale["kubert"]:
                k, c = scale["kubert"][key], scale["cri-dockerd"][key]
                print(f"  {key:34} {k:9.1f} {c:12.1f} {_ratio(k, c)}")
    finally:
        net.close()
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
