"""The shipped kubert.service and kubert.socket: installed by ``kubert install-units`` and
verified by the real ``systemd-analyze verify`` (Debian's systemd package)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from kubert.systemd.units import UNIT_NAMES, install_units, render_unit

from .systemd_helpers import kubert


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is missing (scripts/setup-host installs systemd)")
    return found


def _verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_analyze(), "verify", *(str(directory / name) for name in UNIT_NAMES)],
        capture_output=True, text=True, timeout=60, cwd=directory,
    )


def _sections(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_install_units_writes_units_that_systemd_accepts(tmp_path: Path) -> None:
    target = tmp_path / "system"
    result = subprocess.run(kubert("install-units", "--dir", str(target)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == sorted(UNIT_NAMES)
    service = (target / "kubert.service").read_text()
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    executable = exec_start.removeprefix("ExecStart=").split()[0]
    assert Path(executable).is_file(), exec_start  # the kubert that ran the installer
    verified = _verify(target)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stderr.strip() == "", verified.stderr  # no warnings either


def test_verify_catches_broken_units(tmp_path: Path) -> None:
    """The check above can fail: a bad setting is reported, a missing executable refused."""
    install_units(tmp_path, "/bin/true")
    path = tmp_path / "kubert.service"
    path.write_text(path.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    assert "restart specifier" in _verify(tmp_path).stderr
    install_units(tmp_path, "/nonexistent/kubert")
    verified = _verify(tmp_path)
    assert verified.returncode != 0 and "/nonexistent/kubert" in verified.stderr


def test_units_order_after_docker_restart_on_failure_and_keep_the_socket() -> None:
    service = _sections(render_unit("kubert.service", "/usr/bin/kubert"))
    socket_unit = _sections(render_unit("kubert.socket", "/usr/bin/kubert"))
    assert "docker.service" in service["Unit"]["After"].split()
    assert "kubert.socket" in service["Unit"]["Requires"].split()
    assert service["Service"]["Type"] == "notify"
    assert service["Service"]["Restart"] == "on-failure"
    assert "fd://kubert" in service["Service"]["ExecStart"]
    # Not PartOf the service: restarting kubert.service (by hand or by Restart=) would then
    # restart the socket too, and drop the connections waiting in its backlog.
    assert "PartOf" not in socket_unit["Unit"] and "BindsTo" not in socket_unit["Unit"]
    # Its name is what fd://kubert picks.
    assert socket_unit["Socket"]["FileDescriptorName"] == "kubert"
    assert socket_unit["Socket"]["ListenStream"] == "/run/kubert/kubert.sock"
    assert socket_unit["Socket"]["Accept"] == "no"


def test_render_refuses_a_relative_executable() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        render_unit("kubert.service", "kubert")
