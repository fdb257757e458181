"""``kubert serve``'s plugin host leaves the kubelet side unimported, unless a plugin needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: this test process may have imported the kubelet layer already.
PROBE = textwrap.dedent("""
    import json, sys
    from kubert.plugins import PluginHost

    class NeedsLayer:
        '''A plugin implementing one of the kubelet layer's hooks.'''
        from kubert import hookimpl

        @hookimpl
        def kubert_sync_pod(self, context, actions):
            return None

    extra = (NeedsLayer(),) if sys.argv[1] == "needs-layer" else ()
    host = PluginHost(serving=sys.argv[2] == "serving").load(extra=extra)
    print(json.dumps({
        "kubelet imported": "kubert.kubelet" in sys.modules,
        "inplace imported": "kubert_inplace" in sys.modules,
        "packaging imported": "packaging" in sys.modules,
        "loaded": sorted(name for name, _ in host.pm.list_name_plugin()),
        "failures": sorted(host.failures),
        "rows": {row.name: row.reason for row in host.report() if not row.active},
    }))
""")


def _probe(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items()
             if k not in ("KUBERT_DISABLE_PLUGIN_AUTOLOAD", "KUBERT_BLOCK_PLUGINS")},
        cwd=ROOT, timeout=120,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_serving_host_imports_no_kubelet_side_plugin() -> None:
    got = _probe("alone", "serving")
    assert got["kubelet imported"] is False and got["inplace imported"] is False
    # The plugins' plain requirements are checked without packaging (kubert.requirements).
    assert got["packaging imported"] is False
    assert "kubelet" not in got["loaded"] and "inplace" not in got["loaded"]  # type: ignore[operator]
    rows = got["rows"]
    assert isinstance(rows, dict)
    assert rows["kubelet"] == rows["inplace"] == (
        "kubelet side: loaded by the kubelet commands, not by kubert serve")
    # Any other command's host loads them, as before.
    other = _probe("alone", "other")
    assert other["kubelet imported"] is True and other["inplace imported"] is True


def test_a_plugin_implementing_a_layer_hook_brings_the_layer_back() -> None:
    got = _probe("needs-layer", "serving")
    assert got["kubelet imported"] is True
    assert "kubelet" in got["loaded"] and "inplace" in got["loaded"]  # type: ignore[operator]
    assert got["failures"] == []  # the plugin is kept, not unloaded for an undeclared hook
