"""The example third-party distribution (examples/kubert-tmpfs), found the way users find it:
through the ``kubert`` entry-point group, then run through the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert import BackendContext, RuntimeBackend
from kubert.plugins import PluginHost
from kubert.testing.suite import BackendSuite

pytest.importorskip("kubert_tmpfs", reason="pip install -e examples/kubert-tmpfs")


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    monkeypatch.delenv("KUBERT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return PluginHost(autoload=True).load()


def test_entry_point_registers_runtime_and_image_backend(host: PluginHost) -> None:
    assert host.backend_class("runtime", "tmpfs").__module__ == "kubert_tmpfs.backend"
    assert host.backend_class("image", "tmpfs") is host.backend_class("runtime", "tmpfs")
    [row] = [r for r in host.report() if r.name == "tmpfs"]
    assert row.distribution == "kubert-tmpfs"
    assert "runtime:tmpfs" in row.provides


class TestTmpfsThroughTheHost(BackendSuite):
    @pytest.fixture
    def backend(self, host: PluginHost, tmp_path: Path) -> Iterator[RuntimeBackend]:
        backend = host.create_backend("runtime", "tmpfs", BackendContext(root_dir=tmp_path))
        assert isinstance(backend, RuntimeBackend)
        yield backend
        backend.close()

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
