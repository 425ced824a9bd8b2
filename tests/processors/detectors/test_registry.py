"""The detector registry: every built-in registered, entry points found (never shadowing a built-in),
disabled detectors skipped, and per-scope overrides resolved most-specific-wins."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tracesieve.processors import detectors
from tracesieve.processors.detectors import (
    BUILTIN,
    Detector,
    DetectorConfig,
    DetectorFactory,
    build_detectors,
    registry,
)
from tracesieve.processors.detectors.base import scoped
from tracesieve.processors.detectors.low_retrieval_confidence import LowRetrievalConfidenceConfig

from ._factories import SESSION, documents, retrieval

_PLUGIN = """
from tracesieve.processors.detectors import Detector, DetectorConfig, DetectorFactory


class TooPolite(Detector):
    name = "too_polite"
    category = "unhelpful_answer"


class Config(DetectorConfig):
    pass


factory = DetectorFactory(name="too_polite", config_model=Config, create=lambda config: TooPolite())
shadow = DetectorFactory(name="error", config_model=Config, create=lambda config: TooPolite())
"""


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry.cache_clear()
    yield
    registry.cache_clear()


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None) -> Path:
    """A distribution installed on ``sys.path`` (a ``*.dist-info`` folder, as pip leaves it)
    declaring ``too_polite`` and a detector named like the built-in ``error``."""
    (tmp_path / "polite_plugin.py").write_text(_PLUGIN)
    info = tmp_path / "polite_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: polite-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [tracesieve.detectors]
            too_polite = polite_plugin:factory
            error = polite_plugin:shadow
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "polite_plugin", raising=False)
    return tmp_path


def test_every_builtin_is_registered_and_builds_with_its_defaults(fresh_registry: None) -> None:
    found = registry()
    assert list(found)[: len(BUILTIN)] == list(BUILTIN)
    for name in BUILTIN:
        factory = found[name]
        assert isinstance(factory, DetectorFactory)
        assert factory.name == name
        assert issubclass(factory.config_model, DetectorConfig)
        detector = factory.create(factory.config_model())
        assert isinstance(detector, Detector)
        assert (detector.name, bool(detector.category)) == (name, True)
        # Every setting is documented (`tracesieve config schema`) and has a default.
        for field_name, field in factory.config_model.model_fields.items():
            assert field.description, f"{name}.{field_name} has no description"
            assert not field.is_required(), f"{name}.{field_name} has no default"


def test_build_detectors_skips_disabled_ones(fresh_registry: None) -> None:
    configs = {
        "error": registry()["error"].config_model(enabled=False),
        "latency_outlier": registry()["latency_outlier"].config_model(factor=5),
    }
    built = build_detectors(configs)
    names = [d.name for d in built]
    assert "error" not in names
    assert names == [n for n in BUILTIN if n != "error"]
    [latency] = [d for d in built if d.name == "latency_outlier"]
    assert latency.config.factor == 5  # type: ignore[attr-defined]


def test_a_third_party_detector_is_found_through_its_entry_point(plugin: Path) -> None:
    found = registry()
    assert "too_polite" in found
    assert found["too_polite"].name == "too_polite"
    assert [d.name for d in build_detectors({})][-1] == "too_polite"


def test_an_entry_point_cannot_shadow_a_builtin(plugin: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=detectors.__name__):
        found = registry()
    assert found["error"].config_model.__module__ == "tracesieve.processors.detectors.error"
    assert "'error' ignored: a built-in has that name" in caplog.text


def test_overrides_resolve_most_specific_wins_whatever_their_order() -> None:
    config = LowRetrievalConfidenceConfig(
        min_score=0.5,
        overrides=[
            {"match": {"service": "shop", "index": "faq"}, "min_score": 0.2},
            {"match": {"index": "faq"}, "min_score": 0.3},
            {"match": {"service": "shop"}, "min_score": 0.4, "higher_is_better": True},
        ],
    )
    resolve = scoped(config)
    assert resolve("shop", "", "faq").min_score == 0.2
    assert resolve("bank", "", "faq").min_score == 0.3
    assert resolve("shop", "", "docs").min_score == 0.4
    assert resolve("bank", "", "docs") is config
    # The detector applies them per span: 0.25 is confident enough for shop/faq only.
    detector = registry()["low_retrieval_confidence"].create(config)
    faq = {"gen_ai.data_source.id": "faq"}
    assert (
        detector.on_span(retrieval(docs=documents(0.25), attributes=faq, service_name="shop"), SESSION) == ()
    )
    assert (
        detector.on_span(retrieval(docs=documents(0.25), attributes=faq, service_name="bank"), SESSION) != ()
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"match": {"index": "faq"}, "min_scor": 0.2}, r"overrides\[0\] has unknown field"),
        ({"match": {"index": "faq"}, "enabled": False}, r"overrides\[0\] may only set thresholds"),
        ({"match": {"indexx": "faq"}, "min_score": 0.2}, "indexx"),
        ({"match": {"index": "faq"}, "max_distance": -1.0}, "max_distance"),
    ],
)
def test_bad_overrides_are_rejected(override: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scoped(LowRetrievalConfidenceConfig(overrides=[override]))
