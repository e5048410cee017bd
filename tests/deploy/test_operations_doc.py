# SPDX-License-Identifier: Apache-2.0
"""docs/operations.md names metrics, configuration keys and commands for operators to act on:
each must exist in the program, so that the guide cannot drift from it unnoticed."""

import re
import sys

from deploy_util import REPO, run

sys.path.insert(0, str(REPO / "tests" / "interop"))
from otlp_service import Service  # noqa: E402

DOC = REPO / "docs" / "operations.md"


def flatten(config: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in config.items():
        if isinstance(value, dict):
            keys |= flatten(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


def test_metrics_named_in_the_guide_are_exported(otlp_arrow_bin, tmp_path):
    named = set(re.findall(r"\b((?:otlp_arrow|process)_[a-z_]+)", DOC.read_text()))
    assert len(named) > 15, named
    with Service(otlp_arrow_bin, "all-in-one", data_dir=tmp_path) as service:
        exported = {name for (name, _) in service.metrics().samples}
        service.stop()
    # A histogram is exported as NAME_bucket, NAME_sum and NAME_count.
    missing = {n for n in named if n not in exported and n + "_bucket" not in exported
               and n.removesuffix("_bucket") + "_bucket" not in exported}
    assert not missing, f"docs/operations.md names metrics the program does not export: {missing}"


def test_configuration_keys_named_in_the_guide_exist(program_defaults):
    keys = flatten(program_defaults)
    tokens = set(re.findall(r"`([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+|[a-z]+_[a-z0-9_]+)`",
                            DOC.read_text()))
    candidates = {t for t in tokens
                  if not t.startswith(("otlp_arrow_", "process_", "container_", "lib"))
                  and not re.search(r"\.(yaml|md|crt|key|sh)$", t)}
    assert len(candidates) > 15, candidates
    unknown = candidates - keys
    assert not unknown, f"docs/operations.md names keys the configuration does not have: {unknown}"


def test_commands_in_the_guide_exist(otlp_arrow_bin):
    text = DOC.read_text()
    # Commands as typed: at the start of a code line, in backticks, after `--` or a quote.
    commands = set(re.findall(r"(?:^|`|-- |')otlp-arrow ([a-z][a-z-]*)", text, re.M))
    assert {"diagnose", "bench", "healthcheck"} <= commands, commands
    for command in commands:
        run([otlp_arrow_bin, command, "--help"])
    for script in set(re.findall(r"\bscripts/(\w+\.sh)", text)):
        assert (REPO / "scripts" / script).is_file(), script
