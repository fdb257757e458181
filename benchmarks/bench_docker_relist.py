"""The kubelet's relist (ListPodSandbox + ListContainers) through kubert's CRI socket with the
docker backends, against what it costs just to build and serialize the same answers, and
against the engine's own list call (what cri-dockerd makes on each relist), in the same run.

Run as root: ``python3 benchmarks/bench_docker_relist.py [--pods N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from cri_api.v1 import api_pb2 as pb
from docker_setup import kubert_on_docker
from timing import median_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=30, help="pods of two containers each")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    with kubert_on_docker("kubert-relist-") as run:
        engine, stub, client = run.engine, run.stub, run.client
        for n in range(args.pods):
            pod = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
                name=f"p{n}", uid=f"relist-{n}", namespace="bench"), labels={"app": "x"})
            sid = stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id
            for name in ("a", "b"):
                config = pb.ContainerConfig(
                    metadata=pb.ContainerMetadata(name=name),
                    image=pb.ImageSpec(image=engine.busybox), command=["sleep", "3600"],
                    labels={"io.kubernetes.container.name": name},
                )
                cid = stub.CreateContainer(pb.CreateContainerRequest(
                    pod_sandbox_id=sid, config=config, sandbox_config=pod)).container_id
                stub.StartContainer(pb.StartContainerRequest(container_id=cid))

        def relist() -> tuple[Any, Any]:
            return (stub.ListPodSandbox(pb.ListPodSandboxRequest()),
                    stub.ListContainers(pb.ListContainersRequest()))

        sandboxes, containers = relist()
        wire = (sandboxes.SerializeToString(), containers.SerializeToString())

        def serialize_only() -> None:
            # Build the answers from their wire form and serialize them again: the work a
            # server must do for this answer however it obtains the data.
            a = pb.ListPodSandboxResponse.FromString(wire[0])
            b = pb.ListContainersResponse.FromString(wire[1])
            a.SerializeToString()
            b.SerializeToString()

        def engine_list() -> None:
            client.api.containers(all=True, filters={"label": "io.kubernetes.docker.type"})

        backend = run.server.service.runtime

        def backend_only() -> None:
            backend.list_sandboxes(None)
            backend.list_containers(None)

        kubert_ms = median_ms(relist, args.rounds)
        backend_ms = median_ms(backend_only, args.rounds)
        serialize_ms = median_ms(serialize_only, args.rounds)
        engine_ms = median_ms(engine_list, args.rounds)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{len(sandboxes.items)} sandboxes, {len(containers.containers)} containers; "
              f"medians of {args.rounds} rounds")
        print(f"  kubert relist over gRPC       {kubert_ms:7.2f} ms")
        print(f"  of which the docker backend   {backend_ms:7.2f} ms (no engine call)")
        print(f"  protobuf parse + serialize    {serialize_ms:7.2f} ms")
        print(f"  one engine list call (no inspect, as cri-dockerd starts) {engine_ms:7.2f} ms")


if __name__ == "__main__":
    main()
