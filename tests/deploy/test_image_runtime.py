# SPDX-License-Identifier: Apache-2.0
"""The image's runtime stage, carried out in a Debian 12 minbase root file system
(image_emulation.py), then run as `docker run` and as the pods of deploy/k8s would run it.

This is as close to building and running the image as a machine without a Docker engine gets:
the stage's own RUN lines install its packages into a fresh Debian 12 and must load the
program; the program runs as PID 1, as the image's user, with the image's environment only,
and as the pods do, with a read-only root file system, the ConfigMap mounted read-only and the
receiver's data on a volume. What it does not cover: the builder stage (the program comes from
this build tree, built by the same scripts/build.sh), BuildKit itself, cgroup limits.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from deploy_util import REPO, load_manifests, port_of
from image_emulation import PRISTINE, Container, build_runtime_stage

SPANS = 10000


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    assert os.geteuid() == 0, "the image emulation needs root (chroot, mount, namespaces)"
    assert (PRISTINE / "etc" / "debian_version").is_file(), \
        f"no Debian 12 root file system at {PRISTINE}: run scripts/setup.sh --test-peers"
    workdir = tmp_path_factory.mktemp("image")
    built = build_runtime_stage(workdir)
    yield built
    shutil.rmtree(workdir, ignore_errors=True)  # a few hundred MB


def proc_status(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def stored_rows(data_dir: Path) -> int:
    files = sorted((data_dir / "spans").rglob("*.parquet"))
    assert files, f"no Parquet under {data_dir}"
    for f in files:
        assert f.stat().st_uid == 10001, f"{f} not written by the image's user"
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def test_runtime_stage_loads_the_program(image, program_version):
    """The stage's own `otlp-arrow --version` ran in a Debian 12 that has only the listed
    packages; every library resolves, the Arrow ones from the image's library directory."""
    version_run = [entry for entry in image.log if "otlp-arrow --version" in entry]
    assert version_run and version_run[-1].rstrip().endswith(program_version), image.log[-1:]
    ldd = subprocess.run(["chroot", image.rootfs, "ldd", "/usr/local/bin/otlp-arrow"],
                         capture_output=True, text=True)
    assert ldd.returncode == 0 and "not found" not in ldd.stdout, ldd.stdout + ldd.stderr
    assert "/usr/local/lib/otlp-arrow/libarrow.so.2300" in ldd.stdout, ldd.stdout
    packages = subprocess.run(["chroot", image.rootfs, "dpkg-query", "-W", "-f=${Package}\\n"],
                              capture_output=True, text=True).stdout.split()
    assert "libgrpc++1.51" in packages
    assert not [p for p in packages if p.endswith("-dev")], "development packages in the image"
    assert "curl" not in packages and "wget" not in packages


def test_docker_run(image, otlp_arrow_bin):
    """`docker run IMAGE`: all-in-one as PID 1, the HEALTHCHECK, `docker stop`, the data."""
    with Container(image) as container:
        container.wait_for_line(r"^health on http://0\.0\.0\.0:8080/health")
        status = proc_status(container.pid)
        assert status["NSpid"][-1] == "1", "not PID 1 of its namespace"
        assert status["Uid"][0] == "10001" and status["Gid"][0] == "10001"

        load = container.host([otlp_arrow_bin, "loadgen", "--endpoint", "127.0.0.1:4317",
                               "--rate", "20000", "--duration", "0.5"])
        assert f"accepted {SPANS} spans" in load.stdout, load.stdout + load.stderr

        health = container.exec(image.healthcheck)
        assert health.returncode == 0, health.stderr
        assert health.stdout.startswith("http://127.0.0.1:8080/health: HTTP 200")
        # The user cannot write outside its directories.
        denied = container.exec(["sh", "-c", "touch /usr/local/bin/x"])
        assert denied.returncode != 0

        assert container.stop() == 0, container.output
        assert f"stopped: {SPANS} spans accepted over OTLP, {SPANS} exported" in container.output
    assert stored_rows(image.rootfs / "var" / "lib" / "otlp-arrow" / "data") == SPANS


def test_kubernetes_pods(image, otlp_arrow_bin, tmp_path):
    """The receiver and gateway containers of deploy/k8s: their args and environment, the
    ConfigMap read-only at /etc/otlp-arrow, a read-only root with /tmp, the receiver's data on
    its volume (group-writable, as fsGroup makes it). Both share one network namespace here
    (no cluster): the gateway's /health and /metrics move to free ports, and it reaches the
    receiver on localhost instead of through arrow-flight-service."""
    manifests = load_manifests()
    config_dir = tmp_path / "configmap"
    config_dir.mkdir()
    config_map = manifests[("ConfigMap", "otlp-arrow-config")]
    for key, text in config_map["data"].items():
        (config_dir / key).write_text(text)
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    volume = tmp_path / "pvc"
    volume.mkdir()
    os.chown(volume, 0, 10001)
    volume.chmod(0o2775)

    def pod(kind, name):
        spec = manifests[(kind, name)]["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        return c, mounts, {e["name"]: e["value"] for e in c.get("env", [])}

    receiver_c, receiver_mounts, receiver_env = pod("StatefulSet", "otlp-arrow-receiver")
    gateway_c, gateway_mounts, gateway_env = pod("Deployment", "otlp-arrow-exporter")
    assert "/var/lib/otlp-arrow" in receiver_mounts and "/etc/otlp-arrow" in receiver_mounts

    with Container(image, args=receiver_c["args"], env=receiver_env,
                   volumes={"/etc/otlp-arrow": config_dir, "/var/lib/otlp-arrow": volume},
                   read_only_volumes=("/etc/otlp-arrow",), read_only_root=True) as receiver:
        receiver.wait_for_line(r"^health on ")
        gateway_env = gateway_env | {
            "ARROW_FLIGHT_ENDPOINT": f"grpc://127.0.0.1:{port_of(config['listen']['flight'])}",
            "OTLP_ARROW_LISTEN_HEALTH": "0.0.0.0:18080",
            "OTLP_ARROW_MONITORING_METRICS_PORT": "19090"}
        with Container(image, args=gateway_c["args"], env=gateway_env,
                       volumes={"/etc/otlp-arrow": config_dir},
                       read_only_volumes=("/etc/otlp-arrow",), read_only_root=True,
                       netns_of=receiver) as gateway:
            gateway.wait_for_line(r"^health on ")
            # The kubelet's probes of the receiver, as the manifest writes them.
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = receiver_c[probe]["httpGet"]
                url = f"http://127.0.0.1:{get['port']}{get['path']}"
                result = receiver.host([otlp_arrow_bin, "healthcheck", "--url", url])
                assert result.returncode == 0, (probe, result.stderr)
            # Nothing is writable but the volumes and /tmp.
            for container, path in ((receiver, "/etc/otlp-arrow/x"), (gateway, "/x"),
                                    (receiver, "/etc/otlp-arrow/config.yaml")):
                denied = container.exec(["sh", "-c", f"echo > {path}"])
                assert denied.returncode != 0 and "Read-only file system" in denied.stderr
            assert gateway.exec(["sh", "-c", "echo > /tmp/x"]).returncode == 0

            load = gateway.host([otlp_arrow_bin, "loadgen", "--endpoint", "127.0.0.1:4317",
                                 "--rate", "20000", "--duration", "0.5"])
            assert f"accepted {SPANS} spans" in load.stdout, load.stdout + load.stderr
            assert gateway.stop() == 0, gateway.output
            assert f"{SPANS} exported" in gateway.output and "0 not sent" in gateway.output
        assert receiver.stop() == 0, receiver.output
        assert f"stopped: {SPANS} spans stored" in receiver.output, receiver.output
    assert stored_rows(volume / "data") == SPANS
