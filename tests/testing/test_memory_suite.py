"""The whole conformance suite against the in-memory reference backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from kubert import BackendContext
from kubert.testing.memory import MemoryBackend
from kubert.testing.suite import BackendSuite


class TestMemoryBackend(BackendSuite):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[MemoryBackend]:
        backend = MemoryBackend(BackendContext(root_dir=tmp_path))
        yield backend
        backend.close()

    @pytest.fixture
    def settle_seconds(self) -> float:
        return 0.0  # exits happen inside start_container

    @pytest.fixture
    def hypothesis_settings(self) -> dict[str, int]:
        # The reference backend is fast: more runs than the ci profile's default, unless the
        # thorough profile asks for more still.
        return {} if settings.get_current_profile_name() == "thorough" else {"max_examples": 200}
