"""docs/plugins.md documents every hook (headed by its exact signature) — the core's and the
kubelet layer's — and every backend contract method; a hook or method added without its section
fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import kubert.backends
import kubert.hookspecs
import kubert.kubelet.hookspecs

ROOT = Path(__file__).resolve().parents[2]
PLUGINS_MD = ROOT / "docs" / "plugins.md"
HOOKSPEC_MODULES = (kubert.hookspecs, kubert.kubelet.hookspecs)
CONTRACTS = ("Backend", "RuntimeBackend", "ImageBackend", "NetworkBackend", "CheckpointStore")


def _source_tree(module: object) -> ast.Module:
    return ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]


def _hook_signatures(module: object) -> dict[str, str]:
    """name -> ``name(args) -> return`` as written in the hookspec module ``module``."""
    signatures = {}
    for node in _source_tree(module).body:
        if isinstance(node, ast.FunctionDef) and any(
            "hookspec" in ast.unparse(d) for d in node.decorator_list
        ):
            returns = ast.unparse(node.returns) if node.returns else "None"
            signatures[node.name] = f"{node.name}({ast.unparse(node.args)}) -> {returns}"
    return signatures


def _all_hook_signatures() -> dict[str, str]:
    signatures: dict[str, str] = {}
    for module in HOOKSPEC_MODULES:
        found = _hook_signatures(module)
        assert not set(found) & set(signatures), f"a hook is declared twice: {found}"
        signatures.update(found)
    return signatures


def _headings() -> list[str]:
    return re.findall(r"^#{2,4} `(.+)`$", PLUGINS_MD.read_text(), flags=re.MULTILINE)


def test_hookspecs_are_found() -> None:
    core = _hook_signatures(kubert.hookspecs)
    assert "kubert_register_backends" in core and "kubert_cri_call" in core
    kubelet = _hook_signatures(kubert.kubelet.hookspecs)
    assert "kubert_sync_pod" in kubelet and "kubert_pod_status_extra" in kubelet
    for module, hooks in ((kubert.hookspecs, core), (kubert.kubelet.hookspecs, kubelet)):
        declared = {name for name in dir(module) if name.startswith("kubert_")}
        assert declared == set(hooks)


@pytest.mark.parametrize("hook", sorted(_all_hook_signatures()))
def test_every_hook_has_a_section_with_its_exact_signature(hook: str) -> None:
    signature = _all_hook_signatures()[hook]
    assert signature in _headings(), f"docs/plugins.md needs a section '### `{signature}`'"


def _contract_methods() -> list[str]:
    methods = []
    for node in _source_tree(kubert.backends).body:
        if isinstance(node, ast.ClassDef) and node.name in CONTRACTS:
            methods.extend(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
            )
    return methods


@pytest.mark.parametrize("method", _contract_methods())
def test_every_contract_method_has_a_section(method: str) -> None:
    assert any(h.startswith(f"{method}(") for h in _headings()), (
        f"docs/plugins.md needs a section '#### `{method}(...)`'"
    )
