"""kubert.testing: the in-memory reference backend and the conformance suite for backend authors."""
