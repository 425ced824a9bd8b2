"""ClickHouseSinkConfig: defaults, DSN resolution, and errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from pydantic import BaseModel
from tracesieve.sinks.clickhouse.config import ClickHouseSinkConfig

TESTDATA = Path(__file__).parent / "testdata"


def load(name: str) -> ClickHouseSinkConfig:
    return ClickHouseSinkConfig.model_validate(yaml.safe_load((TESTDATA / name).read_text()))


def error_of(data: dict[str, Any]) -> tuple[list[tuple[Any, ...]], str]:
    with pytest.raises(pydantic.ValidationError) as info:
        ClickHouseSinkConfig.model_validate(data)
    return [e["loc"] for e in info.value.errors()], str(info.value)


def test_defaults_resolve_the_data_folder_against_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = ClickHouseSinkConfig()
    assert cfg.dsn == f"chdb://{tmp_path}/tracesieve-data/chdb"
    assert cfg.is_embedded
    assert cfg.database == "tracesieve"
    assert (cfg.batch.max_items, cfg.batch.flush_interval_s) == (20_000, 0.2)
    assert (cfg.dedupe_window_s, cfg.fsync, cfg.ttl_days) == (3600.0, False, 0)


def test_valid_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load("valid.yaml")
    assert cfg.dsn == f"chdb://{tmp_path}/data/chdb"
    assert cfg.batch.max_items == 5000 and cfg.queue.max_items == 50_000
    assert cfg.fsync is True and cfg.ttl_days == 30


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("chdb:///srv/ts/chdb", "chdb:///srv/ts/chdb"),
        ("chdb://memory", "chdb://memory"),
        ("http://ch:8123", "http://ch:8123"),
        ("https://u:p@ch.example:8443", "https://u:p@ch.example:8443"),
        ("chdb://data/chdb?x=1", "chdb://{cwd}/data/chdb?x=1"),
    ],
)
def test_dsn_forms(dsn: str, expected: str) -> None:
    assert ClickHouseSinkConfig(dsn=dsn).dsn == expected.format(cwd=os.getcwd())


def test_batch_larger_than_queue_quotes_both_keys() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        load("batch_over_queue.yaml")
    assert "`batch.max_items` must be ≤ `queue.max_items` (got 5000 > 1000)" in str(info.value)


def test_unknown_key_is_named() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        load("unknown_key.yaml")
    assert [e["loc"] for e in info.value.errors()] == [("batch", "max_item")]


@pytest.mark.parametrize(
    ("data", "loc", "fragment"),
    [
        ({"dsn": "postgres://x"}, ("dsn",), "chdb://, http:// or https://"),
        ({"database": "drop table; x"}, ("database",), "plain identifier"),
        ({"batch": {"flush_interval_s": -1}}, ("batch", "flush_interval_s"), "greater than or equal"),
        ({"batch": {"max_items": 0}}, ("batch", "max_items"), "greater than or equal"),
        ({"ttl_days": -3}, ("ttl_days",), "greater than or equal"),
        ({"fsync": "sometimes"}, ("fsync",), "boolean"),
        ({"store_non_llm_spans": True}, ("store_non_llm_spans",), "Extra inputs"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, Any], loc: tuple[str, ...], fragment: str) -> None:
    locs, text = error_of(data)
    assert locs == [loc]
    assert fragment in text


def test_frozen() -> None:
    cfg = ClickHouseSinkConfig()
    with pytest.raises(pydantic.ValidationError):
        cfg.ttl_days = 3  # type: ignore[misc]


def test_every_field_is_described() -> None:
    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():
            if not info.description:
                missing.append(prefix + name)
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                missing += walk(annotation, f"{prefix}{name}.")
        return missing

    assert walk(ClickHouseSinkConfig, "") == []
