"""The in-memory backend's own rules beyond the suite: its command interpreter, fake registry,
events, test helpers and options."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kubert import (
    BackendContext,
    ContainerEventType,
    ContainerState,
    DeadlineExceededError,
    FailedPreconditionError,
    ImageFilter,
    ImageSpec,
    InvalidArgumentError,
    NotFoundError,
    PodSandboxState,
    PullProgress,
    UnavailableError,
)
from kubert.plugins import PluginHost
from kubert.testing.configs import ConfigFactory
from kubert.testing.memory import STOP_EXIT_CODE, MemoryBackend
from kubert.testing.strategies import ContainerSpec


@pytest.fixture
def memory(tmp_path: Path) -> MemoryBackend:
    return MemoryBackend(BackendContext(root_dir=tmp_path))


@pytest.fixture
def configs() -> ConfigFactory:
    return ConfigFactory()


def _running(memory: MemoryBackend, configs: ConfigFactory, **changes: object) -> str:
    sandbox_config = configs.sandbox()
    sandbox_id = memory.create_sandbox(sandbox_config, "").id
    memory.start_sandbox(sandbox_id)
    container_id = memory.create_container(
        sandbox_id, configs.container(**changes), sandbox_config
    )
    memory.start_container(container_id)
    return container_id


def test_registered_as_memory_through_the_builtins() -> None:
    host = PluginHost(autoload=False).load()
    assert host.backend_class("runtime", "memory") is MemoryBackend
    assert host.backend_class("image", "memory") is MemoryBackend


def test_exit_container_helper(memory: MemoryBackend, configs: ConfigFactory) -> None:
    container_id = _running(memory, configs)
    memory.exit_container(container_id, 42)
    status = memory.container_status(container_id)
    assert (status.state, status.exit_code, status.reason) == (
        ContainerState.CONTAINER_EXITED, 42, "Error",
    )
    with pytest.raises(FailedPreconditionError):
        memory.exit_container(container_id, 0)
    with pytest.raises(InvalidArgumentError, match="exit_code"):
        memory.exit_container(container_id, 256)


def test_stop_gives_sigkill_code_and_completed_reason_for_zero(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    stopped = _running(memory, configs)
    memory.stop_container(stopped, 10)
    assert memory.container_status(stopped).exit_code == STOP_EXIT_CODE
    done = _running(memory, configs, command=("true",))
    assert memory.container_status(done).reason == "Completed"


@pytest.mark.parametrize(
    ("cmd", "stdout", "code"),
    [
        (["echo", "a", "b"], b"a b\n", 0),
        (["/bin/false"], b"", 1),
        (["sh", "-c", "exit 9"], b"", 9),
        (["sleep", "1"], b"", 0),
        (["hostname"], None, 0),
        (["nope"], b"", 127),
    ],
)
def test_exec_interpreter(
    memory: MemoryBackend, configs: ConfigFactory, cmd: list[str], stdout: bytes | None,
    code: int,
) -> None:
    container_id = _running(memory, configs)
    result = memory.exec_sync(container_id, cmd, 5)
    assert result.exit_code == code
    if stdout is not None:
        assert result.stdout == stdout


def test_exec_env_and_timeout(memory: MemoryBackend, configs: ConfigFactory) -> None:
    from kubert import KeyValue

    container_id = _running(memory, configs, envs=(KeyValue(key="GREETING", value="hi"),))
    assert b"GREETING=hi\n" in memory.exec_sync(container_id, ["env"], 0).stdout
    with pytest.raises(DeadlineExceededError):
        memory.exec_sync(container_id, ["sleep", "10"], 2)
    memory.stop_container(container_id, 0)
    with pytest.raises(FailedPreconditionError):
        memory.exec_sync(container_id, ["true"], 0)


def test_images_tags_digests_and_pinning(memory: MemoryBackend) -> None:
    pause = memory.image_status(ImageSpec(image="registry.k8s.io/pause:3.9"))
    assert pause is not None and pause.pinned
    busybox = memory.image_status(ImageSpec(image="busybox"))
    assert busybox is not None and not busybox.pinned
    assert busybox.repo_tags == ("busybox:latest",)
    [digest] = busybox.repo_digests
    assert memory.image_status(ImageSpec(image=digest)) == busybox
    assert memory.image_status(ImageSpec(image=busybox.id.removeprefix("sha256:"))) == busybox
    seen: list[PullProgress] = []
    alpine_id = memory.pull_image(ImageSpec(image="alpine:3.20"), None, None, seen.append)
    assert [p.status for p in seen] == ["Downloading", "Pull complete"]
    assert [i.id for i in memory.list_images(ImageFilter(image=ImageSpec(image="alpine")))] == [
        alpine_id
    ]
    with pytest.raises(NotFoundError):
        memory.pull_image(ImageSpec(image="alpine:0.1"), None, None)


def test_pull_by_digest_then_tag(tmp_path: Path) -> None:
    memory = MemoryBackend(BackendContext(root_dir=tmp_path, options={"images": []}))
    assert memory.list_images(None) == []
    memory.pull_image(ImageSpec(image="nginx:1.27"), None, None)
    image = memory.image_status(ImageSpec(image="nginx:1.27"))
    assert image is not None
    memory.remove_image(ImageSpec(image=image.id))
    by_digest = memory.pull_image(ImageSpec(image=image.repo_digests[0]), None, None)
    pulled = memory.image_status(ImageSpec(image=by_digest))
    assert pulled is not None and pulled.repo_tags == () and pulled.id == image.id


def test_options_registry_pull_any_and_handlers(tmp_path: Path) -> None:
    memory = MemoryBackend(BackendContext(
        root_dir=tmp_path,
        options={"registry": ["app:1,app:latest"], "pull_any": True,
                 "runtime_handlers": ["", "kata"]},
    ))
    memory.pull_image(ImageSpec(image="app"), None, None)
    one = memory.pull_image(ImageSpec(image="app:1"), None, None)
    image = memory.image_status(ImageSpec(image="app"))
    assert image is not None and image.id == one and set(image.repo_tags) == {"app:1", "app:latest"}
    assert memory.pull_image(ImageSpec(image="anything/else:2"), None, None)
    configs = ConfigFactory()
    assert memory.create_sandbox(configs.sandbox(), "kata").id
    with pytest.raises(InvalidArgumentError, match="runtime_handler"):
        memory.create_sandbox(configs.sandbox(), "gvisor")


def test_infra_image_in_use_and_required(tmp_path: Path, configs: ConfigFactory) -> None:
    memory = MemoryBackend(BackendContext(root_dir=tmp_path))
    sandbox_id = memory.create_sandbox(configs.sandbox(), "").id
    pause = ImageSpec(image="registry.k8s.io/pause:3.9")
    with pytest.raises(FailedPreconditionError):
        memory.remove_image(pause)
    memory.remove_sandbox(sandbox_id)
    memory.remove_image(pause)
    with pytest.raises(NotFoundError, match="pause"):
        memory.create_sandbox(configs.sandbox(), "")


def test_stopped_sandbox_is_never_started_again(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    sandbox_id = memory.create_sandbox(configs.sandbox(), "").id
    memory.start_sandbox(sandbox_id)
    memory.stop_sandbox(sandbox_id)
    with pytest.raises(FailedPreconditionError, match="new attempt"):
        memory.start_sandbox(sandbox_id)


def test_events_carry_statuses_and_end_on_close(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    events = memory.container_events()
    container_id = _running(memory, configs, command=("sh",), args=("-c", "exit 4"))
    memory.remove_container(container_id)
    memory.close()
    got = list(events)  # ends because the backend closed
    assert [e.container_event_type for e in got] == [
        ContainerEventType.CONTAINER_CREATED_EVENT,
        ContainerEventType.CONTAINER_STARTED_EVENT,
        ContainerEventType.CONTAINER_STOPPED_EVENT,
        ContainerEventType.CONTAINER_DELETED_EVENT,
    ]
    assert got[2].containers_statuses[0].exit_code == 4
    assert got[0].pod_sandbox_status is not None
    assert [e.created_at for e in got] == sorted({e.created_at for e in got})
    assert list(memory.container_events()) == []


def test_inject_fault_fails_the_next_calls_only(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    memory.inject_fault("start_sandbox", UnavailableError("memory", "injected"), times=2)
    sandbox_id = memory.create_sandbox(configs.sandbox(), "").id
    for _ in range(2):
        with pytest.raises(UnavailableError):
            memory.start_sandbox(sandbox_id)
    memory.start_sandbox(sandbox_id)
    with pytest.raises(InvalidArgumentError):
        memory.inject_fault("no_such_method", UnavailableError("memory", "x"))


def test_set_ready(memory: MemoryBackend) -> None:
    memory.set_ready(False, "EngineDown", "the engine went away")
    condition = memory.status()
    assert (condition.status, condition.reason) == (False, "EngineDown")
    memory.set_ready(True)
    assert memory.status().status


def test_update_resources_and_reopen_rules(memory: MemoryBackend, configs: ConfigFactory) -> None:
    from kubert import LinuxContainerResources

    container_id = _running(memory, configs)
    memory.reopen_container_log(container_id)
    memory.stop_container(container_id, 0)
    with pytest.raises(FailedPreconditionError):
        memory.reopen_container_log(container_id)
    with pytest.raises(FailedPreconditionError):
        memory.update_container_resources(container_id, LinuxContainerResources())


def test_concurrent_creates_keep_identity_unique(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    config = configs.sandbox()
    outcomes: list[str] = []

    def create() -> None:
        try:
            outcomes.append(memory.create_sandbox(config, "").id)
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("AlreadyExistsError") == 7


def test_log_path_joins_directory(memory: MemoryBackend, configs: ConfigFactory) -> None:
    sandbox_config = configs.sandbox(log_directory="/var/log/pods/x")
    sandbox_id = memory.create_sandbox(sandbox_config, "").id
    memory.start_sandbox(sandbox_id)
    container_id = memory.create_container(
        sandbox_id, configs.container(ContainerSpec("c"), log_path="c/0.log"), sandbox_config
    )
    assert memory.container_status(container_id).log_path == "/var/log/pods/x/c/0.log"


def test_list_entries_are_shared_read_only_and_new_when_changed(
    memory: MemoryBackend, configs: ConfigFactory
) -> None:
    """The same entry objects while nothing changed (the relist copies nothing), read-only
    maps, and a new entry when the state changes (the old one stays as it was)."""
    container_id = _running(memory, configs, command=("sleep", "60"))
    [sandbox] = memory.list_sandboxes(None)
    [container] = memory.list_containers(None)
    assert memory.list_sandboxes(None)[0] is sandbox
    assert memory.list_containers(None)[0] is container
    with pytest.raises(TypeError):
        sandbox.labels["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        container.annotations["x"] = "y"  # type: ignore[index]
    memory.stop_container(container_id, 0)
    [stopped] = memory.list_containers(None)
    assert stopped is not container
    assert container.state == ContainerState.CONTAINER_RUNNING
    assert stopped.state == ContainerState.CONTAINER_EXITED
    memory.stop_sandbox(sandbox.id)
    assert memory.list_sandboxes(None)[0].state == PodSandboxState.SANDBOX_NOTREADY
    assert sandbox.state == PodSandboxState.SANDBOX_READY
