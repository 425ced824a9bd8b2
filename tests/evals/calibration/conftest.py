"""The seeded labels and verdicts of ``_seed.py`` for the calibration tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SEED_PATH = Path(__file__).with_name("_seed.py")


def _load_seed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibration_seed", SEED_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_data = _load_seed()


@pytest.fixture
def seed() -> ModuleType:
    """The ``_seed`` module: labelled cases and a judge's verdicts with known properties."""
    return seed_data
