"""The fix `kubert plugins` prints for a plugin whose import failed names the right remedy."""

from __future__ import annotations

import pytest

from kubert.plugins import _import_fix


@pytest.mark.parametrize(
    ("missing", "module", "dist", "fix"),
    [
        ("docker", "kubert_docker.plugin", "kubert", "pip install 'kubert[docker]'"),
        (
            "kubert_inplace.plugin", "kubert_inplace.plugin", "kubert",
            "reinstall kubert: pip install --force-reinstall 'kubert==0.1.0'",
        ),
        (
            "requests", "kubert_tmpfs.plugin", "kubert-tmpfs",
            "pip install the package that provides 'requests' (needed by kubert-tmpfs)",
        ),
    ],
)
def test_import_fix(missing: str, module: str, dist: str, fix: str) -> None:
    assert _import_fix(missing, module, dist, "0.1.0") == fix
