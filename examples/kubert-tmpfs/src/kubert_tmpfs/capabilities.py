"""What the tmpfs backend does not do, declared once for kubert's conformance suite.

Mix :class:`TmpfsCapabilities` into a ``kubert.testing.suite.BackendSuite`` test class; the
suite then checks that each missing operation raises ``UnimplementedError``. Imports pytest:
load it from tests only.
"""

from __future__ import annotations

import pytest


class TmpfsCapabilities:
    """The ``supports_…`` fixtures the tmpfs backend declares False."""

    @pytest.fixture
    def supports_stats(self) -> bool:
        return False

    @pytest.fixture
    def supports_events(self) -> bool:
        return False

    @pytest.fixture
    def supports_update_resources(self) -> bool:
        return False

    @pytest.fixture
    def supports_reopen_log(self) -> bool:
        return False
