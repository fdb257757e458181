"""The core's built-in backends come from the one ``BUILTINS`` tuple, through ``pm.register``."""

from __future__ import annotations

from pathlib import Path

import kubert
from kubert.plugins import BUILTINS, PluginHost

#: (kind, name) of every built-in backend -> the built-in module that registers it.
EXPECTED = {
    ("checkpoint", "file"): "kubert.checkpoint",
    ("network", "noop"): "kubert.network_noop",
    ("runtime", "memory"): "kubert.testing.memory",
    ("image", "memory"): "kubert.testing.memory",
}


def test_builtin_backends_are_registered_by_modules_of_the_tuple() -> None:
    host = PluginHost(autoload=False).load()
    assert host.backend_owner == EXPECTED
    assert set(EXPECTED.values()) <= set(BUILTINS)
    for module_name in BUILTINS:  # each one is a plugin of its own name, like any other
        assert host.pm.get_plugin(module_name) is not None, module_name


def test_no_other_core_module_registers_backends() -> None:
    """A backend registered from a module outside the tuple would bypass it (and the block
    list's names): only the built-in modules implement ``kubert_register_backends``."""
    root = Path(kubert.__file__).parent
    registering = {
        "kubert." + ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
        if "def kubert_register_backends" in path.read_text()
    }
    assert registering - {"kubert.hookspecs"} == set(EXPECTED.values())


def test_a_builtin_is_blocked_by_name_like_any_plugin() -> None:
    host = PluginHost(autoload=False, blocked={"kubert.network_noop"}).load()
    assert ("network", "noop") not in host.backend_owner
    assert host.blocked_found == {"kubert.network_noop": "blocked by configuration"}
    assert host.backend_owner[("checkpoint", "file")] == "kubert.checkpoint"
