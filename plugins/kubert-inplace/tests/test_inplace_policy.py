"""Policy of the in-place plugin, on kubert's CRI server with the in-memory runtime (a
conformance-tested backend, not a stub): which changes qualify, upgrade order, how many at a
time, switching it off, and bad settings. The kubelet side runs in this process with the plugin
registered on its plugin manager, as the entry point does in an installed kubert.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert import InvalidArgumentError, hookimpl
from kubert.cri.client import CriClient
from kubert.kubelet import (
    ContainerKill,
    KubeletConfig,
    Pod,
    RuntimeManager,
    SyncResult,
    load_pods,
)
from kubert.plugins import PluginHost
from kubert.testing.server import RunningServer, start_server
from kubert_inplace import plugin as inplace_plugin
from kubert_inplace.record import RecordStore

_names = itertools.count()


@pytest.fixture(scope="module")
def memory_cri() -> Iterator[CriClient]:
    workdir = Path(tempfile.mkdtemp(prefix="kubert-ip-", dir="/tmp"))
    server: RunningServer = start_server(workdir)
    client = server.client()
    yield client
    client.close()
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def manager_for(cri: CriClient, root: Path, *plugins: object) -> RuntimeManager:
    host = PluginHost(autoload=False).load(extra=(inplace_plugin, *plugins))
    config = KubeletConfig(root_dir=root / "kubelet", log_root=root / "logs")
    return RuntimeManager(cri, config, pm=host.pm)


def make_pod(name: str, images: dict[str, str], annotations: dict[str, str] | None = None,
             command: str = "sleep", hostname: str = "") -> Pod:
    notes = {"inplace.kubert.io/verify-seconds": "0", **(annotations or {})}
    rendered = ", ".join(f'"{k}": "{v}"' for k, v in notes.items())
    return load_pods(f"""
metadata: {{name: {name}, annotations: {{{rendered}}}}}
spec:
  hostname: "{hostname}"
  initContainers:
  - {{name: proxy, image: "{images['proxy']}", restartPolicy: Always, command: [sleep, "9999"]}}
  containers:
  - {{name: a, image: "{images['a']}", command: [{command}, "9999"]}}
  - {{name: b, image: "{images['b']}", command: [sleep, "9999"]}}
""")[0]


OLD = {"proxy": "busybox:latest", "a": "busybox:latest", "b": "busybox:latest"}
NEW = {"proxy": "busybox:1.36", "a": "alpine:3.20", "b": "nginx:1.27"}


class KillOrder:
    """Sees every kill (a plain hook implementation, it only watches) and holds each of the
    first ``together`` kills until that many are in flight at once (or 10 seconds pass): a
    sequential upgrade then shows ``most_at_once == 1``."""

    def __init__(self, together: int = 1) -> None:
        self.names: list[str] = []
        self.together = together
        self.most_at_once = 0
        self._in_flight = 0
        self._cond = threading.Condition()

    @hookimpl
    def kubert_kill_container(self, kill: ContainerKill) -> bool | None:
        with self._cond:
            self.names.append(kill.container.name)
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: self.most_at_once >= self.together or len(self.names) > self.together,
                timeout=10,
            )
        with self._cond:
            self._in_flight -= 1
        return None


def converge(manager: RuntimeManager, pod: Pod, lines: list[str] | None = None) -> SyncResult:
    result = manager.sync_pod(pod, progress=(lines.append if lines is not None else print))
    for _ in range(5):  # a fresh pod: sidecar first, then the regular containers
        if all(c.running for c in manager.observe(pod.uid).containers) and len(
            manager.observe(pod.uid).containers
        ) == 3:
            break
        result = manager.sync_pod(pod)
    return result


def ids(manager: RuntimeManager, pod: Pod) -> dict[str, str]:
    status = manager.observe(pod.uid)
    return {n: c.id for n in ("proxy", "a", "b") if (c := status.find(n)) is not None and c.running}


def test_sidecars_first_one_at_a_time_by_default(memory_cri: CriClient, tmp_path: Path) -> None:
    spy = KillOrder()
    manager = manager_for(memory_cri, tmp_path, spy)
    name = f"order-{next(_names)}"
    converge(manager, make_pod(name, OLD))
    before = ids(manager, make_pod(name, OLD))
    lines: list[str] = []
    result = manager.sync_pod(make_pod(name, NEW), progress=lines.append)
    assert [s.target for s in result.steps if s.action == "InPlaceUpgrade"] == ["proxy", "a", "b"]
    assert not result.errors, result.errors
    assert spy.names == ["proxy", "a", "b"] and spy.most_at_once == 1
    after = ids(manager, make_pod(name, NEW))
    assert set(after) == {"proxy", "a", "b"} and not set(after.values()) & set(before.values())
    record = RecordStore(manager.config).load(make_pod(name, NEW).uid)
    assert record is not None and record.result == "Succeeded"
    assert [c.phase for c in record.containers.values()] == ["Upgraded"] * 3
    manager.delete_pod(make_pod(name, NEW).uid)


def test_explicit_order_and_max_unavailable(memory_cri: CriClient, tmp_path: Path) -> None:
    spy = KillOrder(together=2)
    manager = manager_for(memory_cri, tmp_path, spy)
    name = f"batch-{next(_names)}"
    settings = {"inplace.kubert.io/order": "b,a", "inplace.kubert.io/max-unavailable": "2"}
    converge(manager, make_pod(name, OLD, settings))
    spy.names.clear()
    result = manager.sync_pod(make_pod(name, NEW, settings), progress=print)
    assert not result.errors, result.errors
    # b and a form the first batch (stopped together), the sidecar, named last, comes alone.
    assert set(spy.names[:2]) == {"a", "b"} and spy.names[2:] == ["proxy"]
    assert spy.most_at_once == 2
    manager.delete_pod(make_pod(name, NEW).uid)


def test_switched_off_the_kubelet_stops_first_and_pulls_after(
    memory_cri: CriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the plugin (here: ``KUBERT_INPLACE=off``) the kubelet's path stands: the old
    container is killed, then the missing image fails to pull and the container stays down.
    With it, the same change stops nothing."""
    manager = manager_for(memory_cri, tmp_path)
    missing = {**OLD, "a": "busybox:0.0-missing"}
    for switch, a_survives in (("on", True), ("off", False)):
        monkeypatch.setenv("KUBERT_INPLACE", switch)
        name = f"switch-{switch}-{next(_names)}"
        converge(manager, make_pod(name, OLD))
        before = ids(manager, make_pod(name, OLD))
        result = manager.sync_pod(make_pod(name, missing))
        assert [s.error for s in result.errors] == ["ErrImagePull"]
        assert (ids(manager, make_pod(name, OLD)).get("a") == before["a"]) is a_survives
        has_record = RecordStore(manager.config).load(make_pod(name, OLD).uid) is not None
        assert has_record is a_survives
        manager.delete_pod(make_pod(name, OLD).uid)


def test_recreate_policy_annotation_opts_a_pod_out(memory_cri: CriClient, tmp_path: Path) -> None:
    manager = manager_for(memory_cri, tmp_path)
    opt_out = {"inplace.kubert.io/policy": "ReCreate"}
    name = f"optout-{next(_names)}"
    converge(manager, make_pod(name, OLD, opt_out))
    result = manager.sync_pod(make_pod(name, NEW, opt_out))
    assert not [s for s in result.steps if s.action == "InPlaceUpgrade"]
    assert {s.action for s in result.steps} == {"KillContainer", "StartContainer"}
    assert RecordStore(manager.config).load(make_pod(name, OLD).uid) is None
    manager.delete_pod(make_pod(name, OLD).uid)


def test_other_changes_take_the_kubelet_path_and_say_why(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    manager = manager_for(memory_cri, tmp_path)
    name = f"other-{next(_names)}"
    converge(manager, make_pod(name, OLD))
    sandbox = manager.observe(make_pod(name, OLD).uid).sandbox
    # a's command changes (with its image): beyond what a running pod takes, so the kubelet
    # side replaces the pod as a whole, and the plugin says it is not done in place.
    lines: list[str] = []
    changed = make_pod(name, {**OLD, "a": "alpine:3.20"}, command="/bin/sleep")
    manager.sync_pod(changed, progress=lines.append)
    assert any(line.startswith("In-place upgrade not possible, the pod is recreated: a new "
                               "sandbox is needed: only a new pod can take changes to "
                               "spec.containers[a].command") for line in lines), lines
    assert RecordStore(manager.config).load(changed.uid) is None
    assert manager.observe(changed.uid).sandbox != sandbox
    manager.delete_pod(changed.uid)


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("max-unavailable", "0", "must be at least 1"),
        ("order", "b,nosuch", "unknown: nosuch"),
        ("rollback", "maybe", "must be true or false"),
        ("policy", "InPlaceOnly", "must be one of InPlaceIfPossible, ReCreate"),
        ("verify-seconds", "soon", "must be a number of seconds"),
    ],
)
def test_a_bad_setting_is_refused_before_anything_changes(
    memory_cri: CriClient, tmp_path: Path, key: str, value: str, complaint: str
) -> None:
    manager = manager_for(memory_cri, tmp_path)
    name = f"bad-{next(_names)}"
    converge(manager, make_pod(name, OLD))
    before = ids(manager, make_pod(name, OLD))
    bad = make_pod(name, NEW, {f"inplace.kubert.io/{key}": value})
    with pytest.raises(InvalidArgumentError) as caught:
        manager.sync_pod(bad)
    assert f"metadata.annotations['inplace.kubert.io/{key}']" in str(caught.value)
    assert repr(value) in str(caught.value) and complaint in str(caught.value)
    assert ids(manager, bad) == before
    manager.delete_pod(bad.uid)


def test_node_default_from_the_environment(
    memory_cri: CriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERT_INPLACE_MAX_UNAVAILABLE", "none")
    manager = manager_for(memory_cri, tmp_path)
    name = f"envdefault-{next(_names)}"
    converge(manager, make_pod(name, OLD))
    with pytest.raises(InvalidArgumentError, match="KUBERT_INPLACE_MAX_UNAVAILABLE"):
        manager.sync_pod(make_pod(name, NEW))
    manager.delete_pod(make_pod(name, OLD).uid)



def test_field_ref_restart_takes_new_resources_without_a_resize(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    manager = manager_for(memory_cri, tmp_path)

    def pod(tier: str, cpu: str) -> Pod:
        return load_pods(f"""
metadata: {{name: refs, labels: {{tier: {tier}}},
           annotations: {{"inplace.kubert.io/verify-seconds": "0"}}}}
spec:
  containers:
  - name: reader
    image: busybox:1.36
    command: [sleep, "9999"]
    resources: {{requests: {{cpu: "{cpu}"}}}}
    env: [{{name: TIER, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}]
""")[0]

    manager.sync_pod(pod("gold", "100m"))
    before = manager.observe(pod("gold", "100m").uid).find("reader")
    result = manager.sync_pod(pod("silver", "200m"), progress=print)
    assert not result.errors, result.errors
    assert [s.action for s in result.steps] == ["InPlaceUpgrade"]
    reader = manager.observe(pod("silver", "200m").uid).find("reader")
    assert before is not None and reader is not None and reader.id != before.id
    assert reader.field_refs == {"metadata.labels['tier']": "silver"}
    assert reader.resources is not None and reader.resources.cpu_shares == 204
    assert manager.sync_pod(pod("silver", "200m")).steps == ()
    manager.delete_pod(pod("silver", "200m").uid)


def test_an_unreadable_record_is_ignored_and_replaced(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    manager = manager_for(memory_cri, tmp_path)
    name = f"garbled-{next(_names)}"
    converge(manager, make_pod(name, OLD))
    store = RecordStore(manager.config)
    store.path(make_pod(name, OLD).uid).write_text('{"result": "InProgress", "containers": ')
    result = manager.sync_pod(make_pod(name, NEW))
    assert not result.errors, result.errors
    record = store.load(make_pod(name, NEW).uid)
    assert record is not None and record.result == "Succeeded" and record.sequence == 1
    assert not list(store.path(record.uid).parent.glob(".inplace-upgrade.json.*"))
    manager.delete_pod(record.uid)
