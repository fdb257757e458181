"""Images: status by tag and by ID, pull, remove, in-use protection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kubert.backends import ImageBackend
from kubert.errors import FailedPreconditionError, NotFoundError, UnimplementedError
from kubert.model import ImageFilter, ImageSpec
from kubert.testing.suite.base import BackendFixtures, Pods, forbid, require

__all__ = ["ImageTests"]


def _images(image_backend: ImageBackend | None) -> ImageBackend:
    if image_backend is None:
        pytest.skip("the backend has no image backend")
    return image_backend


class ImageTests(BackendFixtures):
    def test_present_image_by_tag_and_by_id(
        self, image_backend: ImageBackend | None, pods: Pods, container_images: Sequence[str]
    ) -> None:
        images = _images(image_backend)
        image = images.image_status(ImageSpec(image=container_images[0]))
        assert image is not None and image.id
        assert images.image_status(ImageSpec(image=image.id)) == image
        assert image.id in {i.id for i in images.list_images(None)}
        filtered = images.list_images(ImageFilter(image=ImageSpec(image=container_images[0])))
        assert [i.id for i in filtered] == [image.id]

    def test_pull_then_remove(
        self,
        image_backend: ImageBackend | None,
        supports_image_pull: bool,
        pullable_images: Sequence[str],
    ) -> None:
        require(supports_image_pull, "supports_image_pull")
        images = _images(image_backend)
        spec = ImageSpec(image=pullable_images[0])
        images.remove_image(spec)
        assert images.image_status(spec) is None
        ref = images.pull_image(spec, None, None)
        assert ref
        image = images.image_status(spec)
        assert image is not None
        assert images.image_status(ImageSpec(image=image.id)) == image
        assert images.pull_image(spec, None, None) == ref, "pulling again changes nothing"
        images.remove_image(spec)
        assert images.image_status(spec) is None
        assert image.id not in {i.id for i in images.list_images(None)}
        images.remove_image(spec)  # absent is fine

    def test_pull_unknown_image_is_not_found(
        self,
        image_backend: ImageBackend | None,
        supports_image_pull: bool,
        missing_image: str | None,
    ) -> None:
        require(supports_image_pull, "supports_image_pull")
        if missing_image is None:
            pytest.skip("no missing_image configured")
        with pytest.raises(NotFoundError):
            _images(image_backend).pull_image(ImageSpec(image=missing_image), None, None)

    def test_remove_image_in_use_fails_precondition(
        self,
        image_backend: ImageBackend | None,
        supports_image_pull: bool,
        pods: Pods,
        container_images: Sequence[str],
    ) -> None:
        require(supports_image_pull, "supports_image_pull")
        images = _images(image_backend)
        pods.container(pods.sandbox())
        with pytest.raises(FailedPreconditionError):
            images.remove_image(ImageSpec(image=container_images[0]))
        assert images.image_status(ImageSpec(image=container_images[0])) is not None

    def test_unsupported_pull_is_unimplemented(
        self,
        image_backend: ImageBackend | None,
        supports_image_pull: bool,
        pullable_images: Sequence[str],
    ) -> None:
        forbid(supports_image_pull, "supports_image_pull")
        with pytest.raises(UnimplementedError):
            _images(image_backend).pull_image(ImageSpec(image=pullable_images[0]), None, None)
