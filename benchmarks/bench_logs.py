"""CRI container logs through kubert's docker backend, beside the engine's own cost, in one run.

For 1 container and then for N (default 200) at once, each writing ``seq`` as fast as the
engine takes it: lines per second from the start signal until the CRI reports every container
exited, the CPU of kubert's log-copy thread and of the private dockerd (``/proc/<pid>/stat``)
per MB of container output, every line of every container checked in order, the most memory
the benchmark process held, and, while the N containers log, the p99 latency of Status and
ListContainers over kubert's CRI socket (and of the engine's own ping, which Status makes),
beside the same figures while idle just before.

Run as root: ``python3 benchmarks/bench_logs.py [--containers N] [--lines L] [--one-lines L]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2 as pb
from docker_setup import KubertOnDocker, kubert_on_docker

TICKS = os.sysconf("SC_CLK_TCK")
#: Containers per pod: many pods would time the pause containers, not the logs.
PER_POD = 10


def cpu_seconds(stat_path: str) -> float:
    """utime + stime of a process or thread from its ``stat`` file."""
    with open(stat_path) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def log_thread_stat() -> str:
    for thread in threading.enumerate():
        if thread.name == "kubert-docker-logs":
            return f"/proc/self/task/{thread.native_id}/stat"
    raise RuntimeError("kubert's log thread is not running")


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def output_bytes(lines: int) -> int:
    """Bytes ``seq 1 lines`` writes."""
    total, width, start = 0, 1, 1
    while start <= lines:
        end = min(lines, start * 10 - 1)
        total += (end - start + 1) * (width + 1)
        start, width = start * 10, width + 1
    return total


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


class Prober:
    """Calls Status, ListContainers and the engine's own ping back to back until stopped;
    keeps each one's latency (kubert's Status pings the engine, so the engine's latency
    under the same load is part of it)."""

    def __init__(self, stub: Any, engine: Any) -> None:
        self.stub = stub
        self.engine = engine
        self.status: list[float] = []
        self.lists: list[float] = []
        self.pings: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober")

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self.stub.Status(pb.StatusRequest())
            middle = time.perf_counter()
            self.stub.ListContainers(pb.ListContainersRequest())
            listed = time.perf_counter()
            self.engine.ping()
            self.status.append(middle - started)
            self.lists.append(listed - middle)
            self.pings.append(time.perf_counter() - listed)
            self._stop.wait(0.01)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def create_writers(
    run: KubertOnDocker, tag: str, count: int, lines: int
) -> tuple[list[str], Path]:
    """``count`` containers that write ``seq 1 lines`` once their start FIFO opens.

    :returns: their IDs and the FIFO (opening it for writing releases the writers)."""
    go = run.root / f"go-{tag}"
    go.mkdir()
    os.mkfifo(go / "fifo")
    # Blocked in open(2) until the start signal: waiting costs no CPU.
    script = f"read x < /go/fifo; exec seq 1 {lines}"

    def pod(n: int) -> list[str]:
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"{tag}{n}", uid=f"{tag}-{n}", namespace="bench"),
            log_directory=str(run.root / "logs" / f"{tag}-{n}"),
        )
        sid = run.stub.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
        ids = []
        for c in range(min(PER_POD, count - n * PER_POD)):
            container = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name=f"w{c}"),
                image=pb.ImageSpec(image=run.engine.busybox), command=["sh", "-c", script],
                log_path=f"w{c}.log",
                mounts=[pb.Mount(container_path="/go", host_path=str(go), readonly=True)],
            )
            cid = run.stub.CreateContainer(pb.CreateContainerRequest(
                pod_sandbox_id=sid, config=container, sandbox_config=config)).container_id
            run.stub.StartContainer(pb.StartContainerRequest(container_id=cid))
            ids.append(cid)
        return ids

    with ThreadPoolExecutor(4) as pool:
        ids = [cid for ids in pool.map(pod, range(-(-count // PER_POD))) for cid in ids]
    return ids, go / "fifo"


def release(fifo: Path) -> None:
    """Open and close the FIFO for writing: every reader blocked in open(2) gets EOF."""
    with contextlib.suppress(OSError):  # ENXIO: no writer is waiting right now
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def check_every_line(paths: list[str], lines: int) -> None:
    expected = b"".join(b"F %d\n" % i for i in range(1, lines + 1))
    for path in paths:
        got = b"".join(
            line.split(b" ", 2)[2] + b"\n"
            for line in Path(path).read_bytes().split(b"\n")[:-1]
            if line.split(b" ", 2)[1] == b"stdout"
        )
        if got != expected:
            raise SystemExit(f"LOST OR REORDERED LINES in {path}: {got.count(b'F ')} of {lines}")


def measure(run: KubertOnDocker, tag: str, count: int, lines: int) -> dict[str, float]:
    ids, fifo = create_writers(run, tag, count, lines)
    paths = [run.stub.ContainerStatus(pb.ContainerStatusRequest(container_id=cid))
             .status.log_path for cid in ids]
    thread_stat = log_thread_stat()
    engine_stat = f"/proc/{run.engine.pid}/stat"
    peak = rss_mib()
    with Prober(run.stub, run.client.api) as idle:
        time.sleep(3)
    with Prober(run.stub, run.client.api) as prober:
        kubert0, engine0 = cpu_seconds(thread_stat), cpu_seconds(engine_stat)
        started = time.perf_counter()
        pending = set(ids)
        while pending:
            # Again each round: a writer that was not yet in open(2) the last time.
            release(fifo)
            listed = run.stub.ListContainers(pb.ListContainersRequest()).containers
            exited = {c.id for c in listed if c.state == pb.CONTAINER_EXITED}
            pending -= exited
            peak = max(peak, rss_mib())
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        kubert_cpu = cpu_seconds(thread_stat) - kubert0
        engine_cpu = cpu_seconds(engine_stat) - engine0
    check_every_line(paths, lines)
    megabytes = count * output_bytes(lines) / 1e6
    for cid in ids:
        run.stub.RemoveContainer(pb.RemoveContainerRequest(container_id=cid))
    return {
        "lines_per_s": count * lines / elapsed, "mb": megabytes, "elapsed": elapsed,
        "kubert_ms_per_mb": kubert_cpu * 1000 / megabytes,
        "engine_ms_per_mb": engine_cpu * 1000 / megabytes,
        "kubert_cpu": kubert_cpu, "engine_cpu": engine_cpu, "peak_rss": peak,
        "status_p99": percentile(prober.status, 0.99),
        "list_p99": percentile(prober.lists, 0.99),
        "ping_p99": percentile(prober.pings, 0.99),
        "idle_status_p99": percentile(idle.status, 0.99),
        "idle_list_p99": percentile(idle.lists, 0.99),
        "idle_ping_p99": percentile(idle.pings, 0.99),
        "probes": len(prober.status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--lines", type=int, default=20_000, help="lines per container of N")
    parser.add_argument("--one-lines", type=int, default=1_000_000,
                        help="lines of the single container")
    args = parser.parse_args()

    with kubert_on_docker("kubert-logs-") as run:
        root = run.root
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
              f"memory at start {rss_mib():.0f} MiB")
        for label, count, lines in (("1 container", 1, args.one_lines),
                                    (f"{args.containers} containers", args.containers,
                                     args.lines)):
            r = measure(run, label.split()[0], count, lines)
            print(f"{label}: {count * lines:,} lines ({r['mb']:.1f} MB) in {r['elapsed']:.1f} s, "
                  f"{r['lines_per_s']:,.0f} lines/s, every line kept in order")
            print(f"  CPU per MB of output: kubert's log thread {r['kubert_ms_per_mb']:.0f} ms "
                  f"({r['kubert_cpu']:.2f} s), dockerd {r['engine_ms_per_mb']:.0f} ms "
                  f"({r['engine_cpu']:.2f} s); kubert / dockerd = "
                  f"{r['kubert_cpu'] / r['engine_cpu']:.2f}")
            print(f"  p99 while logging ({r['probes']} probes) / idle before: Status "
                  f"{r['status_p99']:.1f} / {r['idle_status_p99']:.1f} ms, ListContainers "
                  f"{r['list_p99']:.1f} / {r['idle_list_p99']:.1f} ms, the engine's own ping "
                  f"{r['ping_p99']:.1f} / {r['idle_ping_p99']:.1f} ms")
            print(f"  peak memory of the benchmark process (kubert in it) {r['peak_rss']:.0f} MiB")
    # The engine's data and the CRI files of 200 writers: hundreds of MB of scratch.
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
