# SPDX-License-Identifier: Apache-2.0
"""`otlp-arrow healthcheck`, the container image's HEALTHCHECK: exit 0 on HTTP 2xx, 1 with a
one-line reason otherwise, and never 2 (Docker reserves it)."""

import socket
import subprocess
import sys

from deploy_util import REPO, clean_env, run

sys.path.insert(0, str(REPO / "tests" / "interop"))
from otlp_service import Service, wait_for  # noqa: E402


def healthcheck(binary, *args, env=None) -> subprocess.CompletedProcess:
    return run([binary, "healthcheck", *args], env=clean_env(env), check=False, timeout=30)


def one_line_failure(result: subprocess.CompletedProcess, *fragments: str):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_health_and_ready_of_a_running_service(otlp_arrow_bin, tmp_path):
    with Service(otlp_arrow_bin, "all-in-one", data_dir=tmp_path) as service:
        for args, path in (((), "/health"), (("--ready",), "/ready")):
            result = healthcheck(otlp_arrow_bin, "--url", service.health, *args)
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith(f"{service.health}{path}: HTTP 200"), result.stdout
        # A path in --url is taken as given.
        one_line_failure(healthcheck(otlp_arrow_bin, "--url", service.health + "/nothing"),
                         f"{service.health}/nothing: HTTP 404")


def test_address_from_the_configuration(otlp_arrow_bin, tmp_path):
    """Without --url: listen.health of the configuration (file, then environment), a wildcard
    host read as 127.0.0.1."""
    with Service(otlp_arrow_bin, "all-in-one", data_dir=tmp_path) as service:
        port = service.health.rsplit(":", 1)[1]
        config = tmp_path / "config.yaml"
        config.write_text(f"listen:\n  health: 0.0.0.0:{port}\n")
        for env, args in (({}, ("--config", str(config))),
                          ({"OTLP_ARROW_CONFIG": str(config)}, ()),
                          ({"OTLP_ARROW_LISTEN_HEALTH": f"[::]:{port}"}, ())):
            result = healthcheck(otlp_arrow_bin, *args, env=env)
            assert result.returncode == 0, (env, args, result.stderr)
            assert result.stdout.startswith(f"http://127.0.0.1:{port}/health: HTTP 200")


def test_not_ready_is_unhealthy_for_ready_only(otlp_arrow_bin):
    """A gateway whose receiver is down: alive (/health 200) but not ready (/ready 503), and
    --ready says why."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    with Service(otlp_arrow_bin, "gateway", "--endpoint", f"grpc://127.0.0.1:{dead_port}",
                 "--max-retries", "0", "--flush-interval-ms", "10") as service:
        grpc = service.otlp_grpc
        run([otlp_arrow_bin, "loadgen", "--endpoint", grpc, "--rate", "200", "--duration", "1"],
            check=False, timeout=60)
        wait_for(lambda: service.ready() == 503, 30, "/ready 503 with the receiver down")
        assert healthcheck(otlp_arrow_bin, "--url", service.health).returncode == 0
        one_line_failure(healthcheck(otlp_arrow_bin, "--ready", "--url", service.health),
                         f"{service.health}/ready: HTTP 503", '"upstream"')


def test_nothing_listening(otlp_arrow_bin):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    one_line_failure(healthcheck(otlp_arrow_bin, "--url", f"http://127.0.0.1:{port}"),
                     f"http://127.0.0.1:{port}/health", "cannot connect")


def test_no_answer_within_the_timeout(otlp_arrow_bin):
    """A listener that takes the connection and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        result = healthcheck(otlp_arrow_bin, "--url", f"http://127.0.0.1:{port}",
                             "--timeout-ms", "300")
    one_line_failure(result, "no answer within 300 ms")


def test_bad_input_is_unhealthy_not_a_crash(otlp_arrow_bin, tmp_path):
    one_line_failure(healthcheck(otlp_arrow_bin, "--url", "https://127.0.0.1:8080"),
                     "--url must be http://HOST:PORT[/PATH]")
    one_line_failure(healthcheck(otlp_arrow_bin, "--url", "http://"), "--url must be")
    one_line_failure(healthcheck(otlp_arrow_bin, "--config", str(tmp_path / "missing.yaml")),
                     "configuration:", "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("listen:\n  health: nonsense\n")
    one_line_failure(healthcheck(otlp_arrow_bin, "--config", str(broken)), "listen.health")
    zero = tmp_path / "zero.yaml"
    zero.write_text("listen:\n  health: 127.0.0.1:0\n")
    one_line_failure(healthcheck(otlp_arrow_bin, "--config", str(zero)), "port 0", "--url")
