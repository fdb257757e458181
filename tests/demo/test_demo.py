"""The README's first command: scripts/demo brings up dockerd, kubert serve and a running pod.

Runs the real script end to end (private dockerd, locally built images, CNI bridge, the demo
pod through ``kubert apply``), checks the pod answers on its IP, then ``scripts/demo stop``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

pytestmark = pytest.mark.docker


@pytest.fixture
def demo_env() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("scripts/demo needs root and dockerd")
    # A short path: the docker and kubert sockets must fit in a unix socket address.
    root = Path(tempfile.mkdtemp(prefix="kd-", dir="/tmp"))
    env = {**os.environ, "KUBERT_DEMO_DIR": str(root), "KUBERT_DEMO_SKIP_SETUP": "1"}
    env.pop("KUBERT_DISABLE_PLUGIN_AUTOLOAD", None)  # the demo is a user's run: plugins load
    try:
        yield env
    finally:
        subprocess.run([REPO / "scripts" / "demo", "stop"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_demo_runs_a_pod_that_answers(demo_env: dict[str, str]) -> None:
    started = subprocess.run([REPO / "scripts" / "demo"], env=demo_env, cwd=REPO,
                             capture_output=True, text=True, timeout=240)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "The demo pod runs." in started.stdout
    demo_dir = demo_env["KUBERT_DEMO_DIR"]
    env = {
        **demo_env,
        "CONTAINER_RUNTIME_ENDPOINT": f"unix://{demo_dir}/kubert.sock",
        "KUBERT_KUBELET_ROOT": f"{demo_dir}/kubelet",
        "KUBERT_LOG_ROOT": f"{demo_dir}/logs",
    }
    listed = subprocess.run(["kubert", "get", "pods", "-o", "json"], env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    (pod,) = json.loads(listed.stdout)
    assert (pod["name"], pod["phase"], pod["ready"], pod["total"]) == ("demo", "Running", 3, 3)
    # The pod address our own CNI config assigned, in a namespace the demo created.
    with urllib.request.urlopen(f"http://{pod['ips'][0]}:8080/", timeout=10) as answer:
        assert answer.read().decode().startswith("hello from demo")

    stopped = subprocess.run([REPO / "scripts" / "demo", "stop"], env=demo_env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(demo_dir, "kubert.sock").exists()
