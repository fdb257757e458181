"""Engine-free units of kubert_docker: names, labels, references, options, states, clamping."""

from __future__ import annotations

from pathlib import Path

import pytest

import kubert
from kubert_docker import naming, references
from kubert_docker.logs import format_time, last_timestamp
from kubert_docker.oom import clamp, detect_floor
from kubert_docker.security import user_string
from kubert_docker.settings import DockerConfig
from kubert_docker.status import container_state, parse_time


def test_names_parse_back_and_randomized_names_still_parse() -> None:
    name = naming.container_name("app", "web", "shop", "u-1", 3)
    assert name == "k8s_app_web_shop_u-1_3"
    assert naming.parse_name("/" + name) == ("app", "web", "shop", "u-1", 3)
    assert naming.parse_name(naming.randomized(name)) == ("app", "web", "shop", "u-1", 3)
    assert naming.parse_name("k8s_app_web_shop_u-1_x") is None
    assert naming.parse_name("not-ours") is None


def test_meta_round_trips_exactly_even_with_colliding_keys() -> None:
    meta = naming.Meta(kind=naming.TYPE_CONTAINER, metadata={"name": "c", "attempt": 1},
                       labels={naming.TYPE_LABEL: "x", "annotation.y": "z"},
                       annotations={"a": "b"}, extra={"log_path": "/l"})
    labels = naming.engine_labels(meta, sandbox_id="s" * 64, log_path="/l")
    assert labels[naming.TYPE_LABEL] == naming.TYPE_CONTAINER
    assert naming.meta_from_engine("k8s_c_p_n_u_1", labels) == meta


def test_dockershim_objects_are_read_from_name_and_labels() -> None:
    labels = {naming.TYPE_LABEL: naming.TYPE_SANDBOX, "app": "a", "annotation.note": "n"}
    meta = naming.meta_from_engine("/k8s_POD_web_shop_u-1_2", labels)
    assert meta is not None
    assert meta.metadata == {"name": "web", "namespace": "shop", "uid": "u-1", "attempt": 2}
    assert (meta.labels, meta.annotations) == ({"app": "a"}, {"note": "n"})
    assert naming.meta_from_engine("/plain", {"app": "a"}) is None


@pytest.mark.parametrize(("ref", "expected"), [
    ("busybox", ("docker.io", "busybox", "")),
    ("busybox:1.36", ("docker.io", "busybox", ":1.36")),
    ("127.0.0.1:5000/a/b:t", ("127.0.0.1:5000", "a/b", ":t")),
    ("quay.io/x/y@sha256:ab", ("quay.io", "x/y", "@sha256:ab")),
    ("localhost/x", ("localhost", "x", "")),
])
def test_reference_split(ref: str, expected: tuple[str, str, str]) -> None:
    assert references.split(ref) == expected


def test_mirror_rewrites_only_configured_registries() -> None:
    mirrors = {"docker.io": "m:5000", "quay.io": "q:1"}
    assert references.through_mirror("busybox", mirrors) == "m:5000/library/busybox:latest"
    assert references.through_mirror("quay.io/a/b@sha256:1", mirrors) == "q:1/a/b@sha256:1"
    assert references.through_mirror("gcr.io/a:1", mirrors) is None
    assert references.through_mirror("sha256:" + "a" * 64, mirrors) is None


@pytest.mark.parametrize(("options", "field"), [
    ({"cgroup-driver": "upstart"}, "docker.cgroup-driver"),
    ({"memory-swap": "some"}, "docker.memory-swap"),
    ({"restrict-oom-score-adj": "maybe"}, "docker.restrict-oom-score-adj"),
    ({"registry-mirrors": ["a/b=c"]}, "docker.registry-mirrors"),
    ({"runtime-handlers": ["kata"]}, "docker.runtime-handlers"),
])
def test_bad_options_name_the_key(options: dict[str, object], field: str) -> None:
    with pytest.raises(kubert.InvalidArgumentError) as error:
        DockerConfig.from_options(options)
    assert error.value.field == field


def test_engine_states_map_to_cri_states_and_reasons() -> None:
    zero = "0001-01-01T00:00:00Z"
    done = "2026-01-01T00:00:01.5Z"
    assert container_state({"Status": "created", "FinishedAt": zero})[0] == (
        kubert.ContainerState.CONTAINER_CREATED)
    assert container_state({"Status": "running", "Running": True})[0] == (
        kubert.ContainerState.CONTAINER_RUNNING)
    assert container_state({"Status": "exited", "ExitCode": 0, "StartedAt": done,
                            "FinishedAt": done})[1] == "Completed"
    assert container_state({"Status": "exited", "ExitCode": 2, "StartedAt": done,
                            "FinishedAt": done})[1] == "Error"
    assert container_state({"Status": "exited", "OOMKilled": True, "ExitCode": 137,
                            "StartedAt": done, "FinishedAt": done})[1] == "OOMKilled"
    failed = container_state({"Status": "created", "Error": "exec: nope", "ExitCode": 127,
                              "StartedAt": zero, "FinishedAt": zero})
    assert failed == (kubert.ContainerState.CONTAINER_EXITED, "ContainerCannotRun", "exec: nope")


def test_times_parse_and_format_to_the_nanosecond(tmp_path: Path) -> None:
    assert parse_time("1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert parse_time("0001-01-01T00:00:00Z") == 0
    assert format_time(1_000_000_002) == b"1970-01-01T00:00:01.000000002Z"
    log = tmp_path / "c.log"
    log.write_bytes(b"1970-01-01T00:00:01.000000002Z stdout F a\n"
                    b"1970-01-01T00:00:03.000000000Z stderr F b\n")
    assert last_timestamp(log) == 3_000_000_000
    assert last_timestamp(tmp_path / "missing.log") == 0


def test_oom_floor_detection_and_clamp(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "oom_score_adj").write_text("-100\n")
    (proc / "status").write_text("CapEff:\t000001fffeffffff\n")  # no CAP_SYS_RESOURCE
    assert detect_floor("auto", proc) == -100
    assert detect_floor("false", proc) is None
    (proc / "status").write_text("CapEff:\t000001ffffffffff\n")
    assert detect_floor("auto", proc) is None
    assert detect_floor("true", proc) == -100
    assert clamp(-998, 0) == 0 and clamp(500, 0) == 500 and clamp(-998, None) == -998


def test_user_strings() -> None:
    assert user_string(1000, None, "", "") == "1000"
    assert user_string(1000, 2000, "", "") == "1000:2000"
    assert user_string(None, None, "web", "") == "web"
    assert user_string(None, 7, "", "1234:5") == "1234:7"
    assert user_string(None, 7, "", "") == "0:7"
    assert user_string(None, None, "", "img") == ""
