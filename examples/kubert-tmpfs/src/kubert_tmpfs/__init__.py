"""kubert-tmpfs: an example kubert backend distributed on its own.

Sandboxes, containers and images are JSON files under ``<root>/tmpfs``; a container's command
runs as a real process on the host (no isolation at all: this is a teaching example, not a
runtime). It imports only ``kubert``'s public API, as every third-party plugin should.
"""

from kubert_tmpfs.backend import TmpfsBackend

__all__ = ["TmpfsBackend"]
