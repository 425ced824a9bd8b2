"""The normaliser's fast paths give what the plain way would: attribute decoding, message lists,
convention hints, id lookups, shared resource maps.

Each fast path is checked against a straightforward reference (walking the protobuf wrappers,
the general message path), on the shapes that take it and on the ones that must fall back.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from tracesieve.processors.normalise import NormaliseConfig, normalise_traces
from tracesieve.processors.normalise._anyvalue import Truncator, decode_attributes, stringify

from .normalise_testkit import any_value, normalise, one, trace_request


def _walk(v: AnyValue) -> Any:
    """The reference decoding: through the wrappers, one field at a time."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_walk(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _walk(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return bytes(v.bytes_value)
    return getattr(v, which)


def _reference(kvs: list[KeyValue], truncate: Truncator) -> tuple[dict[str, Any], dict[str, str]]:
    values = {kv.key: _walk(kv.value) for kv in kvs}
    strings = {k: str(x) if type(x) in (int, float) else truncate(stringify(x)) for k, x in values.items()}
    return values, strings


def _check(kvs: list[KeyValue], max_bytes: int = 65536) -> tuple[dict[str, Any], dict[str, str]]:
    truncate = Truncator(max_bytes)
    values, strings = decode_attributes(kvs, truncate)
    want_values, want_strings = _reference(kvs, truncate)
    # repr: the same keys in the same order, the same types (1 is not 1.0 nor True, -0.0 not 0.0)
    assert repr(values) == repr(want_values)
    assert repr(strings) == repr(want_strings)
    return values, strings


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def test_all_short_strings_share_one_dict() -> None:
    values, strings = _check([_kv("a", any_value("x")), _kv("b", any_value("y"))])
    assert values is strings


def test_every_kind_of_value_decodes_as_the_wrappers_say() -> None:
    empty_string = AnyValue()
    empty_string.string_value = ""
    empty_array = AnyValue()
    empty_array.array_value.SetInParent()
    values, strings = _check(
        [
            _kv("str", any_value("text")),
            _kv("int", any_value(412)),
            _kv("negative", any_value(-3)),
            _kv("zero", any_value(0)),
            _kv("double", any_value(0.7)),
            _kv("double zero", any_value(0.0)),
            _kv("minus zero", any_value(-0.0)),
            _kv("nan", any_value(float("nan"))),
            _kv("true", any_value(True)),
            _kv("false", any_value(False)),
            _kv("empty string", empty_string),
            _kv("unset", AnyValue()),
            _kv("bytes", any_value(b"\x00\xff")),
            _kv("empty bytes", any_value(b"")),
            _kv("map", any_value({"b": 1, "a": [True, None]})),
            _kv("empty array", empty_array),
            _kv("strings", any_value(["stop", "", "länge", "🚀"])),
            _kv("mixed", any_value(["stop", 1, 2.5, False])),
            _kv("nested", any_value([["a"], {"k": "v"}])),
            _kv("long item", any_value(["x" * 200])),
            _kv("many items", any_value([f"item {i}" for i in range(40)])),
        ]
    )
    assert values is not strings
    assert strings["strings"] == '["stop","","länge","🚀"]' and values["strings"] == [
        "stop",
        "",
        "länge",
        "🚀",
    ]
    assert (strings["zero"], strings["minus zero"], strings["false"], strings["unset"]) == (
        "0",
        "-0.0",
        "false",
        "",
    )


def test_a_repeated_key_keeps_its_last_value_in_its_first_place() -> None:
    kvs = [
        _kv("n", any_value(1)),
        _kv("s", any_value("first")),
        _kv("a", any_value(["x"])),
        _kv("n", any_value("now a string")),
        _kv("s", any_value(2)),
        _kv("a", any_value("plain")),
        _kv("t", any_value(True)),
        _kv("t", any_value("text")),
    ]
    values, strings = _check(kvs)
    assert list(strings.items()) == [("n", "now a string"), ("s", "2"), ("a", "plain"), ("t", "text")]
    assert values["s"] == 2


def test_long_values_are_cut_in_the_strings_only() -> None:
    values, strings = _check([_kv("big", any_value("é" * 200)), _kv("list", any_value(["y" * 100] * 3))], 256)
    assert values["big"] == "é" * 200 and strings["big"].endswith(" bytes]")
    assert len(strings["list"].encode()) <= 256 and values["list"] == ["y" * 100] * 3


def test_random_arrays_decode_as_the_wrappers_say() -> None:
    rng = random.Random(7)
    alphabet = 'ab\u00e9\u4e2d\U0001f600\n"\\'

    def item() -> AnyValue:
        r = rng.random()
        if r < 0.7:
            return any_value("".join(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 5, 30, 70)))))
        if r < 0.8:
            return any_value(rng.randrange(-2, 3))
        if r < 0.9:
            return AnyValue()
        return any_value(rng.random() < 0.5)

    for _ in range(500):
        array = AnyValue()
        array.array_value.SetInParent()
        array.array_value.values.extend(item() for _ in range(rng.choice((0, 1, 1, 2, 4))))
        _check([_kv("k", array)])


def _messages(*msgs: dict[str, Any]) -> str:
    return json.dumps(list(msgs))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "user", "parts": [{"type": "text", "content": "a"}]}, {"role": "user", "content": "a"}),
        (  # several text parts: joined
            {"role": "user", "parts": [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]},
            {"role": "user", "content": "a\nb"},
        ),
        ({"role": "user", "parts": []}, {"role": "user", "content": ""}),
        (  # a finish reason on an input message does not matter
            {"role": "assistant", "parts": [{"type": "text", "content": "a"}], "finish_reason": "stop"},
            {"role": "assistant", "content": "a"},
        ),
        (  # other shapes: the general path
            {"role": "user", "parts": [{"type": "text", "content": "a"}, {"type": "uri", "uri": "x"}]},
            {"role": "user", "content": "a"},
        ),
        (
            {"role": "user", "name": "bob", "parts": [{"type": "text", "content": "a"}]},
            {"role": "user", "content": "a", "name": "bob"},
        ),
        ({"role": "Human", "parts": [{"type": "text", "content": "a"}]}, {"role": "user", "content": "a"}),
        ({"role": "user", "content": "a"}, {"role": "user", "content": "a"}),
    ],
)
def test_input_messages_of_every_shape(message: dict[str, Any], expected: dict[str, Any]) -> None:
    plain = {"role": "system", "parts": [{"type": "text", "content": "s"}]}
    span = one({"gen_ai.operation.name": "chat", "gen_ai.input.messages": _messages(plain, message)})
    assert span.input_messages == [{"role": "system", "content": "s"}, expected]


def test_output_messages_take_their_finish_reasons_in_order() -> None:
    out = [
        {"role": "assistant", "parts": [{"type": "text", "content": "a"}], "finish_reason": "STOP"},
        {"role": "assistant", "parts": [{"type": "text", "content": "b"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "c"}], "finish_reason": "tool_calls"},
    ]
    span = one({"gen_ai.operation.name": "chat", "gen_ai.output.messages": _messages(*out)})
    assert [m["content"] for m in span.output_messages] == ["a", "b", "c"]
    assert (span.finish_reasons, span.output_text) == (["stop", "tool_call"], "a")


def test_finish_reason_arrays_of_any_items() -> None:
    span = one(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.response.finish_reasons": ["STOP", "tool_calls", 5, True, ""],
        }
    )
    assert span.finish_reasons == ["stop", "tool_call", "5"]


@pytest.mark.parametrize(
    ("scope", "name", "convention"),
    [
        ("langfuse-sdk", "span", "langfuse"),
        ("litellm", "span", "litellm"),
        ("other", "litellm_request", "litellm"),
        ("logfire", "span", "logfire"),
        ("pydantic-ai", "span", "logfire"),
        ("traceloop.tracer", "span", "openllmetry"),
        ("other", "span", "plain"),
    ],
)
def test_scope_and_name_hints(scope: str, name: str, convention: str) -> None:
    for _ in range(2):  # the second time from the per-scope cache
        assert one({"x": "1"}, scope=scope, name=name).convention == convention


def test_event_hints() -> None:
    db = ("db.query.result", {"db.query.result.id": "d1", "db.query.result.document": "text"})
    span = one({"x": "1"}, events=[db])
    assert (span.convention, span.kind, span.retrieved_documents) == (
        "openllmetry",
        "retrieval",
        [{"id": "d1", "score": None, "content": "text"}],
    )
    span = one({"x": "1"}, events=[("gen_ai.user.message", {"content": "hi"})])
    assert (span.convention, span.input_messages) == ("otel_genai", [{"role": "user", "content": "hi"}])


def test_ids_from_configured_keys_that_no_convention_knows() -> None:
    config = NormaliseConfig(session_id_keys=("app.thread", "session.id"), user_id_keys=("app.customer",))
    request = trace_request(
        {"attrs": {"gen_ai.operation.name": "chat", "app.thread": '"t-1"'}},
        {"attrs": {"session.id": "s-2"}},
        resource={"service.name": "svc", "app.customer": "c-9"},
    )
    spans, _, _ = normalise_traces(request, config)
    assert [(s.session_id, s.user_id) for s in spans] == [("t-1", "c-9"), ("s-2", "c-9")]


def test_the_spans_of_a_resource_share_its_attribute_map() -> None:
    # Nothing downstream mutates it: one map per resource, not one copy per span.
    first, second = normalise({"name": "a"}, {"name": "b"}, resource={"service.name": "svc", "n": 3})
    assert first.resource_attributes == {"service.name": "svc", "n": "3"}
    assert first.resource_attributes is second.resource_attributes
