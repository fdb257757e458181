"""Image references: normalising names the way the engine does, and registry mirrors."""

from __future__ import annotations

DEFAULT_REGISTRY = "docker.io"


def split(ref: str) -> tuple[str, str, str]:
    """(registry, path, tag-or-digest suffix with its ':' or '@') of a reference."""
    name, at, digest = ref.partition("@")
    suffix = ""
    if at:
        suffix = "@" + digest
    else:
        last_slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > last_slash:
            name, suffix = name[:colon], name[colon:]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest, suffix
    return DEFAULT_REGISTRY, name, suffix


def is_image_id(ref: str) -> bool:
    text = ref.removeprefix("sha256:")
    return len(text) >= 12 and all(c in "0123456789abcdef" for c in text) and (
        ref.startswith("sha256:") or len(text) == 64
    )


def through_mirror(ref: str, mirrors: dict[str, str]) -> str | None:
    """``ref`` rewritten to its registry's mirror, None when none is configured for it."""
    if is_image_id(ref):
        return None
    registry, path, suffix = split(ref)
    mirror = mirrors.get(registry)
    if not mirror:
        return None
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    return f"{mirror}/{path}{suffix or ':latest'}"
