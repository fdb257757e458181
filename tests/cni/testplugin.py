"""A CNI plugin for tests, run as a script: records its calls and fails, hangs or prints
garbage on request. Used to inject faults into real chains (it is a fault injector, not a mock:
every other plugin in those chains is a real containernetworking-plugins binary).

Config keys: ``record`` (file to append one JSON line per call to), ``failOn`` (command that
returns an error result), ``hangOn`` (command that sleeps forever, with a forked child),
``garbageOn`` (command that prints non-JSON), ``floodOn`` (prints 5 MiB), ``crashOn``
(command that exits 3 with only a stderr message), ``ip`` (address to report when there is
no prevResult), ``leaseDir`` (a file per container while attached, removed by DEL and by GC
for invalid attachments), ``statusFailFile`` (STATUS fails while this file exists).
"""

import json
import os
import sys
import time

VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    raw = sys.stdin.read()
    conf = json.loads(raw) if raw.strip() else {}
    if conf.get("record"):
        with open(conf["record"], "a") as out:
            env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
            out.write(json.dumps({"command": command, "env": env, "conf": conf}) + "\n")
    if command == "VERSION":
        print(json.dumps({"cniVersion": "1.1.0", "supportedVersions": VERSIONS}))
        return 0
    if conf.get("failOn") == command:
        print(json.dumps({"cniVersion": conf.get("cniVersion"), "code": 7,
                          "msg": "injected failure", "details": f"failOn={command}"}))
        return 1
    if conf.get("hangOn") == command:
        if os.fork() == 0:
            time.sleep(3600)
            return 0
        time.sleep(3600)
    if conf.get("garbageOn") == command:
        print("this is not json {")
        return 0
    if conf.get("floodOn") == command:
        sys.stdout.write("x" * (5 << 20))
        return 0
    if conf.get("crashOn") == command:
        sys.stderr.write("segfault-ish: injected crash\n")
        return 3
    lease_dir = conf.get("leaseDir")
    cid = os.environ.get("CNI_CONTAINERID", "")
    if command == "STATUS":
        if conf.get("statusFailFile") and os.path.exists(conf["statusFailFile"]):
            print(json.dumps({"cniVersion": conf.get("cniVersion"), "code": 50,
                              "msg": "plugin not available", "details": "status file present"}))
            return 1
        return 0
    if command == "GC" and lease_dir:
        valid = {a["containerID"] for a in conf.get("cni.dev/valid-attachments", [])}
        for name in os.listdir(lease_dir):
            if name not in valid:
                os.unlink(os.path.join(lease_dir, name))
        return 0
    if command == "DEL":
        if lease_dir and os.path.exists(os.path.join(lease_dir, cid)):
            os.unlink(os.path.join(lease_dir, cid))
        return 0
    if command == "ADD":
        if lease_dir:
            with open(os.path.join(lease_dir, cid), "w") as lease:
                lease.write(conf.get("ip", ""))
        result = conf.get("prevResult")
        if result is None:
            result = {"cniVersion": conf.get("cniVersion"),
                      "interfaces": [{"name": os.environ.get("CNI_IFNAME", ""),
                                      "sandbox": os.environ.get("CNI_NETNS", "")}],
                      "ips": [{"address": conf.get("ip", "10.99.0.2/24"), "interface": 0}]}
        print(json.dumps(result))
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
