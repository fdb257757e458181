"""The conformance suite: test classes a backend's own test module mixes in.

::

    from kubert.testing.suite import BackendSuite

    class TestMyBackend(BackendSuite):
        @pytest.fixture
        def backend(self, tmp_path):
            backend = MyBackend(BackendContext(root_dir=tmp_path))
            yield backend
            backend.close()

Each area is also a class of its own (mix in only some), and every fixture of
:class:`~kubert.testing.suite.base.BackendFixtures` can be overridden: images, the running
command, ``hypothesis_settings`` and the ``supports_…`` capabilities. See docs/conformance.md.
"""

from kubert.testing.suite.base import BackendFixtures, Pods, wait_for_container
from kubert.testing.suite.containers import ContainerLifecycleTests
from kubert.testing.suite.cri_rules import CriRuleTests
from kubert.testing.suite.errors import ErrorTests
from kubert.testing.suite.idempotence import IdempotenceTests
from kubert.testing.suite.images import ImageTests
from kubert.testing.suite.listing import ListingTests
from kubert.testing.suite.machine import StateMachineTests
from kubert.testing.suite.optional import (
    EventTests,
    ExecSyncTests,
    ReopenLogTests,
    StatsTests,
    UpdateResourcesTests,
)
from kubert.testing.suite.sandboxes import SandboxLifecycleTests
from kubert.testing.suite.stateful import BackendStateMachine, MachineSetup, run_machine
from kubert.testing.suite.status import StatusFieldTests

__all__ = [
    "BackendFixtures",
    "BackendStateMachine",
    "BackendSuite",
    "ContainerLifecycleTests",
    "CriRuleTests",
    "ErrorTests",
    "EventTests",
    "ExecSyncTests",
    "IdempotenceTests",
    "ImageTests",
    "ListingTests",
    "MachineSetup",
    "Pods",
    "ReopenLogTests",
    "SandboxLifecycleTests",
    "StateMachineTests",
    "StatsTests",
    "StatusFieldTests",
    "UpdateResourcesTests",
    "run_machine",
    "wait_for_container",
]


class BackendSuite(
    SandboxLifecycleTests,
    ContainerLifecycleTests,
    ImageTests,
    ListingTests,
    StatusFieldTests,
    IdempotenceTests,
    ErrorTests,
    CriRuleTests,
    ExecSyncTests,
    StatsTests,
    EventTests,
    UpdateResourcesTests,
    ReopenLogTests,
    StateMachineTests,
):
    """Every area of the suite; the one class most backends mix in."""
