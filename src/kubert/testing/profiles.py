"""The suite's hypothesis settings profiles: ``ci`` (fast, the default) and ``thorough``.

Select one with pytest's ``--hypothesis-profile=ci|thorough``. The suite uses ``ci`` whenever
neither of its own profiles is loaded, so a plain ``pytest`` run stays fast without changing
the user's own default profile.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["CI", "THOROUGH", "register", "suite_settings"]

CI = "ci"
THOROUGH = "thorough"


def register() -> None:
    """Register both profiles with hypothesis (idempotent)."""
    # Engines are slow and tests use function-scoped fixtures across examples on purpose.
    relaxed = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile(
        CI, max_examples=50, stateful_step_count=25, deadline=None,
        suppress_health_check=relaxed, print_blob=True,
    )
    settings.register_profile(
        THOROUGH, max_examples=400, stateful_step_count=60, deadline=None,
        suppress_health_check=relaxed, print_blob=True,
    )


def suite_settings() -> settings:
    """The settings the suite's hypothesis tests run with: the loaded profile when it is
    ``ci`` or ``thorough``, else ``ci``."""
    register()
    name = settings.get_current_profile_name()
    return settings.get_profile(name if name in (CI, THOROUGH) else CI)


register()
