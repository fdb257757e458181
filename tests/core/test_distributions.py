"""The four distributions as a user gets them: each built into a wheel from this checkout with
``pip wheel``, installed into a fresh venv (``kubert[docker]`` first, the others after), seen by
``kubert plugins`` through their entry points, and ``kubert serve --runtime docker`` answering
CRI on the session's private engine. Third-party dependencies (grpcio, the docker SDK …) come
from the package registry; kubert's own never do (``--no-index`` for them would hide a bad
name, so the check is that pip reports installing each from the built wheel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert.cri.client import CriClient
from tests.fixtures.polling import eventually

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "kubert": ROOT,
    "kubert-docker": ROOT / "plugins" / "kubert-docker",
    "kubert-cni": ROOT / "plugins" / "kubert-cni",
    "kubert-inplace": ROOT / "plugins" / "kubert-inplace",
}


def _run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheels() -> Iterator[Path]:
    out = Path(tempfile.mkdtemp(prefix="kubert-wheels-"))
    for path in DISTRIBUTIONS.values():
        _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, path)
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def venv() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="kubert-venv-"))
    _run(sys.executable, "-m", "venv", root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: entry points on, nothing of this checkout on the path."""
    return {k: v for k, v in os.environ.items()
            if k not in ("KUBERT_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH")}


def _plugins(venv: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(_run(venv / "bin" / "kubert", "plugins", "--json", env=_user_env()))
    return {row["name"]: row for row in rows}


def test_each_distribution_builds_a_wheel_of_its_own(wheels: Path) -> None:
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert [name.split("-")[0] for name in built] == [
        "kubert", "kubert_cni", "kubert_docker", "kubert_inplace"
    ]
    assert all("-0.2.0-" in name for name in built), built


@pytest.mark.docker
def test_a_fresh_venv_serves_docker_from_the_wheels(
    wheels: Path, venv: Path, docker_engine: Any
) -> None:
    pip = (venv / "bin" / "python", "-m", "pip", "install", "-q", "--find-links", wheels)
    _run(*pip, "kubert[docker]")
    installed = {
        d["name"]: d for d in json.loads(_run(venv / "bin" / "python", "-m", "pip", "list",
                                              "--format", "json"))
    }
    assert installed["kubert"]["version"] == installed["kubert-docker"]["version"] == "0.2.0"
    assert "docker" in installed  # the SDK is kubert-docker's own dependency now
    assert "kubert-cni" not in installed

    rows = _plugins(venv)
    assert rows["docker"]["distribution"] == "kubert-docker 0.2.0"
    assert "runtime:docker" in rows["docker"]["provides"]
    assert rows["cni"]["reason"] == "not installed; fix: pip install 'kubert[cni]'"
    assert rows["inplace"]["reason"] == "not installed; fix: pip install 'kubert[inplace]'"
    # The kubelet layer comes from the core wheel's own entry point, also with autoload off.
    assert rows["kubelet"]["distribution"] == "kubert 0.2.0" and rows["kubelet"]["active"]
    for env in (_user_env(), {**_user_env(), "KUBERT_DISABLE_PLUGIN_AUTOLOAD": "1"}):
        helped = _run(venv / "bin" / "kubert", "--help", env=env)
        assert all(f"  {name} " in helped for name in ("apply", "get", "kubelet", "serve"))

    workdir = Path(tempfile.mkdtemp(prefix="kubert-", dir="/tmp"))
    endpoint = f"unix://{workdir / 'kubert.sock'}"
    serve = subprocess.Popen(
        [str(venv / "bin" / "kubert"), "serve", "--runtime", "docker",
         "--docker-endpoint", docker_engine.host, "--network-plugin", "noop",
         "--container-runtime-endpoint", endpoint, "--root-directory", str(workdir / "root"),
         "--pod-infra-container-image", docker_engine.pause],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_user_env(),
    )
    try:
        def created() -> bool:
            if (workdir / "kubert.sock").exists():
                return True
            assert serve.poll() is None, serve.communicate()[0].decode(errors="replace")
            return False

        assert eventually(created, timeout=60, interval=0.1), (
            "kubert serve did not create its socket")
        with CriClient.connect(endpoint, timeout=10) as client:
            version = client.version()
        assert version.runtime_name == "kubert" and "docker" in version.runtime_version
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    _run(*pip, "kubert[all]")
    rows = _plugins(venv)
    assert rows["cni"]["distribution"] == "kubert-cni 0.2.0"
    assert rows["inplace"]["distribution"] == "kubert-inplace 0.2.0"
    assert "network:kubenet" in rows["cni"]["provides"]
