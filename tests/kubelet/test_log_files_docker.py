"""Container log rotation on the real engine: a chatty container's log is rotated above the
size limit through ReopenContainerLog, at most ``container_log_max_files`` files remain (older
rotated ones gzipped), the runtime writes on in a fresh file, and the log agents' link follows
the container's log and goes with the pod."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubert.kubelet import KubeletConfig, RuntimeManager, load_pods
from kubert.kubelet.logfiles import rotate_logs
from tests.fixtures.polling import eventually

pytestmark = [pytest.mark.docker]


def test_chatty_container_log_is_rotated_and_linked(
    clean_engine: Any, cri_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    from kubert_docker import plugin as docker_plugin

    server = cri_server_factory(
        runtime="docker", network="noop", plugins=(docker_plugin,),
        pod_infra_image=clean_engine.pause, options={"docker": clean_engine.backend_options()},
    )
    cri = server.client()
    config = KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "pods",
                           container_log_max_size=20_000, container_log_max_files=3,
                           expect_pod_ip=False)
    manager = RuntimeManager(cri, config)
    pod = load_pods(f"""
metadata: {{name: chatty, namespace: logs}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: talker
    image: {clean_engine.busybox}
    imagePullPolicy: Never
    command: [sh, -c, "trap 'exit 0' TERM; while true; do seq 1 2000; sleep 0.1; done & wait"]
""")[0]
    try:
        manager.sync_pod(pod)
        talker = manager.observe(pod.uid).find("talker")
        assert talker is not None and talker.running
        log = Path(talker.status.log_path)
        link = tmp_path / "containers" / f"chatty_logs_talker-{talker.id}.log"
        assert Path(os.readlink(link)) == log
        for _ in range(4):
            assert eventually(lambda: rotate_logs(config, cri) == 1, timeout=30, interval=0.3)
        files = sorted(p.name for p in log.parent.iterdir())
        assert len(files) == 3 and log.name in files, files
        assert [f.endswith(".gz") for f in files if f != log.name] == [True, False], files
        # The runtime writes the reopened file.
        assert eventually(lambda: log.exists() and log.stat().st_size > 0, timeout=10,
                          interval=0.1)
    finally:
        manager.delete_pod(pod.uid, pod)
        cri.close()
    assert list((tmp_path / "containers").iterdir()) == []
