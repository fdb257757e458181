"""Idle RSS of ``kubert serve --runtime docker`` with the cni network plugin, started exactly as
bench_vs_cri_dockerd.py starts it, on one private dockerd: several starts of each source tree,
alternating, the median printed; optionally also the RSS with N pods.

Run as root: ``python3 benchmarks/bench_serve_rss.py [--starts N] [--pods N] [ROOT ...]``,
where each ROOT is a kubert checkout (default: this one) whose ``src`` and plugin sources are
put on PYTHONPATH, so that two trees (say, an exported older commit and this one) are measured
side by side in one run. Goal: idle RSS <= 60 MB, 100 pods <= 80 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_vs_cri_dockerd import CNI_BIN, Kubert, Network, remove_pods, run_pod

from kubert_docker.testing import running_engine

HERE = Path(__file__).resolve().parent.parent


class KubertFrom(Kubert):
    """``kubert serve`` with the sources of the checkout at ``tree``."""

    def __init__(self, tree: Path, *args: object) -> None:
        super().__init__(*args)
        self.tree = tree

    def env(self) -> dict[str, str]:
        paths = [self.tree / "src", *(self.tree / "plugins" / p / "src" for p in
                                      ("kubert-docker", "kubert-cni", "kubert-inplace"))]
        return dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in paths))


def measure(side: KubertFrom, busybox: str, logs: Path, pods: int) -> tuple[float, float]:
    """Start ``side``, read its idle RSS (MB) 2 s after it answers Status, and with ``pods``
    pods (nan when 0); stopped afterwards."""
    side.start()
    try:
        time.sleep(2)  # as bench_vs_cri_dockerd: start-up done, the first sync settled
        idle, _ = side.proc_status()
        full = float("nan")
        if pods:
            with ThreadPoolExecutor(max_workers=10) as pool:
                list(pool.map(lambda _: run_pod(side.stub, busybox, logs), range(pods)))
            time.sleep(2)
            full, _ = side.proc_status()
            remove_pods(side.stub)
    finally:
        side.stop()
    return idle, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, default=[HERE])
    parser.add_argument("--starts", type=int, default=5, help="starts of each tree")
    parser.add_argument("--pods", type=int, default=0, help="pods of the loaded reading")
    args = parser.parse_args()
    if os.geteuid() != 0 or not (CNI_BIN / "bridge").exists():
        print("SKIPPED: needs root and the CNI plugins in /usr/lib/cni")
        return
    root = Path(tempfile.mkdtemp(prefix="kbrss-", dir="/tmp"))
    (root / "engine").mkdir()
    net = Network(root)
    logs = root / "logs"
    readings: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in args.trees}
    try:
        with running_engine(root / "engine") as engine:
            sides = [KubertFrom(tree, root / f"kubert{n}", engine.host, net, engine.pause)
                     for n, tree in enumerate(args.trees)]
            for start in range(args.starts):
                order = sides if start % 2 == 0 else list(reversed(sides))
                for side in order:
                    readings[side.tree].append(measure(side, engine.busybox, logs, args.pods))
                    shutil.rmtree(side.root, ignore_errors=True)
    finally:
        net.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"load {os.getloadavg()[0]:.1f}; {args.starts} starts each")
    for tree, got in readings.items():
        idle = [i for i, _ in got]
        line = f"  {tree}: idle RSS MB median {statistics.median(idle):.1f} " \
               f"({', '.join(f'{i:.1f}' for i in idle)})"
        if args.pods:
            full = [f for _, f in got]
            line += f"; {args.pods} pods median {statistics.median(full):.1f}"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
