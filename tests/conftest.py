"""Shared pytest configuration: fixture modules from tests/fixtures are enabled here."""

pytest_plugins = ["fixtures.engine"]
