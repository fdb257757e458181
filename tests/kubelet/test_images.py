"""Image pulls as the kubelet does them: pull policy, ErrImagePull then ImagePullBackOff,
serialized or parallel pulls, and the registry QPS / burst limit (over a real CRI socket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import attrs
import pytest

from kubert.cri.client import CriClient
from kubert.kubelet import FakeClock, ImagePuller, ImagePullError, KubeletConfig, Pod, load_pods
from kubert.model import AuthConfig, ImageSpec, PodSandboxConfig


def pod_with(image: str, policy: str) -> Pod:
    return load_pods(
        f"metadata: {{name: img}}\nspec:\n  containers:\n"
        f"  - {{name: c, image: '{image}', imagePullPolicy: {policy}}}\n"
    )[0]


def puller(cri: Any, clock: FakeClock, **config: Any) -> ImagePuller:
    return ImagePuller(cri, KubeletConfig(**config), clock)


def reason(images: ImagePuller, pod: Pod) -> str:
    try:
        images.ensure_image(pod, pod.spec.containers[0], None)
    except ImagePullError as exc:
        return exc.reason
    return "ok"


def test_never_policy_refuses_an_absent_image(memory_cri: CriClient) -> None:
    images = puller(memory_cri, FakeClock())
    assert reason(images, pod_with("nginx:1.27-never", "Never")) == "ErrImageNeverPull"
    assert reason(images, pod_with("busybox:latest", "Never")) == "ok"


def test_failed_pulls_back_off_10s_then_20s(memory_cri: CriClient) -> None:
    clock = FakeClock()
    images = puller(memory_cri, clock)
    pod = pod_with("nosuch/thing:1", "IfNotPresent")
    assert reason(images, pod) == "ErrImagePull"
    assert reason(images, pod) == "ImagePullBackOff"
    clock.advance(9.5)
    assert reason(images, pod) == "ImagePullBackOff"
    clock.advance(1)
    assert reason(images, pod) == "ErrImagePull"  # tried again, failed again
    clock.advance(15)
    assert reason(images, pod) == "ImagePullBackOff"  # now 20 s
    clock.advance(6)
    assert reason(images, pod) == "ErrImagePull"


def test_registry_qps_and_burst(memory_cri: CriClient) -> None:
    clock = FakeClock()
    images = puller(memory_cri, clock, registry_pull_qps=1.0, registry_burst=2)
    pulls = [pod_with(image, "Always") for image in ("busybox:1.36", "alpine:3.20", "nginx:1.27")]
    assert [reason(images, p) for p in pulls[:2]] == ["ok", "ok"]
    with pytest.raises(ImagePullError, match="pull QPS exceeded") as caught:
        images.ensure_image(pulls[2], pulls[2].spec.containers[0], None)
    assert caught.value.reason == "ErrImagePull"
    clock.advance(1.0)
    other = pod_with("nginx:1.27", "Always")  # another pod: no backoff entry of its own
    other = attrs.evolve(other, metadata=attrs.evolve(other.metadata, uid="other-uid"))
    assert reason(images, other) == "ok"


class CountingPulls:
    """The real client, counting how many PullImage calls are in flight at once."""

    def __init__(self, cri: CriClient) -> None:
        self.cri = cri
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cri, name)

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None = None,
        sandbox_config: PodSandboxConfig | None = None,
    ) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)  # keep the pull in flight long enough for others to overlap
            return self.cri.pull_image(image, auth, sandbox_config)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize(("serialize", "limit", "most"), [(True, 0, 1), (False, 2, 2)])
def test_serialized_or_parallel_pulls(
    memory_cri: CriClient, serialize: bool, limit: int, most: int
) -> None:
    counting = CountingPulls(memory_cri)
    images = puller(
        counting,
        FakeClock(),
        serialize_image_pulls=serialize,
        max_parallel_image_pulls=limit,
        registry_pull_qps=0,
    )
    pods: Sequence[Pod] = [
        pod_with(i, "Always")
        for i in ("busybox:1.36", "alpine:3.20", "nginx:1.27", "busybox:latest")
    ]
    threads = [threading.Thread(target=reason, args=(images, p)) for p in pods]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert counting.most == most
