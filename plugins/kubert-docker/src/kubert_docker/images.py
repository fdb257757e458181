"""The ``docker`` image backend: pull (with auth, mirrors and progress), list, status, remove."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

from kubert import (
    AuthConfig,
    BackendContext,
    FailedPreconditionError,
    FilesystemIdentifier,
    FilesystemUsage,
    Image,
    ImageBackend,
    ImageFilter,
    ImageFsInfo,
    ImageSpec,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
    PodSandboxConfig,
    PullProgress,
    UnavailableError,
)
from kubert_docker import references, verbose
from kubert_docker.engine import BACKEND, Engine, translate
from kubert_docker.settings import DockerConfig

log = logging.getLogger(__name__)


def image_user(config: dict[str, Any]) -> tuple[int | None, str]:
    """(uid, username) from an image config's ``User``: a number is a uid, else a name."""
    user = (config.get("User") or "").split(":", 1)[0]
    if not user:
        return None, ""
    if user.isdigit():
        return int(user), ""
    return None, user


def to_image(inspect: dict[str, Any], pinned_ref: str = "") -> Image:
    """The CRI image of an engine inspect; ``pinned_ref`` (the infra image) is never GCed."""
    uid, username = image_user(inspect.get("Config") or {})
    names = (*(inspect.get("RepoTags") or ()), *(inspect.get("RepoDigests") or ()))
    return Image(
        id=inspect["Id"],
        repo_tags=tuple(t for t in inspect.get("RepoTags") or () if t != "<none>:<none>"),
        repo_digests=tuple(
            d for d in inspect.get("RepoDigests") or () if d != "<none>@<none>"
        ),
        size=int(inspect.get("Size") or 0),
        uid=uid,
        username=username,
        pinned=bool(pinned_ref) and (pinned_ref in names or inspect["Id"] == pinned_ref),
    )


def auth_dict(auth: AuthConfig | None) -> dict[str, str] | None:
    """The engine's X-Registry-Auth fields of a CRI AuthConfig."""
    if auth is None:
        return None
    fields = {
        "username": auth.username,
        "password": auth.password,
        "auth": auth.auth,
        "serveraddress": auth.server_address,
        "identitytoken": auth.identity_token,
        "registrytoken": auth.registry_token,
    }
    body = {k: v for k, v in fields.items() if v}
    return body or None


def _pull_error(ref: str, message: str) -> KubertError:
    text = message.lower()
    if "not found" in text or "manifest unknown" in text or "does not exist" in text:
        return NotFoundError("image", ref, message)
    if any(s in text for s in ("connection refused", "no such host", "i/o timeout", "dial tcp")):
        return UnavailableError(f"registry of {ref}", message)
    if any(s in text for s in ("unauthorized", "authentication required", "denied",
                               "credentials")):
        return FailedPreconditionError(f"pulling image {ref!r} was refused: {message}")
    return KubertError(f"pulling image {ref!r} failed: {message}")


class DockerImages(ImageBackend):
    """Images in the docker engine's store."""

    name: ClassVar[str] = "docker"

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.config = DockerConfig.from_options(context.options)
        self.engine = Engine(self.config.endpoint, self.config.runtime_request_timeout)

    def close(self) -> None:
        self.engine.close()

    # ---- reading -----------------------------------------------------------------------

    def _infra(self) -> str:
        """The sandbox image as the engine names it (``docker.io/`` is implied there)."""
        ref = self.context.pod_infra_container_image
        return ref.removeprefix("docker.io/").removeprefix("library/")

    def _inspect(self, ref: str) -> dict[str, Any] | None:
        """The engine's inspect of ``ref`` (or of its mirrored name); None when absent.

        Served from the endpoint's shared cache while the runtime's event stream keeps it
        current (RunPodSandbox asks about the same sandbox image every time); otherwise
        needed: only the engine knows what a reference names now."""
        api = self.engine.api()
        facts = self.engine.facts
        candidates = [ref]
        mirrored = references.through_mirror(ref, self.config.registry_mirrors)
        if mirrored:
            candidates.append(mirrored)
        for candidate in candidates:
            cached = facts.cached_image(candidate)
            if cached is not None:
                return dict(cached)
            generation = facts.generation()
            try:
                with translate("image", ref):
                    found = dict(api.inspect_image(candidate))
                facts.store_image(candidate, found, generation)
                return found
            except NotFoundError:
                continue
            except InvalidArgumentError:
                # The engine refuses malformed references with 400: absent, not an error.
                return None
        return None

    def image_status(self, image: ImageSpec) -> Image | None:
        if not image.image:
            raise InvalidArgumentError("image.image", image.image, "must name an image")
        inspect = self._inspect(image.image)
        return None if inspect is None else to_image(inspect, self._infra())

    def image_info(self, image: ImageSpec) -> dict[str, str]:
        inspect = self._inspect(image.image) if image.image else None
        return {} if inspect is None else verbose.image_info(inspect)

    def list_images(self, filter: ImageFilter | None) -> list[Image]:
        api = self.engine.api()
        wanted = filter.image.image if filter is not None and filter.image is not None else ""
        with translate("images", wanted or "*"):
            if wanted:
                listed = api.images(name=wanted)
                if not listed and references.is_image_id(wanted):
                    found = self._inspect(wanted)
                    return [] if found is None else [to_image(found, self._infra())]
            else:
                listed = api.images()
        infra = self._infra()
        return [
            Image(
                id=item["Id"],
                repo_tags=tuple(t for t in item.get("RepoTags") or () if t != "<none>:<none>"),
                repo_digests=tuple(
                    d for d in item.get("RepoDigests") or () if d != "<none>@<none>"
                ),
                size=int(item.get("Size") or 0),
                pinned=bool(infra) and infra in (
                    *(item.get("RepoTags") or ()), *(item.get("RepoDigests") or ())
                ),
            )
            for item in listed
        ]

    # ---- pulling -----------------------------------------------------------------------

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None,
        sandbox_config: PodSandboxConfig | None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        ref = image.image
        if not ref:
            raise InvalidArgumentError("image.image", ref, "must name an image")
        if references.is_image_id(ref):
            found = self._inspect(ref)
            if found is None:
                raise NotFoundError("image", ref, "an image ID cannot be pulled")
            return str(found["Id"])
        mirrored = references.through_mirror(ref, self.config.registry_mirrors)
        if mirrored:
            try:
                self._pull(mirrored, None, progress)
                self._retag(mirrored, ref)
                return self._ref_after_pull(ref)
            except KubertError as exc:
                log.warning("pull of %s through mirror %s failed (%s); pulling directly",
                            ref, mirrored, exc)
        self._pull(ref, auth, progress)
        return self._ref_after_pull(ref)

    def _ref_after_pull(self, ref: str) -> str:
        found = self._inspect(ref)
        if found is None:
            raise NotFoundError("image", ref, "the engine reported the pull done but lacks it")
        return str(found["Id"])

    def _retag(self, mirrored: str, ref: str) -> None:
        if "@" in ref:
            return  # a digest cannot be a tag; lookups go through the mirror name instead
        repository, _, tag = ref.rpartition(":")
        if not repository or "/" in tag:
            repository, tag = ref, "latest"
        try:
            with translate("image", mirrored):
                self.engine.sdk().tag(mirrored, repository, tag)
        finally:
            self.engine.facts.images_changed()

    def _pull(
        self, ref: str, auth: AuthConfig | None, progress: Callable[[PullProgress], None] | None
    ) -> None:
        """Pull ``ref``; the engine's progress stream falling silent for the configured
        deadline cancels it (closing the stream makes the engine abandon the pull)."""
        import requests

        import docker

        deadline = self.config.image_pull_progress_deadline
        client = self.engine.new_client(timeout=None)
        name, _, suffix = _repository_and_tag(ref)
        headers = {}
        credentials = auth_dict(auth)
        if credentials:
            headers["X-Registry-Auth"] = docker.auth.encode_header(credentials)
        response: Any = None
        try:
            with translate("image", ref):
                url = f"{client.base_url}/v{client.api_version}/images/create"
                # The read timeout is the progress deadline: no byte for that long = stalled.
                response = client.post(
                    url, params={"fromImage": name, "tag": suffix}, headers=headers,
                    stream=True, timeout=(30, deadline or None),
                )
                try:
                    response.raise_for_status()
                except requests.exceptions.HTTPError as exc:
                    raise docker.errors.create_api_error_from_http_exception(exc) from None
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    message = json.loads(line)
                    if "error" in message:
                        raise _pull_error(ref, str(message["error"]))
                    if progress is not None:
                        detail = message.get("progressDetail") or {}
                        progress(
                            PullProgress(
                                image=ref,
                                layer=str(message.get("id", "")),
                                status=str(message.get("status", "")),
                                current=int(detail.get("current") or 0),
                                total=int(detail.get("total") or 0),
                            )
                        )
        except UnavailableError as exc:
            if "timed out" in exc.detail.lower() or "in time" in exc.detail.lower():
                raise UnavailableError(
                    BACKEND, f"pull of {ref} made no progress for {deadline}s; cancelled"
                ) from None
            raise
        except (NotFoundError, FailedPreconditionError, InvalidArgumentError) as exc:
            raise _pull_error(ref, exc.message) from None
        except KubertError as exc:
            if type(exc) is not KubertError:
                raise
            raise _pull_error(ref, exc.message) from None
        finally:
            if response is not None:
                response.close()
            client.close()
            # A pull may move a tag; the engine's pull event follows, the next read is now.
            self.engine.facts.images_changed()

    # ---- removing ----------------------------------------------------------------------

    def remove_image(self, image: ImageSpec) -> None:
        """Remove the image ``image`` names, with every tag and digest, as dockershim did."""
        ref = image.image
        if not ref:
            raise InvalidArgumentError("image.image", ref, "must name an image")
        inspect = self._inspect(ref)
        if inspect is None:
            return
        api = self.engine.api()
        names = [
            *(t for t in inspect.get("RepoTags") or () if t != "<none>:<none>"),
            *(d for d in inspect.get("RepoDigests") or () if d != "<none>@<none>"),
        ]
        try:
            for name in [*names, inspect["Id"]]:
                try:
                    with translate("image", ref):
                        api.remove_image(name, noprune=False)
                except NotFoundError:
                    continue
                except FailedPreconditionError as exc:
                    raise FailedPreconditionError(
                        f"image {ref!r} is in use by a container: {exc.message}"
                    ) from None
        finally:
            # The engine's untag/delete events follow; the next read must not wait for them.
            self.engine.facts.images_changed()

    # ---- filesystem --------------------------------------------------------------------

    def image_fs_info(self) -> ImageFsInfo:
        api = self.engine.api()
        with translate("engine", "info"):
            info = api.info()
            images = api.images()
        root = str(info.get("DockerRootDir", ""))
        driver = str(info.get("Driver", ""))
        now = time.time_ns()
        mountpoint = f"{root}/{driver}" if root and driver else root
        used = sum(int(item.get("Size") or 0) for item in images)
        usage = FilesystemUsage(
            timestamp=now,
            fs_id=FilesystemIdentifier(mountpoint=mountpoint),
            used_bytes=used,
            inodes_used=None,
        )
        return ImageFsInfo(image_filesystems=(usage,), container_filesystems=(usage,))


def _repository_and_tag(ref: str) -> tuple[str, str, str]:
    """(repository, separator, tag or digest) as the engine's pull endpoint wants them."""
    name, at, digest = ref.partition("@")
    if at:
        return name, "@", digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ":", ref[colon + 1:]
    return ref, ":", "latest"
