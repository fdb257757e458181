"""kubert: the kubelet's container-runtime layer as a library of plugins.

This module is the public API: plugins import from here (and from ``kubert.testing`` in their
tests), never from kubert's submodules.
"""

from kubert.backends import (
    Backend,
    BackendContext,
    CheckpointStore,
    ImageBackend,
    NetworkBackend,
    PodNetwork,
    PullProgress,
    RuntimeBackend,
)
from kubert.cadvisor import METRIC_DESCRIPTORS, pod_sandbox_metrics
from kubert.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
    PluginLoadError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
)
from kubert.events import EventBroadcaster
from kubert.fileutil import atomic_write
from kubert.hookspecs import RegisterBackend, hookimpl, hookspec
from kubert.locks import LockTable
from kubert.model import *  # noqa: F403  (the model namespace is part of the public API by design)
from kubert.model import __all__ as _model_all
from kubert.options import ServeOption
from kubert.streaming.contract import STDERR, STDOUT, OutputChunk, ProcessStream

__version__ = "0.2.0"

__all__ = [
    "AlreadyExistsError",
    "Backend",
    "BackendContext",
    "CheckpointStore",
    "DeadlineExceededError",
    "EventBroadcaster",
    "FailedPreconditionError",
    "METRIC_DESCRIPTORS",
    "ImageBackend",
    "InvalidArgumentError",
    "KubertError",
    "LockTable",
    "NetworkBackend",
    "NotFoundError",
    "OutputChunk",
    "PluginLoadError",
    "ProcessStream",
    "PodNetwork",
    "PullProgress",
    "RegisterBackend",
    "ResourceExhaustedError",
    "RuntimeBackend",
    "STDERR",
    "STDOUT",
    "ServeOption",
    "UnavailableError",
    "UnimplementedError",
    "atomic_write",
    "hookimpl",
    "hookspec",
    "pod_sandbox_metrics",
    *_model_all,
]
