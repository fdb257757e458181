"""The conformance state machine: random lifecycles, checked against the reference model.

Every rule does the same thing to the backend under test and to a fresh
:class:`~kubert.testing.memory.MemoryBackend` (the model) and requires the same outcome: the
same error type, or success on both. After every step the invariant compares what both list:
the same sandboxes and containers (backend IDs mapped to model IDs), in the same states, with
the same metadata, labels and annotations; and which of the suite's images are present.

Objects the backend already had when a run began (another test's, another client's) are
ignored. Containers that exit by themselves are given ``settle_seconds`` to be reported.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from attrs import define, field, frozen
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from kubert.backends import BackendContext, ImageBackend, RuntimeBackend
from kubert.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
    UnimplementedError,
)
from kubert.model import (
    Container,
    ContainerFilter,
    ContainerState,
    ImageSpec,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxState,
)
from kubert.testing import profiles
from kubert.testing.configs import ConfigFactory
from kubert.testing.memory import STOP_EXIT_CODE, MemoryBackend
from kubert.testing.strategies import (
    ContainerSpec,
    SandboxSpec,
    container_specs,
    sandbox_specs,
)
from kubert.testing.suite.errors import CONTAINER_ID_CALLS, SANDBOX_ID_CALLS, UNKNOWN_ID

__all__ = [
    "BackendStateMachine", "ExitRules", "ImageRules", "MachineSetup", "machine_class",
    "run_machine",
]

T = TypeVar("T")

_ERROR_KINDS: tuple[type[KubertError], ...] = (
    NotFoundError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    UnimplementedError,
    DeadlineExceededError,
)


class ConformanceError(AssertionError):
    """The backend and the reference model disagree."""


@define
class MachineSetup:
    """Everything a run needs: the backend, its images, the config factory, capabilities.

    :ivar backend: the backend under test (shared by all runs of one test).
    :ivar image_backend: its image backend, or None (then image rules are off).
    :ivar container_images: images containers use; present before the run.
    :ivar pullable_images: images the machine pulls and removes (distinct images).
    :ivar pull: whether pull / remove rules run (``supports_image_pull``).
    :ivar exit_container: whether the backend has the ``exit_container`` test helper.
    :ivar settle_seconds: how long a self-exiting container may take to show EXITED.
    """

    backend: RuntimeBackend
    image_backend: ImageBackend | None
    configs: ConfigFactory
    container_images: Sequence[str]
    pullable_images: Sequence[str] = ()
    pull: bool = True
    exit_container: bool = False
    settle_seconds: float = 10.0


@frozen(repr=False)
class SandboxRef:
    """A sandbox the machine created: its IDs on both sides and its config."""

    label: str
    backend_id: str
    model_id: str
    config: PodSandboxConfig = field(eq=False)

    def __repr__(self) -> str:
        return self.label


@frozen(repr=False)
class ContainerRef:
    """A container the machine created: its IDs on both sides and its spec."""

    label: str
    backend_id: str
    model_id: str
    spec: ContainerSpec = field(eq=False)

    def __repr__(self) -> str:
        return self.label


@frozen(repr=False)
class InvalidId:
    """An ID no object ever had; the same string is sent to both sides."""

    label: str
    value: str

    def __repr__(self) -> str:
        return self.label


INVALID_IDS = (
    InvalidId("never_existed", UNKNOWN_ID),
    InvalidId("short_unknown", "feedfacecafe"),
)

_UNKNOWN_ID_CALLS = {**SANDBOX_ID_CALLS, **CONTAINER_ID_CALLS}


@frozen
class _Outcome:
    value: Any = None
    error: KubertError | None = None


def _attempt(call: Callable[[], T]) -> _Outcome:
    try:
        return _Outcome(value=call())
    except _ERROR_KINDS as exc:
        return _Outcome(error=exc)


def _kind(error: KubertError | None) -> str:
    if error is None:
        return "success"
    for kind in _ERROR_KINDS:
        if isinstance(error, kind):
            return kind.__name__
    return type(error).__name__


# Images are drawn as indexes into the backend's own lists (taken modulo their length):
# strategies that depend on the running machine (st.runner) starve rules of examples.
_POOL_INDEX = st.integers(0, 3)


class BackendStateMachine(RuleBasedStateMachine):
    """Drives one backend and the reference model through the same random steps."""

    sandboxes = Bundle("sandboxes")
    containers = Bundle("containers")

    def __init__(self, setup: MachineSetup) -> None:
        super().__init__()
        self.setup = setup
        self.backend = setup.backend
        self._tmp = tempfile.TemporaryDirectory(prefix="kubert-model-")
        infra = self.backend.context.pod_infra_container_image
        images = setup.image_backend
        self.pool: tuple[str, ...] = ()
        if setup.pull and images is not None:
            self.pool = tuple(setup.pullable_images)
            # Every run starts without the pool, so a run never depends on the one before
            # (hypothesis needs the same steps to behave the same when it replays them).
            for ref in self.pool:
                images.remove_image(ImageSpec(image=ref))
        self.configs = ConfigFactory(
            images=(*setup.container_images, *self.pool),
            run_command=setup.configs.run_command,
        )
        self.model = MemoryBackend(
            BackendContext(
                root_dir=Path(self._tmp.name),
                pod_infra_container_image=infra,
                options={
                    "images": [infra, *setup.container_images],
                    "registry": list(self.pool),
                },
            )
        )
        self.foreign_sandboxes = {s.id for s in self.backend.list_sandboxes(None)}
        self.foreign_containers = {c.id for c in self.backend.list_containers(None)}
        self.sandbox_ids: dict[str, SandboxRef] = {}
        self.container_ids: dict[str, ContainerRef] = {}
        self.counts: dict[str, int] = {}

    # ---- running one operation on both sides ---------------------------------------------

    def both(
        self, what: str, on_backend: Callable[[], T], on_model: Callable[[], Any]
    ) -> tuple[_Outcome, _Outcome]:
        """Run the operation on both sides; they must succeed or fail with the same error type."""
        got = _attempt(on_backend)
        want = _attempt(on_model)
        if _kind(got.error) != _kind(want.error):
            raise ConformanceError(
                f"{what}: the backend answered {_kind(got.error)}"
                f"{f' ({got.error})' if got.error else ''}, the reference model "
                f"{_kind(want.error)}{f' ({want.error})' if want.error else ''}"
            )
        return got, want

    def _label(self, bundle: str) -> str:
        """The name hypothesis prints for the next value of ``bundle`` (``sandboxes_0``...),
        so failure messages and the printed steps use the same names."""
        index = self.counts.get(bundle, 0)
        self.counts[bundle] = index + 1
        return f"{bundle}_{index}"

    # ---- sandboxes -----------------------------------------------------------------------

    @initialize(target=sandboxes, spec=sandbox_specs())
    def first_sandbox(self, spec: SandboxSpec) -> SandboxRef | Any:
        """Every run starts with one ready sandbox, so container rules apply from step one."""
        return self.run_sandbox(spec)

    @rule(target=sandboxes, spec=sandbox_specs())
    def run_sandbox(self, spec: SandboxSpec) -> SandboxRef | Any:
        config = self.configs.sandbox(spec)
        got, want = self.both(
            f"create_sandbox({spec!r})",
            lambda: self.backend.create_sandbox(config, ""),
            lambda: self.model.create_sandbox(config, ""),
        )
        if got.error:
            return multiple()
        ref = SandboxRef(self._label("sandboxes"), got.value.id, want.value.id, config)
        self.sandbox_ids[ref.backend_id] = ref
        self.both(
            f"start_sandbox({ref!r})",
            lambda: self.backend.start_sandbox(ref.backend_id),
            lambda: self.model.start_sandbox(ref.model_id),
        )
        return ref

    @rule(sandbox=sandboxes)
    def stop_sandbox(self, sandbox: SandboxRef) -> None:
        self.both(
            f"stop_sandbox({sandbox!r})",
            lambda: self.backend.stop_sandbox(sandbox.backend_id),
            lambda: self.model.stop_sandbox(sandbox.model_id),
        )

    @rule(sandbox=sandboxes)
    def remove_sandbox(self, sandbox: SandboxRef) -> None:
        self.both(
            f"remove_sandbox({sandbox!r})",
            lambda: self.backend.remove_sandbox(sandbox.backend_id),
            lambda: self.model.remove_sandbox(sandbox.model_id),
        )

    def check_sandbox_status(self, sandbox: SandboxRef) -> None:
        got, want = self.both(
            f"sandbox_status({sandbox!r})",
            lambda: self.backend.sandbox_status(sandbox.backend_id),
            lambda: self.model.sandbox_status(sandbox.model_id),
        )
        if got.error:
            return
        self._same_object(f"sandbox_status({sandbox!r})", got.value, want.value, PodSandboxState)

    # ---- containers ----------------------------------------------------------------------

    @rule(
        target=containers,
        sandbox=sandboxes,
        spec=container_specs(images=4),
        create_only=st.booleans(),
    )
    def create_container(
        self, sandbox: SandboxRef, spec: ContainerSpec, create_only: bool
    ) -> ContainerRef | Any:
        """Create a container and, like the kubelet, start it right away unless
        ``create_only`` (the simplest example, which shrinking aims for, starts it)."""
        config = self.configs.container(spec)
        got, want = self.both(
            f"create_container({sandbox!r}, {spec!r})",
            lambda: self.backend.create_container(sandbox.backend_id, config, sandbox.config),
            lambda: self.model.create_container(sandbox.model_id, config, sandbox.config),
        )
        if got.error:
            return multiple()
        ref = ContainerRef(self._label("containers"), got.value, want.value, spec)
        self.container_ids[ref.backend_id] = ref
        if not create_only:
            self.start_container(ref)
        return ref

    @rule(container=containers)
    def start_container(self, container: ContainerRef) -> None:
        got, _ = self.both(
            f"start_container({container!r})",
            lambda: self.backend.start_container(container.backend_id),
            lambda: self.model.start_container(container.model_id),
        )
        if got.error is None and container.spec.exit_code is not None:
            self._settle(container)

    @rule(container=containers)
    def stop_container(self, container: ContainerRef) -> None:
        self.both(
            f"stop_container({container!r})",
            lambda: self.backend.stop_container(container.backend_id, 0),
            lambda: self.model.stop_container(container.model_id, 0),
        )

    @rule(container=containers)
    def remove_container(self, container: ContainerRef) -> None:
        self.both(
            f"remove_container({container!r})",
            lambda: self.backend.remove_container(container.backend_id),
            lambda: self.model.remove_container(container.model_id),
        )

    def check_container_status(self, container: ContainerRef) -> None:
        got, want = self.both(
            f"container_status({container!r})",
            lambda: self.backend.container_status(container.backend_id),
            lambda: self.model.container_status(container.model_id),
        )
        if got.error:
            return
        what = f"container_status({container!r})"
        mine, theirs = got.value, want.value
        self._same_object(what, mine, theirs, ContainerState)
        self._same(what, "image", mine.image.image, theirs.image.image)
        if theirs.state == ContainerState.CONTAINER_EXITED:
            self._same_exit(what, mine.exit_code, theirs.exit_code)
        if mine.started_at and mine.started_at < mine.created_at:
            raise ConformanceError(f"{what}: started_at precedes created_at")
        if mine.finished_at and mine.finished_at < mine.started_at:
            raise ConformanceError(f"{what}: finished_at precedes started_at")

    # Invalid IDs are drawn directly rather than from a bundle: an initialize rule filling a
    # bundle would add a line to every counterexample.
    @rule(operation=st.sampled_from(sorted(_UNKNOWN_ID_CALLS)), ident=st.sampled_from(INVALID_IDS))
    def unknown_id(self, operation: str, ident: InvalidId) -> None:
        """Every call naming an ID that never existed is NotFound on both sides (removed
        objects stay in their bundles, so the other rules use stale IDs as well)."""
        call = _UNKNOWN_ID_CALLS[operation]
        self.both(
            f"{operation}({ident!r})",
            lambda: call(self.backend, ident.value),
            lambda: call(self.model, ident.value),
        )

    # ---- listing with filters --------------------------------------------------------------

    @rule(
        state=st.sampled_from([None, *PodSandboxState]),
        selector=st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]),
                                 max_size=2),
        by_id=st.one_of(st.none(), sandboxes),
    )
    def list_sandboxes(
        self, state: PodSandboxState | None, selector: dict[str, str], by_id: SandboxRef | None
    ) -> None:
        def on(side: str) -> list[PodSandbox]:
            ident = "" if by_id is None else getattr(by_id, f"{side}_id")
            target = self.backend if side == "backend" else self.model
            return target.list_sandboxes(
                PodSandboxFilter(id=ident, state=state, label_selector=selector)
            )

        what = f"list_sandboxes(state={state and state.name}, labels={selector}, id={by_id!r})"
        self._same_sandboxes(what, on("backend"), on("model"))

    @rule(
        state=st.sampled_from([None, *ContainerState]),
        selector=st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]),
                                 max_size=2),
        sandbox=st.one_of(st.none(), sandboxes),
        by_id=st.one_of(st.none(), containers),
    )
    def list_containers(
        self,
        state: ContainerState | None,
        selector: dict[str, str],
        sandbox: SandboxRef | None,
        by_id: ContainerRef | None,
    ) -> None:
        def on(side: str) -> list[Container]:
            target = self.backend if side == "backend" else self.model
            return target.list_containers(
                ContainerFilter(
                    id="" if by_id is None else getattr(by_id, f"{side}_id"),
                    pod_sandbox_id="" if sandbox is None else getattr(sandbox, f"{side}_id"),
                    state=state,
                    label_selector=selector,
                )
            )

        what = (f"list_containers(state={state and state.name}, labels={selector}, "
                f"sandbox={sandbox!r}, id={by_id!r})")
        self._same_containers(what, on("backend"), on("model"))

    # ---- comparison ---------------------------------------------------------------------------

    def _same(self, what: str, name: str, mine: object, theirs: object) -> None:
        if mine != theirs:
            raise ConformanceError(
                f"{what}: {name} is {mine!r} on the backend, {theirs!r} in the reference model"
            )

    def _same_object(
        self,
        what: str,
        mine: Any,
        theirs: Any,
        states: type[PodSandboxState] | type[ContainerState],
    ) -> None:
        """A sandbox's or container's state (by name), metadata, labels and annotations."""
        self._same(what, "state", states(mine.state).name, states(theirs.state).name)
        for name in ("metadata", "labels", "annotations"):
            self._same(what, name, getattr(mine, name), getattr(theirs, name))

    def _same_exit(self, what: str, mine: int, theirs: int) -> None:
        # A stopped container's code depends on how its process met the signal (137, 143...).
        if theirs == STOP_EXIT_CODE:
            if mine == 0:
                raise ConformanceError(f"{what}: a stopped container reports exit code 0")
        else:
            self._same(what, "exit_code", mine, theirs)

    def _sandbox_ref(self, what: str, backend_id: str) -> SandboxRef:
        ref = self.sandbox_ids.get(backend_id)
        if ref is None:
            raise ConformanceError(f"{what}: the backend lists a sandbox it never created: "
                                   f"{backend_id}")
        return ref

    def _container_ref(self, what: str, backend_id: str) -> ContainerRef:
        ref = self.container_ids.get(backend_id)
        if ref is None:
            raise ConformanceError(f"{what}: the backend lists a container it never created: "
                                   f"{backend_id}")
        return ref

    def _same_sandboxes(self, what: str, mine: list[PodSandbox], theirs: list[PodSandbox]) -> None:
        listed = {
            self._sandbox_ref(what, s.id).label: s
            for s in mine if s.id not in self.foreign_sandboxes
        }
        by_model = {r.model_id: r.label for r in self.sandbox_ids.values()}
        expected = {by_model[s.id]: s for s in theirs}
        self._same(what, "the sandboxes listed", sorted(listed), sorted(expected))
        for label, entry in listed.items():
            self._same_object(f"{what}[{label}]", entry, expected[label], PodSandboxState)

    def _same_containers(self, what: str, mine: list[Container], theirs: list[Container]) -> None:
        listed = {
            self._container_ref(what, c.id).label: c
            for c in mine if c.id not in self.foreign_containers
        }
        by_model = {r.model_id: r.label for r in self.container_ids.values()}
        sandbox_by_model = {r.model_id: r.label for r in self.sandbox_ids.values()}
        expected = {by_model[c.id]: c for c in theirs}
        self._same(what, "the containers listed", sorted(listed), sorted(expected))
        for label, entry in listed.items():
            other = expected[label]
            where = f"{what}[{label}]"
            self._same_object(where, entry, other, ContainerState)
            self._same(where, "sandbox", self._sandbox_ref(where, entry.pod_sandbox_id).label,
                       sandbox_by_model[other.pod_sandbox_id])

    def _settle(self, container: ContainerRef) -> None:
        """Wait (bounded) until the backend stops reporting a self-exiting container RUNNING."""
        deadline = time.monotonic() + self.setup.settle_seconds
        while time.monotonic() < deadline:
            try:
                status = self.backend.container_status(container.backend_id)
            except NotFoundError:
                return
            if status.state != ContainerState.CONTAINER_RUNNING:
                return
            time.sleep(0.02)

    @invariant()
    def backend_agrees_with_model(self) -> None:
        """Same objects listed, same states, labels, annotations; same statuses; same images."""
        model_sandboxes = self.model.list_sandboxes(None)
        model_containers = self.model.list_containers(None)
        self._same_sandboxes("list_sandboxes()", self.backend.list_sandboxes(None),
                             model_sandboxes)
        self._same_containers("list_containers()", self.backend.list_containers(None),
                              model_containers)
        sandbox_refs = {r.model_id: r for r in self.sandbox_ids.values()}
        container_refs = {r.model_id: r for r in self.container_ids.values()}
        for sandbox in model_sandboxes:
            self.check_sandbox_status(sandbox_refs[sandbox.id])
        for container in model_containers:
            self.check_container_status(container_refs[container.id])
        images = self.setup.image_backend
        if images is None:
            return
        for ref in self.pool:
            spec = ImageSpec(image=ref)
            self._same(f"image_status({ref!r})", "present",
                       images.image_status(spec) is not None,
                       self.model.image_status(spec) is not None)

    def teardown(self) -> None:
        for backend_id in self.sandbox_ids:
            with contextlib.suppress(NotFoundError):
                self.backend.remove_sandbox(backend_id)
        self.model.close()
        self._tmp.cleanup()


# Optional rules live in subclasses rather than behind preconditions: hypothesis shrinks
# counterexamples far worse when guarded rules are present (even always-true guards).


class ExitRules(BackendStateMachine):
    """Adds containers exiting by themselves through the backend's ``exit_container`` helper."""

    @rule(container=BackendStateMachine.containers, code=st.sampled_from([0, 2, 42]))
    def exit_container(self, container: ContainerRef, code: int) -> None:
        # A test helper outside the contract; MachineSetup.exit_container says it exists.
        helper = self.backend.exit_container  # type: ignore[attr-defined]
        self.both(
            f"exit_container({container!r}, {code})",
            lambda: helper(container.backend_id, code),
            lambda: self.model.exit_container(container.model_id, code),
        )


class ImageRules(BackendStateMachine):
    """Adds pulling and removing the suite's pullable images."""

    @rule(image=_POOL_INDEX)
    def pull_image(self, image: int) -> None:
        ref = self.pool[image % len(self.pool)]
        images = self.setup.image_backend
        assert images is not None
        self.both(
            f"pull_image({ref!r})",
            lambda: images.pull_image(ImageSpec(image=ref), None, None),
            lambda: self.model.pull_image(ImageSpec(image=ref), None, None),
        )

    @rule(image=_POOL_INDEX)
    def remove_image(self, image: int) -> None:
        ref = self.pool[image % len(self.pool)]
        images = self.setup.image_backend
        assert images is not None
        self.both(
            f"remove_image({ref!r})",
            lambda: images.remove_image(ImageSpec(image=ref)),
            lambda: self.model.remove_image(ImageSpec(image=ref)),
        )


def machine_class(setup: MachineSetup) -> type[BackendStateMachine]:
    """The state machine with exactly the rules ``setup``'s capabilities allow."""
    bases: list[type[BackendStateMachine]] = []
    if setup.exit_container:
        bases.append(ExitRules)
    if setup.pull and setup.image_backend is not None and setup.pullable_images:
        # The pool's images are what these rules pull and remove.
        bases.append(ImageRules)
    if not bases:
        return BackendStateMachine
    return type("BackendStateMachine", tuple(bases), {})


def run_machine(setup: MachineSetup, **overrides: Any) -> None:
    """Run the state machine against ``setup`` with the suite's hypothesis settings.

    :param overrides: hypothesis settings to change (``max_examples``,
        ``stateful_step_count``, ...) on top of the active profile.
    """
    base = profiles.suite_settings()
    chosen: dict[str, Any] = {
        "deadline": None,
        # One shrunk counterexample reads better than a group of them.
        "report_multiple_bugs": False,
        "suppress_health_check": [
            *base.suppress_health_check,
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
        **overrides,
    }
    machine = machine_class(setup)
    # hypothesis leaves run_state_machine_as_test untyped.
    run_state_machine_as_test(  # type: ignore[no-untyped-call]
        lambda: machine(setup), settings=settings(base, **chosen)
    )
