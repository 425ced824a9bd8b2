"""The ``processors.detectors`` config section: one sub-section per registered detector.

Built from the registry, so a third-party detector's settings are validated (and documented by
``tracesieve config schema``) like a built-in's::

    processors:
      detectors:
        latency_outlier: {factor: 4, overrides: [{match: {model: gpt-4o-mini}, factor: 5}]}
        low_retrieval_confidence: {overrides: [{match: {index: faq}, min_score: 0.3}]}
        user_correction: {enabled: false}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from . import registry
from .base import DetectorConfig, scoped

__all__ = ["DetectorsConfig", "detector_configs"]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _check_overrides(self) -> _Base:
        for name in type(self).model_fields:
            try:
                scoped(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"`processors.detectors.{name}.{exc}`") from None
        return self


def _build() -> type[_Base]:
    fields: dict[str, Any] = {}
    for name, factory in registry().items():
        module_doc = (
            factory.create.__module__ and __import__(factory.create.__module__, fromlist=["_"]).__doc__
        ) or ""
        summary = module_doc.strip().splitlines()[0] if module_doc.strip() else f"The {name} detector."
        fields[name] = (
            factory.config_model,
            Field(default_factory=factory.config_model, description=summary),
        )
    model: type[_Base] = create_model("DetectorsConfig", __base__=_Base, **fields)
    model.__doc__ = "Per-detector settings; every detector is on by default."
    return model


DetectorsConfig = _build()


def detector_configs(section: BaseModel) -> dict[str, DetectorConfig]:
    """The validated per-detector configs of a ``DetectorsConfig`` instance, by name."""
    return {name: getattr(section, name) for name in type(section).model_fields}
