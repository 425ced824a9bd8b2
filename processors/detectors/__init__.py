"""Failure-signal detectors, registered by name.

Every built-in detector is a module of this package exporting ``factory``
(:class:`~tracesieve.processors.detectors.base.DetectorFactory`); third-party ones are found
through the ``tracesieve.detectors`` entry-point group. :func:`registry` maps names to
factories; :func:`build_detectors` builds the enabled ones from the ``processors.detectors``
config section. See ``base.py`` for the interface and README.md for what each signal means.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from .base import Detector, DetectorConfig, DetectorFactory, make_signal, scoped, span_ref

__all__ = [
    "BUILTIN",
    "Detector",
    "DetectorConfig",
    "DetectorFactory",
    "build_detectors",
    "make_signal",
    "registry",
    "scoped",
    "span_ref",
]

_log = logging.getLogger(__name__)

BUILTIN = (
    "negative_feedback",
    "rephrase",
    "regenerate",
    "abandoned_session",
    "low_retrieval_confidence",
    "empty_retrieval",
    "ungrounded_answer",
    "refusal",
    "truncated",
    "error",
    "latency_outlier",
    "user_correction",
)

ENTRY_POINT_GROUP = "tracesieve.detectors"


@cache
def registry() -> Mapping[str, DetectorFactory[Any]]:
    """Every known detector factory by name: the built-ins, then entry points (which may not
    shadow a built-in)."""
    found: dict[str, DetectorFactory[Any]] = {}
    for name in BUILTIN:
        module = importlib.import_module(f"{__name__}.{name}")
        found[name] = module.factory
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            _log.warning("detector entry point %r ignored: a built-in has that name", ep.name)
            continue
        factory = ep.load()
        if not isinstance(factory, DetectorFactory):
            raise TypeError(f"entry point {ep.value!r} is not a DetectorFactory")
        found[ep.name] = factory
    return found


def build_detectors(configs: Mapping[str, DetectorConfig]) -> list[Detector]:
    """The enabled detectors, in registry order; ``configs`` holds validated per-name configs
    (a name without one gets its defaults)."""
    detectors: list[Detector] = []
    for name, factory in registry().items():
        config = configs.get(name) or factory.config_model()
        if config.enabled:
            detectors.append(factory.create(config))
    return detectors
