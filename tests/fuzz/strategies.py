"""Hypothesis strategies: valid chat requests, and every way to spoil one."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from crossroads.chat_request import PARAMETERS, ROLES, ROUTER_FIELDS
from tests.fuzz.conftest import MODEL, QUANTIZATION

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
DATA_URI = f"data:image/png;base64,{PNG}"

# `[[sim:OUTCOME]]` in a prompt makes the simulator fail on purpose; fuzz text never says it.
SIM_MARKER = "[[sim:"

# --- JSON values of every shape ------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=40).filter(lambda s: SIM_MARKER not in s)
# Strings a provider or log might choke on: surrogates, NULs, controls, RTL marks, huge ones.
evil_text = st.one_of(
    text,
    st.sampled_from(["", "\x00", "\ud800", "\udfff", "a\ud83d", "\u202e", "\ufeff", "\r\n\r\n",
                     "%s%n", "'; DROP TABLE generations; --", "${HOME}", "../../etc/passwd",
                     "\U0010ffff", "Traceback", "null", "1e999"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "😀", "\x00"]),
              st.integers(1000, 20_000)),
)
FINITE = {"allow_nan": False, "allow_infinity": False}
integers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64,
                     -(2**63) - 1, 10**30]),
)
floats = st.one_of(
    st.floats(**FINITE),
    st.sampled_from([0.0, -0.0, 1e-320, 1.7976931348623157e308, -1e308, 0.5, 2.0000001]),
)


def _json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=12)


# Anything JSON can carry, strings that are not valid Unicode included.
json_values = _json(st.one_of(st.none(), st.booleans(), integers, floats, evil_text))
# What a well-behaved client sends: valid strings, integers orjson keeps as integers.
plain_json_values = _json(st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.floats(**FINITE), text))


def nested(depth: int, kind: str, leaf: Any = 1) -> Any:
    """A value `depth` containers deep (keep it under ~250: Python's json recursion)."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def deep_json(depth: int, kind: str) -> bytes:
    """The JSON text of `nested(depth, kind)`, at any depth."""
    if kind == "list":
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"k":' * depth + b"1" + b"}" * depth


DEEP = "@deep@"


def with_deep(template: Any, deep: bytes) -> bytes:
    """`template` as JSON with its one `DEEP` string replaced by raw JSON text."""
    raw = json.dumps(template).encode()
    assert raw.count(f'"{DEEP}"'.encode()) == 1
    return raw.replace(f'"{DEEP}"'.encode(), deep)

# --- valid requests ----------------------------------------------------------------------------

image_urls = st.one_of(
    st.just(DATA_URI),
    st.builds(lambda host, path: f"https://{host}/{path}.png",
              st.sampled_from(["example.com", "cdn.example.org"]),
              st.text("abcdefghij0123456789", min_size=1, max_size=10)),
    st.just("http://localhost/x.jpg"),
)
text_parts = st.builds(lambda t: {"type": "text", "text": t}, text)
image_parts = st.builds(
    lambda url, as_object, detail: {
        "type": "image_url",
        "image_url": ({"url": url, **({"detail": detail} if detail else {})}
                      if as_object else url)},
    image_urls, st.booleans(), st.sampled_from([None, "auto", "low", "high"]))
contents = st.one_of(text, st.lists(st.one_of(text_parts, image_parts), min_size=1, max_size=3),
                     st.none())
messages = st.lists(
    st.builds(lambda role, content: {"role": role, "content": content},
              st.sampled_from(sorted(ROLES)), contents),
    min_size=1, max_size=4)

tools = st.lists(st.builds(
    lambda name, props: {"type": "function", "function": {
        "name": name, "parameters": {"type": "object", "properties": {
            p: {"type": "string"} for p in props}, "required": props}}},
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
    st.lists(st.text("abcxyz", min_size=1, max_size=4), max_size=3, unique=True)),
    min_size=1, max_size=3)

percentiles = st.fixed_dictionaries({}, optional={
    name: st.floats(0, 1e6) for name in ("p50", "p75", "p90", "p99")})
provider_prefs = st.fixed_dictionaries({}, optional={
    # Alpha serves everything (text, images, every parameter), so a valid preference keeps it.
    "order": st.permutations(["alpha", "bravo", "charlie"]).map(lambda p: p[:2])
    .filter(lambda p: "alpha" in p) | st.just(["Alpha"]),
    "only": st.sampled_from([["alpha"], ["alpha", "bravo"], ["ALPHA", "charlie"]]),
    "ignore": st.sampled_from([[], ["charlie"], ["bravo"], ["no-such-provider"]]),
    "allow_fallbacks": st.booleans(),
    "require_parameters": st.booleans(),
    "data_collection": st.sampled_from(["allow", "deny"]),
    "quantizations": st.sampled_from([[QUANTIZATION], [QUANTIZATION.upper(), "int4"]]),
    "sort": st.sampled_from(["price", "throughput", "latency"])
    | st.fixed_dictionaries({"by": st.sampled_from(["price", "throughput", "latency"])},
                            optional={"partition": st.sampled_from(["model", "none"])}),
    "max_price": st.fixed_dictionaries({}, optional={
        name: st.floats(1, 1e6) for name in ("prompt", "completion")}),
    "preferred_min_throughput": st.floats(0, 1e9) | percentiles,
    "preferred_max_latency": st.floats(0, 1e9) | percentiles,
})

KNOWN_FIELDS = frozenset(PARAMETERS | ROUTER_FIELDS | {
    "model", "messages", "stream", "stream_options", "n", "max_completion_tokens", "user",
    "metadata", "modalities", "prediction", "service_tier", "store"})
unknown_fields = st.dictionaries(
    st.text(min_size=1, max_size=12).map(lambda k: "x_" + k),
    plain_json_values, max_size=3)


def image_count(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if isinstance(m["content"], list)
               for part in m["content"] if part["type"] == "image_url")


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request the healthy fleet must answer with 200, unknown extra fields and all."""
    variant = draw(st.sampled_from(["", "", "", ":nitro", ":floor", ":exacto"]))
    body: dict[str, Any] = {}
    how = draw(st.sampled_from(["model", "model", "models-only", "model+models"]))
    if how in ("model", "model+models"):
        body["model"] = MODEL + variant
    if how in ("models-only", "model+models"):
        body["models"] = [MODEL + variant, *draw(st.lists(
            st.sampled_from(["nobody/nothing", "test/missing", MODEL]), max_size=2))]
    # The router counts 1,000 tokens an image: more than 3 (+ max_tokens) overflow 8K contexts.
    body["messages"] = draw(messages.filter(lambda ms: image_count(ms) <= 3))
    optional = draw(st.fixed_dictionaries({}, optional={
        "stream": st.booleans(),
        "max_tokens": st.integers(1, 4096),
        "max_completion_tokens": st.integers(1, 4096),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "n": st.integers(1, 4),
        "seed": st.integers(-(2**63), 2**63 - 1),
        "stop": st.one_of(text, st.lists(text, max_size=4)),
        "tools": tools,
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "frequency_penalty": st.floats(-2, 2),
        "presence_penalty": st.floats(-2, 2),
        "logit_bias": st.dictionaries(st.integers(0, 50_000).map(str), st.integers(-100, 100),
                                      max_size=3),
        "user": text,
        "session_id": st.text(max_size=256),
        "provider": provider_prefs,
        "usage": st.fixed_dictionaries({"include": st.booleans()}),
    }))
    body.update(optional)
    if "stream_options" in body and body.get("stream") is not True:
        body["stream"] = True
    body.update(draw(unknown_fields))
    return body


# --- spoiled requests ---------------------------------------------------------------------------

# Values each field must refuse with a 400 that names it.
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "model": st.one_of(st.just(""), integers, floats, st.booleans(), st.lists(text, max_size=2),
                       st.dictionaries(text, text, max_size=2)),
    "messages": st.one_of(st.just([]), text, integers, st.dictionaries(text, text, max_size=2),
                          st.lists(st.one_of(integers, text, st.none()), min_size=1, max_size=3)),
    "max_tokens": st.one_of(st.sampled_from([0, -1, 2**31, 2**63, 2**64, 1.5, 1e300, "10",
                                             True, False, [], {}]),
                            st.integers(max_value=0), st.integers(min_value=2**31),
                            floats, text),
    "max_completion_tokens": st.sampled_from([0, -1, 2**63, 0.5, "8", True, [1]]),
    "temperature": st.one_of(st.floats(min_value=2, exclude_min=True, **FINITE),
                             st.floats(max_value=0, exclude_max=True, **FINITE),
                             text, st.booleans(), st.lists(integers, max_size=2)),
    "top_p": st.one_of(st.floats(min_value=1, exclude_min=True, allow_infinity=False),
                       st.sampled_from([-0.1, "0.5", True])),
    "stream": st.one_of(integers, text, floats, st.lists(st.booleans(), max_size=2),
                        st.dictionaries(text, text, max_size=1)),
    "tools": st.one_of(text, integers, st.dictionaries(text, text, max_size=2),
                       st.lists(st.one_of(integers, text), min_size=1, max_size=3)),
    "tool_choice": st.one_of(integers, floats, st.booleans(), st.lists(text, max_size=2)),
    "response_format": st.one_of(text, integers, st.lists(text, max_size=2),
                                 st.dictionaries(st.sampled_from(["schema", "json_schema"]),
                                                 text, max_size=2),
                                 st.builds(lambda t: {"type": t}, st.one_of(integers,
                                                                             st.none()))),
    "stop": st.one_of(integers, st.lists(integers, min_size=1, max_size=3),
                      st.dictionaries(text, text, min_size=1, max_size=2)),
    "n": st.one_of(st.integers(max_value=0), st.integers(min_value=129), text),
    "seed": st.one_of(floats, text, st.booleans()),
    "stream_options": st.one_of(integers, text, st.booleans(), st.lists(text, max_size=2)),
    "frequency_penalty": st.one_of(st.floats(min_value=2, exclude_min=True, **FINITE),
                                   text),
    "presence_penalty": st.one_of(st.floats(max_value=-2, exclude_max=True, **FINITE),
                                  text),
    "models": st.one_of(text, integers, st.lists(integers, min_size=1, max_size=2),
                        st.lists(st.just(MODEL), min_size=9, max_size=12), st.just([""])),
    "session_id": st.one_of(integers, floats, st.booleans(), st.lists(text, max_size=2),
                            st.text(min_size=257, max_size=400)),
    "provider": st.one_of(
        text, integers, st.lists(text, max_size=2),
        st.builds(lambda k, v: {k: v}, st.sampled_from(
            ["order", "only", "ignore", "quantizations"]),
            st.one_of(text, integers, st.lists(integers, min_size=1, max_size=2))),
        st.builds(lambda k, v: {k: v}, st.sampled_from(
            ["allow_fallbacks", "require_parameters", "zdr"]), st.one_of(text, integers)),
        st.builds(lambda v: {"sort": v}, st.one_of(text.filter(
            lambda s: s not in ("price", "throughput", "latency")), integers,
            st.just({"by": "speed"}), st.just({"by": "price", "partition": "all"}))),
        st.builds(lambda v: {"data_collection": v}, text.filter(
            lambda s: s not in ("allow", "deny"))),
        st.builds(lambda v: {"max_price": v}, st.one_of(text, integers, st.just({"tokens": 1}),
                                                        st.just({"prompt": "cheap"}))),
        st.builds(lambda k, v: {k: v}, st.sampled_from(
            ["preferred_min_throughput", "preferred_max_latency"]),
            st.one_of(text, st.just({"p42": 1}), st.just([1]))),
        st.builds(lambda k: {k: True}, text.filter(lambda s: s and s not in {
            "order", "only", "ignore", "allow_fallbacks", "require_parameters",
            "data_collection", "zdr", "quantizations", "sort", "max_price",
            "preferred_min_throughput", "preferred_max_latency"})),
    ),
}
# Where the 400 names the problem: the field, or for `provider` its sub-path.
PARAM_PREFIX = {name: name for name in INVALID} | {"max_completion_tokens": "max_"}

# Bad values inside a message, with the path prefix the 400 names.
bad_messages = st.one_of(
    st.tuples(st.builds(lambda r: {"role": r, "content": "x"}, st.one_of(
        text.filter(lambda s: s not in ROLES), integers, st.none())), st.just(".role")),
    st.tuples(st.builds(lambda r: {"role": r}, st.sampled_from(
        sorted(ROLES - {"assistant"}))), st.just(".content")),
    st.tuples(st.builds(lambda c: {"role": "user", "content": c}, st.one_of(
        integers, floats, st.booleans(), st.dictionaries(text, text, max_size=2))),
        st.just(".content")),
    st.tuples(st.builds(lambda c: {"role": "user", "content": [c]}, st.one_of(
        integers, text, st.none(), st.lists(text, max_size=2))), st.just(".content[0]")),
    st.tuples(st.builds(lambda t: {"role": "user", "content": [{"type": "text", "text": t}]},
                        st.one_of(integers, st.none(), st.lists(text, max_size=2))),
              st.just(".content[0].text")),
    st.tuples(st.builds(lambda t: {"role": "user", "content": [{"type": t}]},
                        st.one_of(integers, st.none(), st.booleans())),
              st.just(".content[0].type")),
)

bad_image_urls = st.one_of(
    st.sampled_from([
        "", "ftp://example.com/x.png", "javascript:alert(1)", "file:///etc/passwd",
        "data:", "data:,", "data:image/png,AAAA", "data:image/png;base64,",
        "data:image/png;base64,A", "data:image/png;base64,AAAAA",
        "data:text/plain;base64,AAAA", "data:image/png;base64" + "A" * 8,
        "data:;base64,AAAA", "DATA:image/png;base64,AAAA", "//example.com/x.png",
        "example.com/x.png", " https://example.com/x.png",
    ]),
    text.filter(lambda s: not s.startswith(("http://", "https://", "data:"))),
    st.builds(lambda mime, payload: f"data:{mime};base64,{payload}",
              st.text(max_size=20), st.text(max_size=40)),
    integers, st.none(), st.lists(text, max_size=2), st.dictionaries(text, text, max_size=2),
)


def with_image(url: Any, as_object: bool) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": url} if as_object else url}]}]}


# --- spoiled bytes ------------------------------------------------------------------------------

INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A valid body, then byte-level damage: truncation, insertion, invalid UTF-8, garbage."""
    base = json.dumps(draw(valid_requests()), ensure_ascii=draw(st.booleans())).encode(
        "utf-8", "surrogatepass")
    how = draw(st.sampled_from(["truncate", "insert", "replace", "utf8", "wrap", "binary",
                                "literal", "duplicate_key", "bom", "trailing"]))
    at = draw(st.integers(0, len(base)))
    if how == "truncate":
        return base[:at]
    if how == "insert":
        return base[:at] + draw(st.binary(min_size=1, max_size=8)) + base[at:]
    if how == "replace":
        return base[:at] + draw(st.binary(min_size=1, max_size=4)) + base[at + 4:]
    if how == "utf8":
        # Inside a string value, so the JSON structure is intact and only the encoding is bad.
        marker = b'"content": "'
        spot = base.find(marker)
        bad = draw(st.sampled_from(INVALID_UTF8))
        return base[:spot + len(marker)] + bad + base[spot + len(marker):] if spot >= 0 \
            else base + bad
    if how == "wrap":
        return draw(st.sampled_from([b"[", b"[[", b'{"a":', b"\"", b"1", b"null", b"true"])) \
            + base
    if how == "binary":
        return draw(st.binary(max_size=200))
    if how == "literal":
        return draw(st.sampled_from([
            b"", b" ", b"\n", b"null", b"[]", b"{}", b"0", b"\"\"", b"NaN", b"Infinity",
            b"-Infinity", b'{"model": NaN}', b'{"max_tokens": 1e999}', b"{'a': 1}",
            b'{"model":"test/echo","messages":[{"role":"user","content":"\\ud800"}]}',
            b'{"model":"test/echo","messages":[{"role":"user","content":"\\u0000"}]}',
            b"\x00", b"{\"model\":\"test/echo\",}", b"[" * 5000,
        ]))
    if how == "duplicate_key":
        return base[:-1] + b', "model": 5, "messages": "x"}'
    if how == "bom":
        return b"\xef\xbb\xbf" + base
    return base + draw(st.sampled_from([b"x", b"}", b" {}", b"\x00", b"\n\n"]))
