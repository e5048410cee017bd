# SPDX-License-Identifier: Apache-2.0
"""Helpers of the deployment tests: the manifests of deploy/k8s, the Dockerfile's stages, and
the program's view of a configuration (`--print-config`), so that the tests compare the
deployment files with what the program itself says rather than with numbers written twice."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
DOCKERFILE = REPO / "Dockerfile"
IMAGE_CONFIG = REPO / "deploy" / "docker" / "config.yaml"

# Variables that would change the configuration the program reads.
_CONFIG_ENV_PREFIXES = ("OTLP_ARROW_",)
_CONFIG_ENV = ("ARROW_FLIGHT_ENDPOINT", "BATCH_SIZE", "FLUSH_INTERVAL_MS", "BUFFER_SIZE")


def clean_env(extra: dict | None = None) -> dict:
    """The environment without any variable the program reads as configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_CONFIG_ENV_PREFIXES) and k not in _CONFIG_ENV}
    env.update(extra or {})
    return env


def run(command: list[str], env: dict | None = None, timeout: float = 60,
        check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                            env=env if env is not None else clean_env(), timeout=timeout)
    if check:
        assert result.returncode == 0, (
            f"{shlex.join(str(c) for c in command)} exited {result.returncode}\n"
            f"{result.stdout}\n{result.stderr}")
    return result


def effective_config(binary: Path, role: str, config_file: Path,
                     env: dict | None = None) -> dict:
    """`otlp-arrow ROLE --config FILE --print-config` with `env` (and no other configuration
    variable) set: the configuration the program would run with."""
    result = run([binary, role, "--config", config_file, "--print-config"],
                 env=clean_env(env))
    return yaml.safe_load(result.stdout)


def port_of(address: str) -> int:
    """The port of `host:port` or `[v6]:port`."""
    return int(address.rsplit(":", 1)[1])


def host_of(address: str) -> str:
    return address.rsplit(":", 1)[0]


def load_manifests() -> dict[tuple[str, str], dict]:
    """(kind, name) → document, from every deploy/k8s/*.yaml but the kustomization."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = doc
    return objects


def parse_quantity(text) -> float:
    """A Kubernetes quantity (`512Mi`, `1Gi`, `500m`, `2`) as a number of bytes or cores."""
    text = str(text)
    suffixes = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6,
                "G": 1e9, "T": 1e12, "m": 1e-3}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# ---------------------------------------------------------------------------------------------
# The Dockerfile.

@dataclass
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    args: str     # the rest, continuation lines joined, comments removed
    line: int


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"stage {self.name}: {len(found)} {keyword} instructions"
        return found[0]


@dataclass
class Dockerfile:
    args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise AssertionError(f"no stage {name} in {[s.name for s in self.stages]}")

    def resolve(self, text: str) -> str:
        """${ARG} and $ARG replaced by the global ARGs' defaults."""
        for key, value in self.args.items():
            text = text.replace("${" + key + "}", value).replace("$" + key, value)
        return text


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    logical: list[tuple[int, str]] = []
    current, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not current:
            start = number
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append((start, current))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, text in logical:
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            assert m, f"Dockerfile:{number}: FROM {rest}"
            stages.append(Stage(base=m.group(1), name=m.group(2) or str(len(stages))))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"Dockerfile:{number}: {keyword} before FROM"
            stages[-1].instructions.append(Instruction(keyword, rest, number))
    return Dockerfile(args=args, stages=stages)


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    import json
    start = args.index("[")
    return json.loads(args[start:])


def run_flags(args: str) -> list[str]:
    """The words of a RUN, without its --mount=… flags."""
    return [w for w in shlex.split(args) if not w.startswith("--mount=")]
