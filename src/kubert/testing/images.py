"""The in-memory backend's image store: a fake registry to pull from and the images present.

Image references follow Docker's rules where they matter here: a name without tag or digest
means ``:latest``; ``name@sha256:<hex>`` names an image by repo digest; an image ID is
``sha256:<64 hex>`` (the bare hex works too). IDs, digests and sizes are derived from the
image's first tag by hashing, so they are the same in every run.

A *registry entry* is one image: a string of one or more comma-separated tags, e.g.
``"busybox:1.36,busybox:latest"`` (two tags of the same image).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from attrs import define, field, frozen

from kubert.errors import InvalidArgumentError, NotFoundError


def normalize(ref: str) -> str:
    """``ref`` with ``:latest`` added when it names neither a tag nor a digest."""
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def repository(ref: str) -> str:
    """The repository part of a normalized tag or digest reference."""
    if "@" in ref:
        return ref.split("@", 1)[0]
    head, _, last = ref.rpartition("/")
    name = last.split(":", 1)[0]
    return f"{head}/{name}" if head else name


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@frozen
class RegistryImage:
    """An image the fake registry can serve: its tags, ID, manifest digest and size."""

    tags: tuple[str, ...]
    id: str
    digest: str
    size: int

    @classmethod
    def from_entry(cls, entry: str) -> RegistryImage:
        tags = tuple(normalize(t.strip()) for t in entry.split(",") if t.strip())
        if not tags or any("@" in t for t in tags):
            raise InvalidArgumentError(
                "options.registry", entry, "each entry is one or more comma-separated tags"
            )
        return cls(
            tags=tags,
            id="sha256:" + _hash("image", tags[0]),
            digest="sha256:" + _hash("manifest", tags[0]),
            size=1_000_000 + int(_hash("size", tags[0])[:5], 16),
        )

    def repo_digests(self) -> tuple[str, ...]:
        repos = dict.fromkeys(repository(t) for t in self.tags)
        return tuple(f"{repo}@{self.digest}" for repo in repos)


@define
class StoredImage:
    """An image present locally; ``tags`` shrink when another image takes one of them."""

    source: RegistryImage
    tags: list[str] = field(factory=list)
    digests: list[str] = field(factory=list)


@define
class ImageStore:
    """Registry plus local images. Not thread-safe: the backend holds its lock around calls."""

    registry: list[RegistryImage] = field(factory=list)
    pull_any: bool = False
    present: dict[str, StoredImage] = field(factory=dict)

    def seed(self, entries: Iterable[str]) -> None:
        """Make each entry present locally (and pullable)."""
        for entry in entries:
            image = RegistryImage.from_entry(entry)
            if image not in self.registry:
                self.registry.append(image)
            self._store(image, list(image.tags), list(image.repo_digests()))

    def resolve(self, ref: str) -> StoredImage | None:
        """The local image named by ID, tag or repo digest, or None."""
        if not ref:
            return None
        ident = ref if ref.startswith("sha256:") else f"sha256:{ref}"
        if ident in self.present:
            return self.present[ident]
        wanted = normalize(ref)
        for image in self.present.values():
            if wanted in image.tags or wanted in image.digests:
                return image
        return None

    def matching(self, ref: str) -> list[StoredImage]:
        """ListImages filter: the image ``ref`` resolves to, or every tag of a bare repo name."""
        found = self.resolve(ref)
        if found is not None:
            return [found]
        if "@" in ref or ":" in ref.rsplit("/", 1)[-1]:
            return []
        return [i for i in self.present.values() if any(repository(t) == ref for t in i.tags)]

    def pull(self, ref: str) -> StoredImage:
        """Fetch ``ref`` from the fake registry. :raises NotFoundError: the registry lacks it."""
        wanted = normalize(ref)
        for candidate in self.registry:
            if wanted in candidate.tags:
                digest = f"{repository(wanted)}@{candidate.digest}"
                return self._store(candidate, [wanted], [digest])
            if wanted in candidate.repo_digests():
                return self._store(candidate, [], [wanted])
        if self.pull_any and "@" not in wanted:
            image = RegistryImage.from_entry(wanted)
            self.registry.append(image)
            return self._store(image, [wanted], list(image.repo_digests()))
        raise NotFoundError("image", ref, "the registry has no such repository or tag")

    def remove(self, image: StoredImage) -> None:
        self.present.pop(image.source.id, None)

    def _store(self, image: RegistryImage, tags: list[str], digests: list[str]) -> StoredImage:
        for tag in tags:
            # A tag names one image: pulling it for a new image moves it (Docker's rule).
            for other in self.present.values():
                if other.source.id != image.id and tag in other.tags:
                    other.tags.remove(tag)
        stored = self.present.get(image.id)
        if stored is None:
            stored = self.present[image.id] = StoredImage(source=image)
        stored.tags.extend(t for t in tags if t not in stored.tags)
        stored.digests.extend(d for d in digests if d not in stored.digests)
        return stored
