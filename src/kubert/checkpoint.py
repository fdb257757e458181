"""Placeholder; filled in by the core-server work."""
