"""A full pod lifecycle through kubert's CRI socket (docker backends) against the same engine
calls made directly with the docker SDK, alternating, in the same run, on a private dockerd.

Steps: RunPodSandbox, CreateContainer, StartContainer, StopPodSandbox, RemovePodSandbox. The
raw side makes what kubert makes: a pause container (network none, shareable IPC), an app
container joining its namespaces, starts both, stops the app container at once and the pause
container, removes both. kubert also writes its checkpoint and copies the container's log
into a CRI log file, as it does for a kubelet.

Run as root: ``python3 benchmarks/bench_docker_lifecycle.py [--rounds N] [--pods P]``.
Prints per-step medians of each side and the ratio of total medians for one pod, then the
median wall time of P pods run concurrently. Target: kubert / raw <= 1.10. ``--no-logs``
leaves out the CRI log copier (its follow request to the engine is the main cost the raw
side does not have).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2 as pb
from docker_setup import kubert_on_docker

STEPS = ("RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox",
         "RemovePodSandbox")
Timings = dict[str, float]


def _timed(timings: Timings, step: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    timings[step] = time.perf_counter() - started
    return result


def kubert_pod(stub: Any, image: str, log_dir: Path | None, n: int) -> Timings:
    t: Timings = {}
    pod = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=f"bench{n}", uid=f"bench-{n}-{time.time_ns()}",
                                       namespace="bench"),
        log_directory=str(log_dir / str(n)) if log_dir else "",
    )
    sid = _timed(t, "RunPodSandbox", lambda: stub.RunPodSandbox(
        pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id)
    config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="app"),
                                image=pb.ImageSpec(image=image),
                                log_path="app.log" if log_dir else "")
    cid = _timed(t, "CreateContainer", lambda: stub.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=sid, config=config, sandbox_config=pod)).container_id)
    _timed(t, "StartContainer", lambda: stub.StartContainer(
        pb.StartContainerRequest(container_id=cid)))
    _timed(t, "StopPodSandbox", lambda: stub.StopPodSandbox(
        pb.StopPodSandboxRequest(pod_sandbox_id=sid)))
    _timed(t, "RemovePodSandbox", lambda: stub.RemovePodSandbox(
        pb.RemovePodSandboxRequest(pod_sandbox_id=sid)))
    return t


def raw_pod(api: Any, pause: str, image: str, n: int) -> Timings:
    t: Timings = {}
    uid = f"raw-{n}-{time.time_ns()}"

    def run_sandbox() -> str:
        sid = api.create_container_from_config(
            {"Image": pause, "Labels": {"io.kubernetes.docker.type": "podsandbox"},
             "HostConfig": {"NetworkMode": "none", "IpcMode": "shareable"}},
            f"k8s_POD_raw{n}_bench_{uid}_0",
        )["Id"]
        api.start(sid)
        return str(sid)

    sid = _timed(t, "RunPodSandbox", run_sandbox)
    joined = f"container:{sid}"
    cid = _timed(t, "CreateContainer", lambda: api.create_container_from_config(
        {"Image": image, "Labels": {"io.kubernetes.docker.type": "container"},
         "HostConfig": {"NetworkMode": joined, "IpcMode": joined, "PidMode": joined}},
        f"k8s_app_raw{n}_bench_{uid}_0",
    )["Id"])
    _timed(t, "StartContainer", lambda: api.start(cid))

    def stop() -> None:
        api.stop(cid, timeout=0)
        api.stop(sid, timeout=10)

    def remove() -> None:
        api.remove_container(cid, force=True, v=True)
        api.remove_container(sid, force=True, v=True)

    _timed(t, "StopPodSandbox", stop)
    _timed(t, "RemovePodSandbox", remove)
    return t


def report(label: str, runs: list[Timings]) -> float:
    medians = {s: statistics.median(r[s] for r in runs) for s in STEPS}
    total = statistics.median(sum(r.values()) for r in runs)
    steps = "  ".join(f"{s}={medians[s] * 1000:6.1f}ms" for s in STEPS)
    print(f"  {label:6s} total={total * 1000:7.1f}ms  {steps}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="single-pod rounds per side")
    parser.add_argument("--pods", type=int, default=20, help="pods created concurrently")
    parser.add_argument("--concurrent-rounds", type=int, default=3)
    parser.add_argument("--no-logs", action="store_true",
                        help="kubert pods without a log directory (no CRI log copier)")
    args = parser.parse_args()

    with kubert_on_docker("kubert-bench-") as run:
        engine, stub, client = run.engine, run.stub, run.client
        image = engine.busybox
        log_dir = None if args.no_logs else run.root / "logs"
        # Warm both paths (connections, image lookups) before measuring.
        kubert_pod(stub, image, log_dir, -1)
        raw_pod(client.api, engine.pause, image, -1)
        ours: list[Timings] = []
        theirs: list[Timings] = []
        for n in range(args.rounds):
            ours.append(kubert_pod(stub, image, log_dir, n))
            theirs.append(raw_pod(client.api, engine.pause, image, n))
        # Both sides share the machine; a busy one widens the spread, so say how busy.
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"one pod, {args.rounds} rounds each, alternating (medians):")
        k_total = report("kubert", ours)
        r_total = report("raw", theirs)
        print(f"  ratio kubert/raw = {k_total / r_total:.3f}")

        k_walls: list[float] = []
        r_walls: list[float] = []
        with ThreadPoolExecutor(args.pods) as pool:
            for round_ in range(args.concurrent_rounds):
                base = 1000 * (round_ + 1)
                started = time.perf_counter()
                numbers = range(base, base + args.pods)
                list(pool.map(lambda i: kubert_pod(stub, image, log_dir, i), numbers))
                k_walls.append(time.perf_counter() - started)
                started = time.perf_counter()
                list(pool.map(lambda i: raw_pod(client.api, engine.pause, image, i), numbers))
                r_walls.append(time.perf_counter() - started)
        k_wall, r_wall = statistics.median(k_walls), statistics.median(r_walls)
        print(f"{args.pods} pods concurrently, {args.concurrent_rounds} rounds each "
              f"(median wall time): kubert={k_wall * 1000:.0f}ms raw={r_wall * 1000:.0f}ms "
              f"ratio={k_wall / r_wall:.3f}")


if __name__ == "__main__":
    main()
