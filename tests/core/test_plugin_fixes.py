"""The fix `kubert plugins` prints for a plugin whose import failed names the right remedy."""

from __future__ import annotations

import pytest

from kubert.plugins import _import_fix


@pytest.mark.parametrize(
    ("missing", "module", "dist", "fix"),
    [
        (
            "docker", "kubert_docker.plugin", "kubert-docker",
            "kubert-docker needs 'docker', which is not importable; reinstall it with its "
            "dependencies: pip install --force-reinstall 'kubert-docker==0.2.0'",
        ),
        (
            "kubert_inplace.plugin", "kubert_inplace.plugin", "kubert-inplace",
            "reinstall kubert-inplace: pip install --force-reinstall 'kubert-inplace==0.2.0'",
        ),
    ],
)
def test_import_fix(missing: str, module: str, dist: str, fix: str) -> None:
    assert _import_fix(missing, module, dist, "0.2.0") == fix
