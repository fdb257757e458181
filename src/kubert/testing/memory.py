"""Placeholder; the in-memory backend lands here."""
