# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the deployment tests: the program, and what it says about itself."""

import re

import pytest

from deploy_util import REPO, effective_config, run


# otlp_arrow_bin: tests/conftest.py


@pytest.fixture(scope="session")
def program_defaults(otlp_arrow_bin, tmp_path_factory) -> dict:
    """The program's default configuration: `--print-config` on an empty file (which means
    the defaults) with no configuration variable set."""
    empty = tmp_path_factory.mktemp("defaults") / "empty.yaml"
    empty.write_text("")
    return effective_config(otlp_arrow_bin, "gateway", empty)


@pytest.fixture(scope="session")
def default_config_path(otlp_arrow_bin) -> str:
    """Where the services look for their file when --config is not given (from --help)."""
    text = run([otlp_arrow_bin, "gateway", "--help"]).stdout
    m = re.search(r"else (/\S+\.yaml) when present", text)
    assert m, text
    return m.group(1)


@pytest.fixture(scope="session")
def program_version(otlp_arrow_bin) -> str:
    return run([otlp_arrow_bin, "--version"]).stdout.strip()
