"""The crash harness: ``kubert serve`` as a real subprocess over a private dockerd and real CNI
plugins, random pod lifecycles against it, SIGKILL at random moments, and the invariants that
must hold after every restart.

Nothing here is mocked. The only fault injection is the kill itself: a SIGKILL at a random
moment, or ``KUBERT_CRASH_AT`` (:mod:`kubert.crashpoint`) to die exactly between two steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

from kubert import (
    ContainerState,
    DeadlineExceededError,
    KubertError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PodSandboxState,
    PortMapping,
    UnavailableError,
)
from kubert.cri.client import CriClient
from tests.fixtures.pods import start_sleeper
from tests.fixtures.polling import eventually

SYSTEM_CNI_BIN = Path("/usr/lib/cni")
KUBERT_LABEL = "io.kubernetes.docker.type"
#: Every call the harness makes must be answered within this (a hang is a failure).
CALL_TIMEOUT = 60.0


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


def thorough(config: Any) -> bool:
    """The long profile: ``--run-slow`` or ``KUBERT_THOROUGH=1``."""
    flag = os.environ.get("KUBERT_THOROUGH", "") not in ("", "0")
    return flag or bool(config.getoption("--run-slow"))


def is_internal(error: BaseException) -> bool:
    """INTERNAL and UNKNOWN come back from the client as a bare KubertError."""
    return type(error) is KubertError


def iptables_nat_works() -> bool:
    if shutil.which("iptables") is None:
        return False
    return run("iptables", "-w", "-t", "nat", "-L", "-n", check=False).returncode == 0


@define
class CrashNet:
    """A private CNI network: its own bridge, /24, conf, cache, IPAM and plugin dirs; with
    portmap (host ports on the bridge's own address only) when iptables' nat table works."""

    root: Path
    bridge: str
    subnet: str
    portmap: bool = field(factory=iptables_nat_works)

    @property
    def name(self) -> str:
        """The CNI network name, unique to this bridge (portmap's rules carry it)."""
        return f"net-{self.bridge}"

    @property
    def gateway(self) -> str:
        return self.subnet.rsplit(".", 1)[0] + ".1"

    @property
    def conf_dir(self) -> Path:
        return self.root / "net.d"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cni-cache"

    @property
    def ipam_dir(self) -> Path:
        return self.root / "ipam"

    @property
    def bin_dir(self) -> Path:
        return self.root / "cni-bin"

    def create(self) -> None:
        self.conf_dir.mkdir(parents=True)
        self.bin_dir.mkdir(parents=True)
        for plugin in ("bridge", "host-local", "loopback", "portmap"):
            (self.bin_dir / plugin).symlink_to(SYSTEM_CNI_BIN / plugin)
        plugins: list[dict[str, Any]] = [{
            "type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                     "dataDir": str(self.ipam_dir)},
        }]
        if self.portmap:
            plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
        conflist = {"cniVersion": "1.0.0", "name": self.name, "plugins": plugins}
        (self.conf_dir / "10-crash.conflist").write_text(json.dumps(conflist))

    def destroy(self) -> None:
        run("ip", "link", "del", self.bridge, check=False)

    def leases(self) -> dict[str, str]:
        """host-local's reserved IPs -> the container ID holding each."""
        found: dict[str, str] = {}
        net_dir = self.ipam_dir / self.name
        if not net_dir.is_dir():
            return found
        for entry in net_dir.iterdir():
            if entry.name == "lock" or entry.name.startswith("last_reserved_ip"):
                continue
            lines = entry.read_text().splitlines()
            found[entry.name] = lines[0].strip() if lines else ""
        return found

    def cache_owners(self) -> dict[str, bool]:
        """Sandbox IDs with a CNI cache entry -> whether the entry holds an ADD result."""
        results = self.cache_dir / "results"
        owners: dict[str, bool] = {}
        if not results.is_dir():
            return owners
        for entry in results.iterdir():
            try:
                doc = json.loads(entry.read_bytes())
            except (OSError, ValueError):
                owners[f"unreadable:{entry.name}"] = False
                continue
            owners[str(doc.get("containerId", entry.name))] = doc.get("result") is not None
        return owners

    def cache_files(self) -> list[str]:
        results = self.cache_dir / "results"
        return sorted(p.name for p in results.iterdir()) if results.is_dir() else []

    def portmap_owners(self) -> set[str]:
        """Sandbox IDs that portmap's nat rules of this network name."""
        if not self.portmap:
            return set()
        rules = run("iptables-save", "-t", "nat").stdout
        marker = f'name: \\"{self.name}\\" id: \\"'
        owners = set()
        for line in rules.splitlines():
            if marker in line:
                owners.add(line.split(marker, 1)[1].split("\\", 1)[0])
        return owners

    def veths(self) -> list[str]:
        """Host-side veths attached to the bridge."""
        out = run("ip", "-o", "link", "show", "master", self.bridge, check=False).stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line]


@define
class KubertProcess:
    """``kubert serve`` as a child process over a config file; killed and restarted at will."""

    workdir: Path
    engine: Any
    net: CrashNet
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def socket(self) -> Path:
        return self.workdir / "kubert.sock"

    @property
    def address(self) -> str:
        return f"unix://{self.socket}"

    @property
    def state_root(self) -> Path:
        return self.workdir / "state"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kubert.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "kubert.toml"

    def write_config(self) -> None:
        self.config_path.write_text(
            f'container-runtime-endpoint = "{self.address}"\n'
            f'root-directory = "{self.state_root}"\n'
            'runtime = "docker"\n'
            'network-plugin = "cni"\n'
            f'pod-infra-container-image = "{self.engine.pause}"\n'
            "shutdown-grace-period = 2.0\n"
            "[backend.docker]\n"
            f'endpoint = "{self.engine.host}"\n'
            "[backend.cni]\n"
            f'conf-dir = "{self.net.conf_dir}"\n'
            f'bin-dir = ["{self.net.bin_dir}"]\n'
            f'cache-dir = "{self.net.cache_dir}"\n'
            "plugin-timeout = 20.0\n"
        )

    def start(self, crash_at: str | None = None, timeout: float = 60.0) -> None:
        """Start and wait until it serves with RuntimeReady and NetworkReady."""
        env = dict(os.environ)
        # The bundled docker and cni plugins load through their entry points, as in production.
        env.pop("KUBERT_DISABLE_PLUGIN_AUTOLOAD", None)
        env.pop("KUBERT_CRASH_AT", None)
        if crash_at:
            env["KUBERT_CRASH_AT"] = crash_at
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start {self.starts} crash_at={crash_at}\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from kubert.cli import main; main()",
                 "serve", "--config", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        self.starts += 1
        proc = self.proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"kubert serve exited with {proc.returncode}:\n{self.log_tail()}"
                )
            return self.socket.exists() and self._ready()

        if not eventually(ready, timeout=timeout, interval=0.1):
            self.kill()
            raise AssertionError(f"kubert serve did not become ready:\n{self.log_tail()}")

    def _ready(self) -> bool:
        try:
            with CriClient.connect(self.address, timeout=1.0, call_timeout=5.0) as client:
                conditions = {c.type: c.status for c in client.status().conditions}
        except KubertError:
            return False
        return all(conditions.values()) and len(conditions) == 2

    def client(self) -> CriClient:
        return CriClient.connect(self.address, timeout=10.0, call_timeout=CALL_TIMEOUT)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited(self, timeout: float) -> bool:
        """Whether it exits within ``timeout`` s (a crash point drops the connection a moment
        before the process is gone)."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the server we started (by its pid) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---- what is on disk ----------------------------------------------------------------

    def checkpoint_files(self) -> list[str]:
        directory = self.state_root / "checkpoints"
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def netns_links(self) -> list[str]:
        directory = self.state_root / "docker" / "netns"
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


@define
class Figures:
    """What a run did, printed at its end and quoted in docs/reliability.md."""

    name: str
    seed: int = 0
    operations: int = 0
    kills: int = 0
    crash_points: int = 0
    points_hit: set[str] = field(factory=set)
    restarts_checked: int = 0
    refused: int = 0
    leaks: list[str] = field(factory=list)
    failures: list[str] = field(factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.name}: seed={self.seed} operations={self.operations} "
            f"kills survived={self.kills} "
            f"(at crash points {self.crash_points}: {', '.join(sorted(self.points_hit))}) "
            f"restarts checked={self.restarts_checked} "
            f"expected refusals={self.refused} leaks found={len(self.leaks)} "
            f"failed calls={len(self.failures)} in {self.seconds:.0f}s"
        )


#: Figures of every harness run of this session, printed in the terminal summary.
REPORTS: list[str] = []


def list_engine(engine_client: Any) -> dict[str, str]:
    """Every container kubert created on the engine -> its type label."""
    found = engine_client.api.containers(all=True, filters={"label": KUBERT_LABEL})
    return {c["Id"]: (c.get("Labels") or {}).get(KUBERT_LABEL, "") for c in found}


def check_invariants(server: KubertProcess, engine_client: Any, label: str) -> list[str]:
    """What does not match after a restart, as sentences (empty: all is well)."""
    problems: list[str] = []
    with server.client() as client:
        sandboxes = {s.id: s for s in client.list_pod_sandbox()}
        containers = {c.id for c in client.list_containers()}
    ready = {i for i, s in sandboxes.items() if s.state == PodSandboxState.SANDBOX_READY}
    for cid, kind in list_engine(engine_client).items():
        listed = sandboxes if kind == "podsandbox" else containers
        if cid not in listed:
            problems.append(f"{label}: engine {kind} {cid[:12]} is not listed through the CRI")
    for name in server.checkpoint_files():
        sandbox_id = name.removesuffix(".json")
        if not name.endswith(".json") or name.startswith("."):
            problems.append(f"{label}: stray file in the checkpoint dir: {name}")
        elif sandbox_id not in sandboxes:
            problems.append(f"{label}: checkpoint {sandbox_id[:12]} has no listed sandbox")
    leases = server.net.leases()
    cache = server.net.cache_owners()
    for ip, owner in leases.items():
        if owner not in ready:
            problems.append(f"{label}: lease {ip} held by {owner[:12]}, not a ready sandbox")
        if not cache.get(owner):
            problems.append(f"{label}: lease {ip} of {owner[:12]} has no CNI cache result")
    for owner in cache:
        if owner not in ready:
            problems.append(f"{label}: CNI cache entry of {owner[:12]}, not a ready sandbox")
        elif owner not in leases.values():
            problems.append(f"{label}: CNI cache entry of {owner[:12]} holds no lease")
    forwarded = server.net.portmap_owners()
    if server.net.portmap and forwarded != set(leases.values()):
        problems.append(f"{label}: portmap rules of {sorted(o[:12] for o in forwarded)} for "
                        f"attachments {sorted(o[:12] for o in leases.values())}")
    attached = len(set(leases.values()))
    # The kernel destroys a netns's veths after its last process left, not at once.
    veths = eventually(server.net.veths, lambda v: len(v) == attached, timeout=5, interval=0.1)
    if len(veths) != attached:
        problems.append(f"{label}: {len(veths)} veths on the bridge for {attached} attachments")
    for link in server.netns_links():
        if link not in ready:
            problems.append(f"{label}: netns link {link[:12]} of a sandbox that is not ready")
    return problems


def remove_everything(server: KubertProcess, figures: Figures) -> None:
    """Stop and remove every sandbox and container through the CRI, as the kubelet would."""
    with server.client() as client:
        for sandbox in client.list_pod_sandbox():
            for action in (client.stop_pod_sandbox, client.remove_pod_sandbox):
                try:
                    action(sandbox.id)
                except KubertError as error:
                    figures.failures.append(f"cleanup {action.__name__} {sandbox.id[:12]}: "
                                            f"{error}")
        for container in client.list_containers():
            try:
                client.remove_container(container.id)
            except KubertError as error:
                figures.failures.append(f"cleanup remove_container {container.id[:12]}: {error}")


def check_nothing_left(server: KubertProcess, engine_client: Any) -> list[str]:
    """After removing everything: no sandbox, container, lease, veth, cache file, checkpoint or
    netns link may remain."""
    problems: list[str] = []
    with server.client() as client:
        if client.list_pod_sandbox():
            problems.append(f"left: {len(client.list_pod_sandbox())} sandboxes still listed")
        if client.list_containers():
            problems.append(f"left: {len(client.list_containers())} containers still listed")
    engine = list_engine(engine_client)
    if engine:
        problems.append(f"left: {len(engine)} kubert containers on the engine")
    if server.net.leases():
        problems.append(f"left: leases {sorted(server.net.leases())}")
    if server.net.cache_files():
        problems.append(f"left: CNI cache files {server.net.cache_files()}")
    veths = eventually(server.net.veths, lambda v: not v, timeout=5, interval=0.1)
    if veths:
        problems.append(f"left: veths {veths}")
    if server.net.portmap_owners():
        problems.append(f"left: portmap rules of {sorted(server.net.portmap_owners())}")
    if server.checkpoint_files():
        problems.append(f"left: checkpoint files {server.checkpoint_files()}")
    if server.netns_links():
        problems.append(f"left: netns links {server.netns_links()}")
    return problems


@define
class Workload:
    """Random pod lifecycles over the CRI: pods from a small pool of names, new attempts each
    time, busybox containers in them; picks among what the server lists right now."""

    engine: Any
    log_directory: Path
    rng: random.Random
    figures: Figures
    max_ready: int = 4
    #: Where host ports are published (the test bridge's address); "" for none.
    host_ip: str = ""
    _attempts: dict[str, int] = field(factory=dict)
    _configs: dict[str, PodSandboxConfig] = field(factory=dict)
    _counter: int = 0

    POD_NAMES = ("alpha", "bravo", "charlie", "delta", "echo")

    def sandbox_config(self, name: str) -> PodSandboxConfig:
        attempt = self._attempts.get(name, -1) + 1
        self._attempts[name] = attempt
        return PodSandboxConfig(
            metadata=PodSandboxMetadata(
                name=name, namespace="crash", uid=f"uid-{name}", attempt=attempt
            ),
            log_directory=str(self.log_directory / f"{name}-{attempt}"),
            labels={"app": name},
            # On the bridge's own address only, so that no other traffic of the host matches.
            port_mappings=(PortMapping(container_port=80, host_ip=self.host_ip,
                                       host_port=self.rng.randrange(20000, 60000)),)
            if self.host_ip else (),
        )

    def failing_sandbox_config(self) -> PodSandboxConfig:
        """A sandbox the engine creates but cannot start (the kernel refuses the sysctl's
        value when runc writes it), so RunPodSandbox fails after create and has steps to
        undo. The sysctl itself exists and is namespaced, so kubert's checks let it through."""
        config = self.sandbox_config("failing")
        sysctls = {"net.ipv4.ip_unprivileged_port_start": "not-a-number"}
        return attrs.evolve(config, linux=attrs.evolve(config.linux, sysctls=sysctls))

    def step(self, client: CriClient, prefer: str | None = None) -> str:
        """One random operation, ``prefer`` (when possible) most of the time.

        :returns: its name. Errors propagate.
        """
        sandboxes = client.list_pod_sandbox()
        ready = [s for s in sandboxes if s.state == PodSandboxState.SANDBOX_READY]
        choices: list[tuple[str, int]] = [("run", 4 if len(ready) < self.max_ready else 0)]
        if ready:
            choices += [("create", 4), ("stop-sandbox", 2), ("status", 1)]
        if sandboxes:
            choices.append(("remove-sandbox", 2 if len(sandboxes) > 2 else 1))
        containers = client.list_containers()
        if containers:
            choices += [("stop-container", 1), ("remove-container", 1)]
        names, weights = zip(*[c for c in choices if c[1] > 0], strict=True)
        op = self.rng.choices(names, weights)[0]
        if prefer == "run-failing" or (prefer in names and self.rng.random() < 0.7):
            op = prefer
        if op == "run-failing":
            client.run_pod_sandbox(self.failing_sandbox_config())
        elif op == "run":
            config = self.sandbox_config(self.rng.choice(self.POD_NAMES))
            sandbox_id = client.run_pod_sandbox(config)
            self._configs[sandbox_id] = config
        elif op == "create":
            sandbox = self.rng.choice(ready)
            config = self._configs.get(sandbox.id) or PodSandboxConfig(
                metadata=sandbox.metadata, labels=dict(sandbox.labels)
            )
            self._counter += 1
            start_sleeper(client, sandbox.id, config, self.engine.busybox,
                          name=f"c{self._counter}", log_path=f"c{self._counter}.log")
        elif op == "stop-sandbox":
            client.stop_pod_sandbox(self.rng.choice(ready).id)
        elif op == "remove-sandbox":
            client.remove_pod_sandbox(self.rng.choice(sandboxes).id)
        elif op == "stop-container":
            container = self.rng.choice(containers)
            if container.state == ContainerState.CONTAINER_RUNNING:
                client.stop_container(container.id, 0)
        elif op == "remove-container":
            client.remove_container(self.rng.choice(containers).id)
        else:
            client.pod_sandbox_status(self.rng.choice(ready).id)
        return op


def attempt(figures: Figures, what: str, call: Callable[[], object]) -> bool:
    """Run one call; expected refusals are counted, INTERNAL and hangs are failures.

    :returns: False when the server is gone (the round is over).
    """
    try:
        call()
    except UnavailableError:
        return False
    except DeadlineExceededError as error:
        figures.failures.append(f"{what}: no answer: {error}")
    except KubertError as error:
        if is_internal(error):
            figures.failures.append(f"{what}: {error}")
        else:
            # NotFound, FailedPrecondition …: another step got there first (a sandbox stopped
            # under a container being created); the CRI answers those precisely.
            figures.refused += 1
    return True


@contextlib.contextmanager
def timed(figures: Figures) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        figures.seconds = time.monotonic() - started


def kill_during(server: KubertProcess, figures: Figures, what: str, call: Callable[[], object],
                delay: float) -> None:
    """Start ``call`` and SIGKILL the server ``delay`` seconds later, whatever it is doing."""
    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(attempt(figures, what, call)))
    worker.start()
    worker.join(delay)
    server.kill()
    worker.join(CALL_TIMEOUT)
    if worker.is_alive():
        figures.failures.append(f"{what}: still waiting for an answer after the kill")
