"""The three sync bugs of issue 17, each reproduced first: a completed OnFailure pod with init
containers must stay completed, a container that succeeded in an older sandbox must not run
again, and syncs of one pod are serialized across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from kubert.cri.client import CriClient
from kubert.kubelet import compute_pod_actions, load_pods
from kubert.kubelet.podstatus import pod_view
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name
from .helpers import EXITED, container, pod, sandbox, status

INIT_ONFAILURE = """
metadata: {name: %s}
spec:
  restartPolicy: OnFailure
  initContainers:
  - {name: setup, image: 'busybox:1.36', command: [sleep, '9999']}
  containers:
  - {name: app, image: 'busybox:1.36', command: [sleep, '9999']}
"""

TWO_ONFAILURE = """
metadata: {name: %s}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: ok, image: 'busybox:1.36', command: [sleep, '9999']}
  - {name: bad, image: 'busybox:1.36', command: [sleep, '9999']}
"""


def test_completed_onfailure_pod_with_init_containers_gets_no_new_sandbox() -> None:
    p = pod(INIT_ONFAILURE % "done")
    sb = sandbox(p, ready=False)  # the pod completed: its sandbox was stopped
    setup = container(p, "setup", sb, EXITED)
    app = container(p, "app", sb, EXITED)
    actions = compute_pod_actions(p, status(p, [sb], [setup, app]))
    assert not actions.create_sandbox
    assert actions.init_containers_to_start == ()


def test_succeeded_container_of_an_older_sandbox_is_not_started_again() -> None:
    p = pod(TWO_ONFAILURE % "resandboxed")
    old = sandbox(p, ready=False)
    ok = container(p, "ok", old, EXITED, exit_code=0)
    bad = container(p, "bad", old, EXITED, exit_code=1)
    new = sandbox(p, attempt=1)
    actions = compute_pod_actions(p, status(p, [old, new], [ok, bad]))
    assert not actions.create_sandbox
    assert actions.containers_to_start == ("bad",)


def test_completed_init_pod_stays_completed_over_many_syncs(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, clock = new_manager(memory_cri, tmp_path)
    p = load_pods(INIT_ONFAILURE % unique_name("done"))[0]
    try:
        manager.sync_pod(p)  # sandbox, init container
        setup = manager.observe(p.uid).find("setup")
        assert setup is not None and setup.running
        memory_server.runtime.exit_container(setup.id, 0)
        manager.sync_pod(p)  # app starts
        app = manager.observe(p.uid).find("app")
        assert app is not None and app.running
        memory_server.runtime.exit_container(app.id, 0)
        for _ in range(6):
            clock.advance(30)
            manager.sync_pod(p)
        observed = manager.observe(p.uid)
        assert len(observed.sandboxes) == 1
        assert [c.name for c in observed.containers if c.running] == []
        assert len(observed.all_named("setup")) == 1 and len(observed.all_named("app")) == 1
        assert pod_view(p, observed).phase == "Succeeded"
    finally:
        manager.delete_pod(p.uid, p)


def test_succeeded_container_does_not_run_again_after_the_sandbox_is_remade(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, clock = new_manager(memory_cri, tmp_path)
    p = load_pods(TWO_ONFAILURE % unique_name("remade"))[0]
    try:
        manager.sync_pod(p)
        first = manager.observe(p.uid)
        ok = first.find("ok")
        assert ok is not None and ok.running
        memory_server.runtime.exit_container(ok.id, 0)
        manager.sync_pod(p)
        sandbox_id = first.sandboxes[0].id
        memory_cri.stop_pod_sandbox(sandbox_id)  # the sandbox dies (a node reboot)
        for _ in range(3):
            clock.advance(30)
            manager.sync_pod(p)
        observed = manager.observe(p.uid)
        assert len(observed.sandboxes) == 2
        assert len(observed.all_named("ok")) == 1, "a succeeded container ran again"
        bad = observed.find("bad")
        assert bad is not None and bad.running and bad.sandbox_id != sandbox_id
    finally:
        manager.delete_pod(p.uid, p)


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kubert.kubelet.podlock import pod_lock
    with pod_lock(Path(sys.argv[1]), sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def test_a_sync_waits_for_another_process_syncing_the_same_pod(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    p = load_pods(TWO_ONFAILURE % unique_name("locked"))[0]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(manager.config.root_dir), p.uid],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        worker = threading.Thread(target=manager.sync_pod, args=(p,))
        worker.start()
        worker.join(1.0)
        # the other process holds the pod: this sync has not touched the runtime
        assert worker.is_alive()
        assert manager.observe(p.uid).sandboxes == ()
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        worker.join(30)
        assert not worker.is_alive()
        assert len(manager.observe(p.uid).sandboxes) == 1
    finally:
        holder.kill()
        holder.wait()
        manager.delete_pod(p.uid, p)


def test_sandbox_is_privileged_when_any_container_is() -> None:
    from kubert.kubelet import KubeletConfig, sandbox_config

    plain = pod(TWO_ONFAILURE % "plain")
    assert not sandbox_config(KubeletConfig(), plain, 0).linux.security_context.privileged
    for where in ("containers", "initContainers", "ephemeralContainers"):
        p = pod(
            f"""
metadata: {{name: priv}}
spec:
  containers:
  - {{name: app, image: busybox:1}}
  {where}:
  - {{name: x, image: busybox:1, securityContext: {{privileged: true}}}}
"""
            if where != "containers"
            else """
metadata: {name: priv}
spec:
  containers:
  - {name: app, image: busybox:1, securityContext: {privileged: true}}
"""
        )
        assert sandbox_config(KubeletConfig(), p, 0).linux.security_context.privileged, where
