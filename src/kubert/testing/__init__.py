"""kubert.testing: the in-memory reference backend and the conformance suite for backend authors.

``MemoryBackend`` is importable from here; the suite lives in :mod:`kubert.testing.suite` and the
strategies in :mod:`kubert.testing.strategies` (both import hypothesis and pytest, so they are
not imported here: the in-memory backend serves ``kubert serve`` too). See docs/conformance.md.
"""

from kubert.testing.memory import MemoryBackend

__all__ = ["MemoryBackend"]
