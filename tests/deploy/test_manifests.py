# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes manifests of deploy/k8s against the program they deploy.

The schema of every object (strict decoding into k8s.io/api's types, references between the
objects) is checked by the Go test in tests/deploy/k8svalidate; this module checks what the
issue asks of the deployment and that the manifests agree with the program: the ConfigMap's
config.yaml passes `otlp-arrow config check`, each workload's effective configuration (the
ConfigMap plus the container's environment, as `--print-config` reports it) listens where the
probes, ports, Services and scrape annotations point, and the probe paths and ports are the
program's defaults.
"""

import re
import sys
from pathlib import Path

import pytest
import yaml

from deploy_util import (REPO, K8S, effective_config, load_manifests, parse_dockerfile,
                         parse_quantity, port_of, run)

sys.path.insert(0, str(REPO / "tests" / "interop"))
from otlp_service import Service  # noqa: E402

GATEWAY = ("Deployment", "otlp-arrow-exporter")
RECEIVER = ("StatefulSet", "otlp-arrow-receiver")
CONFIGMAP = ("ConfigMap", "otlp-arrow-config")


@pytest.fixture(scope="module")
def manifests() -> dict:
    return load_manifests()


@pytest.fixture(scope="module")
def config_file(manifests, tmp_path_factory) -> Path:
    """The ConfigMap's config.yaml, as the pods see it at /etc/otlp-arrow/config.yaml."""
    path = tmp_path_factory.mktemp("configmap") / "config.yaml"
    path.write_text(manifests[CONFIGMAP]["data"]["config.yaml"])
    return path


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def container_env(workload: dict) -> dict:
    return {e["name"]: e["value"] for e in container(workload).get("env", [])}


def role_of(workload: dict) -> str:
    args = container(workload)["args"]
    assert args[0] in ("gateway", "receiver"), args
    return args[0]


@pytest.fixture(scope="module")
def effective(manifests, config_file, otlp_arrow_bin) -> dict:
    """Workload key → the configuration its container runs with (ConfigMap + env)."""
    return {key: effective_config(otlp_arrow_bin, role_of(manifests[key]), config_file,
                                  container_env(manifests[key]))
            for key in (GATEWAY, RECEIVER)}


def test_every_file_is_in_the_kustomization():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files


def test_configmap_passes_config_check(config_file, otlp_arrow_bin):
    result = run([otlp_arrow_bin, "config", "check", config_file])
    assert result.stdout.startswith(f"config OK: {config_file}"), result.stdout
    # No "taken as" rewrites or other warnings: the file says what it means.
    assert "warning" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_configmap_keeps_the_design_documents_keys(manifests):
    config = yaml.safe_load(manifests[CONFIGMAP]["data"]["config.yaml"])
    for key in ("endpoint", "batch_size", "flush_interval_ms", "buffer_size"):
        assert key in config, f"the design document's key {key} is missing"
    assert config["endpoint"].endswith("//arrow-flight-service:8815")


def test_the_seeds_configmap_still_loads(otlp_arrow_bin, tmp_path):
    """The design document's ConfigMap, unchanged (docs/configuration.md promises it)."""
    seed = tmp_path / "seed.yaml"
    seed.write_text('endpoint: "http://arrow-flight-service:8815"\nbatch_size: 1000\n'
                    "flush_interval_ms: 5000\nbuffer_size: 10000\n")
    result = run([otlp_arrow_bin, "config", "check", seed])
    assert "config OK" in result.stdout


def test_configmap_is_mounted_where_the_program_looks(manifests, default_config_path):
    mount_dir, file_name = default_config_path.rsplit("/", 1)
    assert file_name in manifests[CONFIGMAP]["data"]
    for key in (GATEWAY, RECEIVER):
        spec = manifests[key]["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m for m in container(manifests[key])["volumeMounts"]}
        assert mount_dir in mounts, f"{key}: config not mounted at {mount_dir}"
        assert mounts[mount_dir].get("readOnly") is True
        volume = next(v for v in spec["volumes"] if v["name"] == mounts[mount_dir]["name"])
        assert volume["configMap"]["name"] == CONFIGMAP[1]


def test_gateway_deployment(manifests, effective):
    gateway = manifests[GATEWAY]
    assert gateway["apiVersion"] == "apps/v1"
    assert gateway["spec"]["replicas"] == 3
    env = container_env(gateway)
    # The design document's variable, pointing at the receiver's Service.
    assert env["ARROW_FLIGHT_ENDPOINT"] == effective[GATEWAY]["endpoint"]
    assert effective[GATEWAY]["endpoint"] == "grpc://arrow-flight-service:8815"


def test_probes_are_the_programs_defaults(manifests, effective, program_defaults):
    default_port = port_of(program_defaults["listen"]["health"])
    for key in (GATEWAY, RECEIVER):
        c = container(manifests[key])
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in c:
                assert c[probe]["httpGet"]["port"] == default_port, (key, probe)
        # ... and the ConfigMap does not move the listener away from them.
        assert port_of(effective[key]["listen"]["health"]) == default_port


def test_workloads_listen_where_the_ports_point(manifests, effective):
    """Each listener of the effective configuration is on all interfaces and declared as a
    containerPort; the containerPorts are exactly the role's listeners."""
    listeners = {"gateway": ["otlp_grpc", "otlp_http", "health"],
                 "receiver": ["flight", "health"]}
    for key in (GATEWAY, RECEIVER):
        config = effective[key]
        role = role_of(manifests[key])
        wanted = {port_of(config["listen"][name]) for name in listeners[role]}
        wanted.add(config["monitoring"]["metrics_port"])
        for name in listeners[role]:
            assert config["listen"][name].startswith("0.0.0.0:"), (key, name)
        assert config["monitoring"]["metrics_host"] == "0.0.0.0"
        declared = {p["containerPort"] for p in container(manifests[key])["ports"]}
        assert declared == wanted, key


def test_prometheus_scrape_annotations(manifests, effective, program_defaults):
    for key in (GATEWAY, RECEIVER):
        annotations = manifests[key]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == effective[key]["monitoring"]["metrics_port"]
        assert int(annotations["prometheus.io/port"]) == \
            program_defaults["monitoring"]["metrics_port"]


def test_the_configuration_starts_each_role(manifests, config_file, otlp_arrow_bin, tmp_path):
    """Each workload's role runs on the ConfigMap and its environment (listeners moved to free
    loopback ports), and serves the probes' paths: what the banner names and what answers."""
    for key in (GATEWAY, RECEIVER):
        c = container(manifests[key])
        role = role_of(manifests[key])
        data_dir = tmp_path / role if role == "receiver" else None
        with Service(otlp_arrow_bin, role, "--config", str(config_file),
                     data_dir=data_dir, env=container_env(manifests[key])) as service:
            banner = service.output
            for probe in ("livenessProbe", "readinessProbe"):
                path = c[probe]["httpGet"]["path"]
                assert re.search(rf"http://\S+{path}\b", banner), (path, banner)
                status, body, _ = service.get(path)
                assert status == 200, (key, path, status, body)
            status, body, _ = service.get("/metrics")
            assert status == 200 and "process_resident_memory_bytes" in body
            assert service.stop() == 0, service.output


def test_termination_grace_covers_the_drain(manifests, effective):
    for key in (GATEWAY, RECEIVER):
        spec = manifests[key]["spec"]["template"]["spec"]
        pre_stop = 0
        hook = container(manifests[key]).get("lifecycle", {}).get("preStop")
        if hook:
            command = hook["exec"]["command"]
            assert command[0] == "sleep", command
            pre_stop = float(command[1])
        config = effective[key]
        # Running OTLP calls wait up to enqueue_timeout_ms for queue room, then the queue
        # drains for up to shutdown_timeout_ms; 5 s left for the store to publish and exit.
        drain_s = (config["shutdown_timeout_ms"] + config["enqueue_timeout_ms"]) / 1000
        grace = spec["terminationGracePeriodSeconds"]
        assert grace >= pre_stop + drain_s + 5, (key, grace, pre_stop, drain_s)


def test_security_context(manifests):
    runtime_user = parse_dockerfile().stage("runtime").one("USER").args.split(":")[0]
    for key in (GATEWAY, RECEIVER):
        pod = manifests[key]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == int(runtime_user) != 0
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        csc = container(manifests[key])["securityContext"]
        assert csc["readOnlyRootFilesystem"] is True
        assert csc["allowPrivilegeEscalation"] is False
        assert csc.get("privileged", False) is False
        assert csc["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container(manifests[key])["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp"


def test_receiver_statefulset(manifests, effective):
    receiver = manifests[RECEIVER]
    spec = receiver["spec"]
    assert receiver["apiVersion"] == "apps/v1"
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in container(receiver)["volumeMounts"]}
    # The data directory (Parquet and write-ahead log) is on the PersistentVolumeClaim.
    data_dir = effective[RECEIVER]["receiver"]["data_dir"]
    on_claim = [name for name, path in mounts.items()
                if name in claims and (data_dir + "/").startswith(path.rstrip("/") + "/")]
    assert on_claim, f"receiver.data_dir {data_dir} is not on a volumeClaimTemplate: {mounts}"
    claim = claims[on_claim[0]]["spec"]
    assert claim["accessModes"] == ["ReadWriteOnce"]
    assert parse_quantity(claim["resources"]["requests"]["storage"]) >= 2**30
    # The volume is writable by the program's group.
    assert spec["template"]["spec"]["securityContext"]["fsGroup"] == \
        spec["template"]["spec"]["securityContext"]["runAsGroup"]
    # The governing Service is headless.
    governing = manifests[("Service", spec["serviceName"])]
    assert governing["spec"]["clusterIP"] == "None"


def test_arrow_flight_service_reaches_the_receiver(manifests, effective):
    """grpc://arrow-flight-service:8815, the gateway's endpoint, ends at the receiver's Flight
    listener."""
    host, port = effective[GATEWAY]["endpoint"].split("//")[1].split(":")
    service = manifests[("Service", host)]
    pod_labels = manifests[RECEIVER]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ports = [p for p in service["spec"]["ports"] if p["port"] == int(port)]
    assert len(ports) == 1, service["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in container(manifests[RECEIVER])["ports"]}
    target = ports[0]["targetPort"]
    target_port = named[target] if isinstance(target, str) else target
    assert target_port == port_of(effective[RECEIVER]["listen"]["flight"])


def test_gateway_service_reaches_the_otlp_listeners(manifests, effective):
    service = manifests[("Service", "otlp-arrow-service")]
    pod_labels = manifests[GATEWAY]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    named = {p["name"]: p["containerPort"] for p in container(manifests[GATEWAY])["ports"]}
    targets = {p["port"]: named[p["targetPort"]] for p in service["spec"]["ports"]}
    listen = effective[GATEWAY]["listen"]
    assert targets[4317] == port_of(listen["otlp_grpc"])
    assert targets[4318] == port_of(listen["otlp_http"])


def test_hpa(manifests):
    hpa = manifests[("HorizontalPodAutoscaler", "otlp-arrow-hpa")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == GATEWAY
    assert hpa["spec"]["minReplicas"] == manifests[GATEWAY]["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    utilization = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
                   for m in hpa["spec"]["metrics"] if m["type"] == "Resource"}
    assert utilization == {"cpu": 70, "memory": 80}


def test_resources(manifests, effective):
    for key in (GATEWAY, RECEIVER):
        resources = container(manifests[key])["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= resources[kind].keys(), (key, kind)
        for r in ("cpu", "memory"):
            assert parse_quantity(resources["requests"][r]) <= parse_quantity(resources["limits"][r])
    # The gateway's memory bound of docs/operations.md ("Memory") fits its memory limit:
    # 2 x buffer_bytes + 2 x limits.max_inflight_bytes + 128 MiB.
    limit = parse_quantity(container(manifests[GATEWAY])["resources"]["limits"]["memory"])
    gateway = effective[GATEWAY]
    assert limit >= (2 * gateway["buffer_bytes"] + 2 * gateway["limits"]["max_inflight_bytes"]
                     + 128 * 2**20)


def test_pod_disruption_budgets(manifests):
    for key in (GATEWAY, RECEIVER):
        labels = manifests[key]["spec"]["template"]["metadata"]["labels"]
        budgets = [doc for (kind, _), doc in manifests.items() if kind == "PodDisruptionBudget"
                   and doc["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(budgets) == 1, key
        assert budgets[0]["apiVersion"] == "policy/v1"
        # One pod at a time: never a budget that blocks every drain (minAvailable = replicas).
        assert budgets[0]["spec"].get("maxUnavailable") == 1


def test_image_is_this_version(manifests, program_version):
    for key in (GATEWAY, RECEIVER):
        assert container(manifests[key])["image"] == f"otlp-arrow:{program_version}"
