"""Log agents' links, restart counts recovered from the pod log directory (memory runtime over
a real CRI socket), and the rotation steps of one log file."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from kubert.cri.client import CriClient
from kubert.errors import KubertError
from kubert.kubelet import KubeletConfig, RuntimeManager, load_pods
from kubert.kubelet.criconfigs import pod_log_dir
from kubert.kubelet.logfiles import restart_count_from_logs, rotate_one

from .conftest import unique_name

POD = """
metadata: {{name: {name}, namespace: logs}}
spec:
  containers: [{{name: app, image: busybox:1.36, command: [sleep, "9999"]}}]
"""


def test_links_and_restart_count_from_the_log_dir(memory_cri: CriClient, tmp_path: Path) -> None:
    config = KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "pods")
    assert config.log_links_dir == tmp_path / "containers"
    manager = RuntimeManager(memory_cri, config)
    name = unique_name("logs")
    pod = load_pods(POD.format(name=name))[0]
    manager.sync_pod(pod)
    first = manager.observe(pod.uid).find("app")
    assert first is not None and first.restart_count == 0
    link = tmp_path / "containers" / f"{name}_logs_app-{first.id}.log"
    assert os.readlink(link) == str(pod_log_dir(config, pod) / "app" / "0.log")

    # The runtime loses the container; the log directory says it had run 4 times.
    directory = pod_log_dir(config, pod) / "app"
    for file in ("0.log", "3.log", "2.log.20261130-101010.gz", "notes.txt"):
        (directory / file).write_text("x")
    assert restart_count_from_logs(config, pod, "app") == 4
    memory_cri.stop_container(first.id, 0)
    memory_cri.remove_container(first.id)
    manager.sync_pod(pod)
    again = manager.observe(pod.uid).find("app")
    assert again is not None and again.restart_count == 4

    manager.delete_pod(pod.uid, pod)
    assert list((tmp_path / "containers").iterdir()) == []


def test_rotate_one_keeps_max_files_compresses_and_undoes_a_failed_reopen(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    reopened: list[str] = []
    stamps = iter(range(1_800_000_000, 1_800_000_100, 10))
    for round_ in range(4):
        log.write_text(f"round {round_}\n")
        assert rotate_one(log, 3, "cid", reopened.append, now=next(stamps))
        log.write_text("fresh\n")  # what the runtime writes after reopening
    assert reopened == ["cid"] * 4
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 3 and "0.log" in files
    rotated = [f for f in files if f != "0.log"]
    assert rotated[0].endswith(".gz") and not rotated[1].endswith(".gz")
    assert gzip.decompress((tmp_path / rotated[0]).read_bytes()) == b"round 2\n"
    assert (tmp_path / rotated[1]).read_text() == "round 3\n"

    def refuse(container_id: str) -> None:
        # An injected fault: the runtime cannot reopen (the container stopped meanwhile).
        raise KubertError("container is not running")

    log.write_text("keep me\n")
    assert not rotate_one(log, 3, "cid", refuse, now=next(stamps))
    assert log.read_text() == "keep me\n"
