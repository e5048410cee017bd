# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the interop and the deployment tests."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def otlp_arrow_bin() -> Path:
    """build/otlp-arrow, or the program named by $OTLP_ARROW_BIN."""
    path = Path(os.environ.get("OTLP_ARROW_BIN", REPO / "build" / "otlp-arrow"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"no otlp-arrow program at {path}: build it or set OTLP_ARROW_BIN")
    return path
