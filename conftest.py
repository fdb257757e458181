"""pytest configuration of the whole repository (tests/ and each distribution's tests/): the
private-engine fixtures of kubert-docker's public helper and the CRI server fixtures of
tests/fixtures are enabled here, at the top, so that every test folder shares one engine."""

import os

import pytest

# kubert's own tests register the plugins they need; entry points stay off unless a test says so.
os.environ.setdefault("KUBERT_DISABLE_PLUGIN_AUTOLOAD", "1")

pytest_plugins = [
    "kubert_docker.testing.fixtures",
    "tests.fixtures.server",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow; run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
