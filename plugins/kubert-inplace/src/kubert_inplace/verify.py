"""Whether a freshly started container came up: it keeps running for a while, and its startup
probe (when it has one) succeeds, all within a deadline."""

from __future__ import annotations

import time

from kubert import ContainerState, NotFoundError
from kubert.kubelet import Container, RuntimeClient, run_probe

POLL_SECONDS = 0.2


def verify_started(
    runtime: RuntimeClient,
    container_id: str,
    spec: Container,
    *,
    run_seconds: float,
    timeout_seconds: float,
    pod_ip: str = "",
) -> str:
    """Wait until ``container_id`` has run ``run_seconds`` and passed its startup probe (of
    any kind, run by the kubelet side's prober; network probes go to ``pod_ip``).

    :returns: "" when it is up, else why not (it exited, the probe failed, the deadline passed).
    """
    started = time.monotonic()
    deadline = started + max(timeout_seconds, run_seconds)
    probe = spec.startup_probe
    probe_ok = probe is None
    probe_failures = 0
    next_probe = started + (probe.initial_delay_seconds if probe else 0)
    while True:
        try:
            status = runtime.container_status(container_id)
        except NotFoundError:
            return "the new container disappeared"
        if status.state != ContainerState.CONTAINER_RUNNING:
            if status.state == ContainerState.CONTAINER_EXITED:
                detail = f": {status.reason}" if status.reason else ""
                return f"the new container exited with code {status.exit_code}{detail}"
            return f"the new container is {status.state.name}, not running"
        now = time.monotonic()
        if probe is not None and not probe_ok and now >= next_probe:
            named = [(p.name, p.container_port) for p in spec.ports if p.name]
            if run_probe(runtime, container_id, probe, pod_ip, named)[0]:
                probe_ok = True
            else:
                probe_failures += 1
                if probe_failures >= probe.failure_threshold:
                    return f"startup probe failed {probe_failures} times"
            next_probe = now + probe.period_seconds
        if probe_ok and now - started >= run_seconds:
            return ""
        if now >= deadline:
            return (
                f"not up within {timeout_seconds:g}s"
                + ("" if probe_ok else " (startup probe has not succeeded)")
            )
        time.sleep(POLL_SECONDS)

