# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the interop tests: the otlp-arrow binary and the data its demo writes."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_SPANS = 5000


# otlp_arrow_bin: tests/conftest.py


@pytest.fixture(scope="session")
def demo_data(otlp_arrow_bin, tmp_path_factory):
    """demo_data(workload) -> the data dir of one `otlp-arrow demo` run of that workload.

    Each workload runs once per session; the readers only read, so tests may share it.
    """
    data_dirs = {}

    def make(workload: str) -> Path:
        if workload not in data_dirs:
            data_dir = tmp_path_factory.mktemp(f"demo-{workload}")
            command = [str(otlp_arrow_bin), "demo", "--data-dir", str(data_dir),
                       "--spans", str(DEMO_SPANS), "--workload", workload]
            run = subprocess.run(command, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, (
                f"{' '.join(command)} exited {run.returncode}\n{run.stdout}\n{run.stderr}")
            assert "round trip: OK" in run.stdout, run.stdout
            data_dirs[workload] = data_dir
        return data_dirs[workload]

    return make
