"""The shipped ``kubert.service`` and ``kubert.socket``, written where systemd reads them.

The unit files sit beside this module (inside the installed package); ``ExecStart`` names the
``kubert`` executable through ``@KUBERT@``, filled in at install time with the one that runs
the installer, so that the service starts the same installation (a venv, /usr/local, …).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["UNIT_NAMES", "install_units", "kubert_executable", "render_unit"]

UNIT_NAMES = ("kubert.socket", "kubert.service")
PLACEHOLDER = "@KUBERT@"
_HERE = Path(__file__).resolve().parent


def kubert_executable() -> str:
    """The absolute path of the ``kubert`` command beside this interpreter, else on PATH.

    :raises FileNotFoundError: neither exists (kubert is imported but not installed).
    """
    beside = Path(sys.executable).parent / "kubert"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("kubert")
    if found is None:
        raise FileNotFoundError("no 'kubert' executable beside the interpreter or on PATH")
    return str(Path(found).resolve()) if "/shims/" not in found else found


def render_unit(name: str, kubert: str) -> str:
    """The text of unit ``name`` with ``ExecStart`` starting ``kubert``."""
    if name not in UNIT_NAMES:
        raise ValueError(f"unit {name!r}: kubert ships {', '.join(UNIT_NAMES)}")
    if not kubert.startswith("/") or any(c.isspace() for c in kubert):
        raise ValueError(f"kubert executable {kubert!r}: must be an absolute path without spaces")
    return (_HERE / name).read_text().replace(PLACEHOLDER, kubert)


def install_units(directory: Path, kubert: str) -> list[Path]:
    """Write both units into ``directory`` (made if missing); returns the written paths.

    Each file is written to a temporary name and renamed, so systemd never reads half a unit.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in UNIT_NAMES:
        target = directory / name
        partial = directory / f".{name}.tmp"
        partial.write_text(render_unit(name, kubert))
        partial.chmod(0o644)
        partial.replace(target)
        written.append(target)
    return written
