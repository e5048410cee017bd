# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile, checked without a Docker engine (none runs where CI does).

- The builder stage builds with the scripts CI runs (scripts/setup.sh, scripts/build.sh).
- The runtime stage provides every shared library the program loads: `ldd build/otlp-arrow`,
  each library that Debian installed mapped to its package with `dpkg -S`, each package found
  in the runtime stage's `apt-get install` (or pulled in by one of them, or part of every Debian
  system), and each Arrow library from .deps/arrow copied by name.
- Ports, HEALTHCHECK, user, environment and the baked-in configuration agree with the program.
"""

import fnmatch
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from deploy_util import (IMAGE_CONFIG, REPO, clean_env, effective_config, exec_form,
                         load_manifests, parse_dockerfile, port_of, run, run_flags)

sys.path.insert(0, str(REPO / "tests" / "interop"))
from otlp_service import Service  # noqa: E402

ARROW_LIB_DIR = ".deps/arrow/lib/"


@pytest.fixture(scope="module")
def dockerfile():
    return parse_dockerfile()


@pytest.fixture(scope="module")
def builder(dockerfile):
    return dockerfile.stage("builder")


@pytest.fixture(scope="module")
def runtime(dockerfile):
    return dockerfile.stage("runtime")


def image_env(runtime) -> dict:
    env = {}
    for instruction in runtime.all("ENV"):
        for word in re.findall(r'(\w+)=("[^"]*"|\S+)', instruction.args):
            env[word[0]] = word[1].strip('"')
    return env


# ---------------------------------------------------------------------------------------------
# Builder.

def script_calls(text: str) -> list[str]:
    return re.findall(r"\./scripts/(\w+\.sh)", text)


def test_builder_runs_the_scripts_ci_runs(builder):
    ci = (REPO / ".ci" / "run").read_text()
    assert "./scripts/test.sh" in ci
    ci_calls = script_calls((REPO / "scripts" / "test.sh").read_text())
    runs = [run_flags(i.args) for i in builder.all("RUN")]
    calls = [c for words in runs for c in script_calls(" ".join(words))]
    assert calls[:2] == ["setup.sh", "build.sh"], calls
    assert {"setup.sh", "build.sh"} <= set(ci_calls)
    # ... and nothing else installs or compiles behind their back.
    for words in runs:
        text = " ".join(words)
        for tool in ("apt-get", "apt ", "pip", "cmake", "ninja", "make ", "g++", "curl", "wget"):
            assert tool not in text, f"builder RUN {text!r} uses {tool} itself"
    # The image needs no test peers.
    setup_run = next(" ".join(w) for w in runs if "setup.sh" in " ".join(w))
    assert "--test-peers" not in setup_run


def test_builder_copies_setup_script_before_running_it(builder):
    order = [(i.keyword, i.args) for i in builder.instructions if i.keyword in ("COPY", "RUN")]
    first_copy = next(n for n, (k, a) in enumerate(order) if k == "COPY")
    first_setup = next(n for n, (k, a) in enumerate(order) if k == "RUN" and "setup.sh" in a)
    assert first_copy < first_setup
    assert "scripts/setup.sh" in order[first_copy][1]


def test_base_image_is_debian_12_slim(dockerfile):
    bases = {dockerfile.resolve(s.base) for s in dockerfile.stages}
    assert len(bases) == 1, f"builder and runtime on different bases: {bases}"
    base = bases.pop()
    assert re.fullmatch(r"debian:(bookworm|12)-slim(@sha256:[0-9a-f]{64})?", base), base


# ---------------------------------------------------------------------------------------------
# Shared libraries: what the program loads against what the runtime stage installs.

def runtime_packages(runtime) -> list[str]:
    runs = [i.args for i in runtime.all("RUN") if "apt-get install" in i.args]
    assert len(runs) == 1, runs
    words = runs[0].split("apt-get install", 1)[1].split("&&")[0].split()
    return [w for w in words if not w.startswith("-")]


def copied_arrow_libraries(builder) -> set[str]:
    text = " ".join(i.args for i in builder.all("RUN"))
    return set(re.findall(re.escape(ARROW_LIB_DIR) + r"(lib\S+?\.so\.\d+)", text))


def owners(paths) -> dict[str, str]:
    """path → the Debian package that installed it (looked up as given, resolved, and with
    or without the /usr prefix of Debian 12's merged /usr), in one `dpkg -S` call."""
    candidates = {}
    for path in paths:
        resolved = str(Path(path).resolve())
        for c in (path, resolved, re.sub(r"^/usr", "", resolved), re.sub(r"^/usr", "", path),
                  "/usr" + path):
            candidates.setdefault(c, set()).add(path)
    result = subprocess.run(["dpkg", "-S", *candidates], capture_output=True, text=True)
    found = {}
    for line in result.stdout.splitlines():
        package, _, file = line.partition(": ")
        for path in candidates.get(file.strip(), ()):
            found[path] = package.split(":")[0].split(",")[0].strip()
    missing = set(paths) - found.keys()
    assert not missing, f"no Debian package owns {sorted(missing)}"
    return found


@lru_cache(maxsize=None)
def installed_packages() -> dict[str, tuple[bool, tuple[str, ...]]]:
    """Every package installed here → (Essential, its Depends and Pre-Depends: the first
    alternative of each, names of packages not installed here, e.g. virtual ones, dropped)."""
    out = run(["dpkg-query", "-W",
               "-f=${Package}\t${Status}\t${Essential}\t${Depends}, ${Pre-Depends}\n"]).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    rows = [r for r in rows if len(r) == 4 and r[1].endswith("install ok installed")]
    names = {r[0] for r in rows}
    packages = {}
    for name, _, essential, depends in rows:
        wanted = []
        for clause in depends.split(","):
            first = clause.split("|")[0].strip()
            if first:
                dependency = first.split()[0].split(":")[0]
                if dependency in names:
                    wanted.append(dependency)
        packages[name] = (essential == "yes", tuple(wanted))
    return packages


def closure(packages) -> set[str]:
    installed = installed_packages()
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p not in seen:
            assert p in installed, f"{p} is not installed here (a Debian 12 package name?)"
            seen.add(p)
            todo.extend(installed[p][1])
    return seen


def essential_packages() -> set[str]:
    """Debian's Essential: yes packages: on every Debian system, slim images included."""
    return {name for name, (essential, _) in installed_packages().items() if essential}


def ldd(binary: Path) -> dict[str, str]:
    """soname → resolved path of every library the program loads."""
    out = run(["ldd", binary]).stdout
    assert "not found" not in out, out
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            libs[m.group(1)] = m.group(2)
        elif m := re.match(r"\s*(/\S+) \(", line):  # the dynamic loader
            libs[Path(m.group(1)).name] = m.group(1)
    assert libs, out
    return libs


def needed(binary: Path) -> set[str]:
    out = run(["readelf", "-d", binary]).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out))


def test_runtime_stage_provides_every_shared_library(otlp_arrow_bin, builder, runtime):
    libs = ldd(otlp_arrow_bin)
    from_arrow = {name for name, path in libs.items() if ARROW_LIB_DIR in path}
    assert from_arrow, "the program loads no Arrow library from .deps/arrow?"
    copied = copied_arrow_libraries(builder)
    assert from_arrow == copied, (
        f"Arrow libraries loaded {sorted(from_arrow)}, copied into the image {sorted(copied)}")

    installed = runtime_packages(runtime)
    for package in installed:
        assert not package.endswith("-dev"), f"{package}: a development package at run time"
    base = essential_packages()
    available = closure(set(installed) | base)
    system = {name: path for name, path in libs.items() if ARROW_LIB_DIR not in path}
    by_path = owners(system.values())
    owners_of = {name: by_path[path] for name, path in system.items()}
    missing = {name: pkg for name, pkg in owners_of.items() if pkg not in available}
    assert not missing, f"libraries whose package the runtime stage does not install: {missing}"

    # What the program and the Arrow libraries link directly is installed by name, not by
    # the accident of another package's dependencies.
    direct = needed(otlp_arrow_bin)
    for arrow in from_arrow:
        direct |= needed(Path(libs[arrow]))
    for name in direct - from_arrow:
        assert owners_of[name] in set(installed) | closure(base), (
            f"{name} ({owners_of[name]}) is linked directly: list it in the runtime stage")

    # And nothing stale: each installed package provides a library, except the CA roots.
    used = set(owners_of.values())
    for package in installed:
        assert package in used or package == "ca-certificates", \
            f"{package}: installed in the runtime stage, but the program loads none of it"


def test_runtime_stage_loads_the_arrow_libraries_by_ldconfig(runtime):
    """The program's RUNPATH names the builder's .deps; the image registers the directory the
    Arrow libraries are copied to with the dynamic loader."""
    copy = next(i.args for i in runtime.all("COPY") if "/out/lib" in i.args)
    lib_dir = copy.split()[-1].rstrip("/")
    registered = " ".join(i.args for i in runtime.all("RUN"))
    assert f"echo {lib_dir} > /etc/ld.so.conf.d/" in registered
    assert "ldconfig" in registered


# ---------------------------------------------------------------------------------------------
# Runtime stage against the program.

def test_expose_is_every_default_port(runtime, program_defaults):
    exposed = {int(p.split("/")[0]) for i in runtime.all("EXPOSE") for p in i.args.split()}
    listen = program_defaults["listen"]  # "" is a listener that is off by default
    wanted = {port_of(a) for a in listen.values() if a} | {
        program_defaults["monitoring"]["metrics_port"]}
    assert exposed == wanted


def test_user_is_not_root(runtime):
    user = runtime.one("USER").args
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: numeric, so runAsNonRoot can check it"
    assert gid.isdigit() and int(gid) != 0
    setup = " ".join(i.args for i in runtime.all("RUN"))
    assert f"--uid {uid}" in setup and f"--gid {gid}" in setup
    # Kubernetes runs the pods as the same user.
    for (kind, _), doc in load_manifests().items():
        if kind in ("Deployment", "StatefulSet"):
            assert doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_no_shell_tools_for_the_healthcheck(runtime):
    healthcheck = runtime.one("HEALTHCHECK").args
    command = exec_form(healthcheck.split("CMD", 1)[1])
    assert command[:2] == ["otlp-arrow", "healthcheck"], command
    assert "curl" not in runtime_packages(runtime) and "wget" not in runtime_packages(runtime)
    for option in ("--interval", "--timeout", "--retries"):
        assert option in healthcheck


def test_entrypoint_and_default_command(runtime, otlp_arrow_bin):
    assert exec_form(runtime.one("ENTRYPOINT").args) == ["otlp-arrow"]
    command = exec_form(runtime.one("CMD").args)
    run([otlp_arrow_bin, *command, "--help"])  # an existing subcommand


def test_image_environment(runtime, dockerfile):
    env = image_env(runtime)
    assert env["ARROW_FLIGHT_ENDPOINT"] == "grpc://arrow-flight-service:8815"
    config_map = yaml.safe_load(
        load_manifests()[("ConfigMap", "otlp-arrow-config")]["data"]["config.yaml"])
    assert env["ARROW_FLIGHT_ENDPOINT"] == config_map["endpoint"]


def test_image_configuration(runtime, otlp_arrow_bin, program_defaults, default_config_path):
    copy = [i.args.split() for i in runtime.all("COPY") if "deploy/docker/config.yaml" in i.args]
    assert copy == [["deploy/docker/config.yaml", default_config_path]]
    result = run([otlp_arrow_bin, "config", "check", IMAGE_CONFIG])
    assert "config OK" in result.stdout and "warning" not in result.stdout + result.stderr
    config = effective_config(otlp_arrow_bin, "all-in-one", IMAGE_CONFIG, image_env(runtime))
    # The defaults' ports, on all interfaces.
    for name, address in config["listen"].items():
        if not program_defaults["listen"][name]:
            assert not address, name  # off by default, and in the image
            continue
        assert address == "0.0.0.0:" + str(port_of(program_defaults["listen"][name])), name
    assert config["monitoring"]["metrics_host"] == "0.0.0.0"
    # The data directory is under the image's volume and working directory, which belong to
    # the image's user.
    volume = exec_form(runtime.one("VOLUME").args)
    assert len(volume) == 1
    assert config["receiver"]["data_dir"].startswith(volume[0] + "/")
    assert runtime.one("WORKDIR").args == volume[0]
    setup = " ".join(i.args for i in runtime.all("RUN"))
    uid = runtime.one("USER").args.split(":")[0]
    assert f"install -d -o {uid} -g" in setup and setup.rstrip().find(volume[0]) >= 0
    # `docker stop` waits 10 s before SIGKILL: the drain fits.
    assert config["shutdown_timeout_ms"] + config["enqueue_timeout_ms"] < 10000


def test_healthcheck_command_of_the_image(runtime, otlp_arrow_bin, tmp_path):
    """The image's HEALTHCHECK command, run with the image's environment and configuration
    against the service that configuration starts: healthy while it runs, not once stopped."""
    command = exec_form(runtime.one("HEALTHCHECK").args.split("CMD", 1)[1])
    argv = [str(otlp_arrow_bin), *command[1:]]
    with Service(otlp_arrow_bin, "all-in-one", "--config", str(IMAGE_CONFIG),
                 data_dir=tmp_path) as service:
        port = service.health.rsplit(":", 1)[1]
        # The container's view: the configuration file, listen.health on 0.0.0.0.
        env = clean_env(image_env(runtime) | {"OTLP_ARROW_CONFIG": str(IMAGE_CONFIG),
                                              "OTLP_ARROW_LISTEN_HEALTH": f"0.0.0.0:{port}"})
        healthy = run(argv, env=env, check=False)
        assert healthy.returncode == 0, healthy.stderr
        assert f"http://127.0.0.1:{port}/health: HTTP 200" in healthy.stdout
        assert service.stop() == 0
    stopped = run(argv, env=env, check=False)
    assert stopped.returncode == 1
    assert "cannot connect" in stopped.stderr


def test_dockerignore(builder, runtime):
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for required in (".git", ".deps", "build", "build-*", "data"):
        assert required in patterns, f".dockerignore does not exclude {required}"

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/")
                   for p in patterns)

    # Everything the build copies from the context is sent.
    for instruction in builder.all("COPY") + runtime.all("COPY"):
        if "--from=" in instruction.args:
            continue
        for source in instruction.args.split()[:-1]:
            if source != ".":
                assert not ignored(source), f"COPY {source} but .dockerignore drops it"
    for tracked in ("CMakeLists.txt", "cmake/ArrowWheel.cmake", "src/cli/main.cc",
                    "include/otlp_arrow/config/service_config.h", "scripts/build.sh",
                    "third_party/opentelemetry-proto"):
        assert (REPO / tracked).exists(), tracked
        assert not ignored(tracked), f"{tracked} is needed by the build"
