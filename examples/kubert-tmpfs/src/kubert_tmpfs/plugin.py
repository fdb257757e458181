"""The entry point kubert loads (group ``kubert``, name ``tmpfs``)."""

from __future__ import annotations

from kubert import RegisterBackend, hookimpl

from kubert_tmpfs.backend import TmpfsBackend


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register("tmpfs", TmpfsBackend)
