"""kubert's conformance suite against the tmpfs backend, with its capabilities declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubert import BackendContext
from kubert.testing.suite import BackendSuite

from kubert_tmpfs import TmpfsBackend
from kubert_tmpfs.capabilities import TmpfsCapabilities


class TestTmpfsBackend(TmpfsCapabilities, BackendSuite):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[TmpfsBackend]:
        backend = TmpfsBackend(BackendContext(root_dir=tmp_path))
        yield backend
        backend.close()

    # Real processes: fewer state-machine runs keep the suite quick.
    @pytest.fixture
    def hypothesis_settings(self) -> dict[str, int]:
        return {"max_examples": 40, "stateful_step_count": 20}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Records are files: a new backend on the same root sees the same sandboxes."""
    from kubert.testing.configs import ConfigFactory

    configs = ConfigFactory()
    first = TmpfsBackend(BackendContext(root_dir=tmp_path))
    sandbox = first.create_sandbox(configs.sandbox(), "")
    first.start_sandbox(sandbox.id)
    first.close()
    second = TmpfsBackend(BackendContext(root_dir=tmp_path))
    assert [s.id for s in second.list_sandboxes(None)] == [sandbox.id]
