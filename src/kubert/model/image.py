"""Image models: specs, auth, list entries, filesystem info."""

from __future__ import annotations

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import FilesystemUsage, labels_field, strings_field, tuple_field


@frozen(kw_only=True)
class ImageSpec:
    """An image reference: a name[:tag], name@digest or image ID."""

    image: str = field(
        default="", validator=[validate.bounded_string(4096), validate.image_reference]
    )
    annotations: dict[str, str] = labels_field()
    user_specified_image: str = field(default="", validator=validate.bounded_string(4096))
    runtime_handler: str = field(default="", validator=validate.bounded_string(256))


@frozen(kw_only=True)
class AuthConfig:
    """Registry credentials as the kubelet passes them with PullImage."""

    username: str = ""
    password: str = field(default="", repr=False)
    auth: str = field(default="", repr=False)
    server_address: str = ""
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)


@frozen(kw_only=True)
class Image:
    """An image as ListImages and ImageStatus report it."""

    id: str
    repo_tags: tuple[str, ...] = strings_field()
    repo_digests: tuple[str, ...] = strings_field()
    size: int = 0
    uid: int | None = None
    username: str = ""
    spec: ImageSpec | None = None
    pinned: bool = False


@frozen(kw_only=True)
class ImageFilter:
    image: ImageSpec | None = None


@frozen(kw_only=True)
class ImageFsInfo:
    """ImageFsInfo answer: one entry per filesystem holding images / writable layers."""

    image_filesystems: tuple[FilesystemUsage, ...] = tuple_field()
    container_filesystems: tuple[FilesystemUsage, ...] = tuple_field()
