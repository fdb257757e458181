"""ADD + DEL of one pod through kubert's ``cni`` backend against running the same plugin chain
by hand (the plugin binaries as subprocesses, with the same environment and stdin), in the same
run, on a private bridge and subnet in a netns made here. Prints both and their ratio.

Run as root: ``python3 benchmarks/bench_cni.py [--rounds N]``. Target: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubert import BackendContext, PodNetwork, PodSandboxMetadata
from kubert_cni.backend import CNINetwork

BIN_DIR = Path("/usr/lib/cni")
VERSION = "1.0.0"
NETWORK = "kbt-bench"


def chain_plugins(bridge: str, ipam_dir: Path) -> list[dict[str, Any]]:
    return [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.250.0/24"}]],
                  "dataDir": str(ipam_dir)}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]


def exec_plugin(plugin: str, env: dict[str, str], conf: dict[str, Any]) -> dict[str, Any] | None:
    done = subprocess.run([str(BIN_DIR / plugin)], input=json.dumps(conf).encode(), env=env,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{plugin} failed: {done.stdout!r} {done.stderr!r}")
    return json.loads(done.stdout) if done.stdout.strip() else None


def by_hand(plugins: list[dict[str, Any]], netns: str, sandbox_id: str) -> None:
    """What kubert does for one pod, done directly: lo up, ADD the chain, DEL it in reverse."""
    base = dict(os.environ, CNI_CONTAINERID=sandbox_id, CNI_NETNS=netns, CNI_PATH=str(BIN_DIR),
                CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p;"
                         f"K8S_POD_INFRA_CONTAINER_ID={sandbox_id};K8S_POD_UID=u")
    exec_plugin("loopback", dict(base, CNI_COMMAND="ADD", CNI_IFNAME="lo"),
                {"cniVersion": "0.3.1", "name": "cni-loopback", "type": "loopback"})
    prev: dict[str, Any] | None = None
    for plugin in plugins:
        conf = dict(plugin, name=NETWORK, cniVersion=VERSION)
        if prev is not None:
            conf["prevResult"] = prev
        prev = exec_plugin(plugin["type"], dict(base, CNI_COMMAND="ADD", CNI_IFNAME="eth0"), conf)
    for plugin in reversed(plugins):
        conf = dict(plugin, name=NETWORK, cniVersion=VERSION, prevResult=prev)
        exec_plugin(plugin["type"], dict(base, CNI_COMMAND="DEL", CNI_IFNAME="eth0"), conf)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0 or not (BIN_DIR / "bridge").exists():
        print("bench_cni: needs root and containernetworking-plugins in /usr/lib/cni")
        return 2
    run_id = secrets.token_hex(3)
    bridge, netns_name = f"kbtb{run_id}", f"kbt-bench-{run_id}"
    work = Path(tempfile.mkdtemp(prefix="kbt-bench-"))
    subprocess.run(["ip", "netns", "add", netns_name], check=True)
    netns = f"/var/run/netns/{netns_name}"
    try:
        conf_dir = work / "net.d"
        conf_dir.mkdir()
        plugins = chain_plugins(bridge, work / "ipam")
        (conf_dir / "10-bench.conflist").write_text(
            json.dumps({"cniVersion": VERSION, "name": NETWORK, "plugins": plugins}))
        backend = CNINetwork(BackendContext(root_dir=work / "root", options={
            "conf-dir": str(conf_dir), "bin-dir": [str(BIN_DIR)], "cache-dir": str(work / "cache"),
        }))
        kubert_times: list[float] = []
        hand_times: list[float] = []

        def through_kubert() -> float:
            pod = PodNetwork(
                sandbox_id=secrets.token_hex(32), netns_path=netns,
                metadata=PodSandboxMetadata(name="p", namespace="bench", uid="u"),
            )
            start = time.perf_counter()
            backend.setup_pod(pod)
            backend.teardown_pod(pod)
            return time.perf_counter() - start

        def by_hand_timed() -> float:
            start = time.perf_counter()
            by_hand(plugins, netns, secrets.token_hex(32))
            return time.perf_counter() - start

        # Round 0 warms up. The order flips every round, so that drift in the machine's load
        # (other processes, page cache) hits both sides alike.
        for round_no in range(args.rounds + 1):
            if round_no % 2:
                h, k = by_hand_timed(), through_kubert()
            else:
                k, h = through_kubert(), by_hand_timed()
            if round_no:
                kubert_times.append(k)
                hand_times.append(h)
        km, hm = statistics.median(kubert_times), statistics.median(hand_times)
        kb, hb = min(kubert_times), min(hand_times)
        print(f"bench_cni: {args.rounds} rounds of loopback + ADD (bridge, host-local, portmap) "
              f"+ DEL, cniVersion {VERSION}")
        print(f"  kubert cni backend : median {km * 1000:7.2f} ms   best {kb * 1000:7.2f} ms")
        print(f"  plugins by hand    : median {hm * 1000:7.2f} ms   best {hb * 1000:7.2f} ms")
        print(f"  ratio kubert/hand  : median {km / hm:.3f}   best {kb / hb:.3f} "
              f"(target <= 1.10; load average {os.getloadavg()[0]:.2f})")
        return 0
    finally:
        subprocess.run(["ip", "netns", "del", netns_name], check=False)
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
