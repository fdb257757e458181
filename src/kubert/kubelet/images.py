"""Ensure a container's image is present, by its pull policy, as the kubelet's image manager.

Pulls go through one :class:`ImagePuller` per node: serialized (the kubelet's default) or
parallel up to a limit, under a registry QPS / burst limit that fails excess pulls at once, and
with per-(pod, image) backoff that turns repeated ErrImagePull into ImagePullBackOff.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from attrs import define, field

from kubert.errors import KubertError
from kubert.kubelet import pullsecrets
from kubert.kubelet.backoff import IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, Backoff
from kubert.kubelet.clock import Clock, SystemClock
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.runtime import RuntimeClient
from kubert.kubelet.settings import KubeletConfig
from kubert.model import AuthConfig, ImageSpec, PodSandboxConfig

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"


class ImagePullError(KubertError):
    """An image could not be made present; ``reason`` is the kubelet's waiting reason."""

    def __init__(self, reason: str, image: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.image = image


@define
class TokenBucket:
    """``qps`` tokens a second, up to ``burst`` saved; ``qps <= 0`` means no limit."""

    qps: float
    burst: int
    clock: Clock
    _tokens: float = field(init=False, default=0.0)
    _last: float = field(init=False, default=-1.0)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return True
        with self._lock:
            now = self.clock.now()
            if self._last < 0:
                self._tokens = float(max(1, self.burst))
            else:
                self._tokens = min(
                    float(max(1, self.burst)), self._tokens + (now - self._last) * self.qps
                )
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


Progress = Callable[[str], None]


@define
class ImagePuller:
    """The node's image manager: pull policy, backoff, serialization and the QPS limit."""

    runtime: RuntimeClient
    config: KubeletConfig = field(factory=KubeletConfig)
    clock: Clock = field(factory=SystemClock)
    backoff: Backoff = field(default=None)
    _bucket: TokenBucket = field(init=False)
    _gate: threading.Semaphore = field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.backoff is None:
            self.backoff = Backoff(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX, self.clock)
        self._bucket = TokenBucket(
            self.config.registry_pull_qps, self.config.registry_burst, self.clock
        )
        if self.config.serialize_image_pulls:
            slots = 1
        else:
            slots = self.config.max_parallel_image_pulls or 1 << 16
        self._gate = threading.Semaphore(slots)

    def ensure_image(
        self,
        pod: Pod,
        container: Container,
        sandbox_config: PodSandboxConfig | None,
        progress: Progress | None = None,
    ) -> str:
        """Make ``container.image`` present per its pull policy. :returns: the image reference.

        :raises ImagePullError: ErrImageNeverPull, ImagePullBackOff or ErrImagePull.
        """
        spec = ImageSpec(image=container.image, user_specified_image=container.image)
        policy = container.image_pull_policy or "IfNotPresent"
        present = self.runtime.image_status(spec) if policy != "Always" else None
        if present is not None:
            return present.id
        if policy == "Never":
            raise ImagePullError(
                ERR_IMAGE_NEVER_PULL,
                container.image,
                f'Container image "{container.image}" is not present with pull policy of Never',
            )
        key = f"{pod.uid}_{container.image}"
        if self.backoff.in_backoff_since_update(key):
            raise ImagePullError(
                IMAGE_PULL_BACKOFF, container.image, f'Back-off pulling image "{container.image}"'
            )
        if progress:
            progress(f'Pulling image "{container.image}"')
        try:
            ref = self._pull(spec, sandbox_config, pullsecrets.credentials(self.config, pod,
                                                                             container.image))
        except KubertError as exc:
            self.backoff.next(key, self.clock.now())
            raise ImagePullError(
                ERR_IMAGE_PULL,
                container.image,
                f'Failed to pull image "{container.image}": {exc}',
            ) from exc
        self.backoff.reset(key)
        if progress:
            progress(f'Successfully pulled image "{container.image}"')
        return ref

    def _pull(
        self, spec: ImageSpec, sandbox_config: PodSandboxConfig | None, auths: list[AuthConfig]
    ) -> str:
        """Pull with each credential in turn (none when none matched): the first success wins,
        else the last error is raised, as the kubelet's PullImage."""
        with self._gate:
            if not self._bucket.try_accept():
                raise _QpsExceeded()
            failure: KubertError | None = None
            tries: list[AuthConfig | None] = list(auths) or [None]
            for auth in tries:
                try:
                    return self.runtime.pull_image(spec, auth, sandbox_config)
                except KubertError as exc:
                    failure = exc
            assert failure is not None
            raise failure


class _QpsExceeded(KubertError):
    def __init__(self) -> None:
        super().__init__("pull QPS exceeded")
