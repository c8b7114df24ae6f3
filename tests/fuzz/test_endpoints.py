"""The GET endpoints, unknown paths and unknown methods under fuzz."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import MODEL
from tests.fuzz.strategies import json_values, text
from tests.fuzz.support import PROTOCOL_400, Client, check, check_error, fuzz_settings

PREFIXES = st.sampled_from(["/api/v1", "/v1"])
segments = st.one_of(
    text, st.sampled_from(["", ".", "..", "%", "%00", "test", "echo", "meta-llama",
                           "llama-4-scout", "endpoints", "models", "a/b", "?", "#", ";x"]))
query_strings = st.one_of(
    st.just(""),
    st.builds(lambda pairs: "?" + urlencode(pairs),
              st.lists(st.tuples(text, text), max_size=4)),
    st.builds(lambda raw: "?" + quote(raw, safe="=&%+"), text),
)


def model_ids(client: Client) -> set[str]:
    reply = client.send("GET", "/api/v1/models")
    assert reply.status == 200
    return {entry["id"] for entry in reply.json["data"]}


@fuzz_settings(40)
@given(prefix=PREFIXES, query=query_strings)
def test_the_model_list_ignores_whatever_query_it_gets(client: Client, prefix: str,
                                                       query: str) -> None:
    reply = check(client.send("GET", f"{prefix}/models{query}"))
    assert reply.status == 200, reply.body[:300]
    data = reply.json["data"]
    assert MODEL in {entry["id"] for entry in data}
    for entry in data:
        assert isinstance(entry["id"], str) and isinstance(entry["context_length"], int)
        assert isinstance(entry["pricing"], dict | None)


@fuzz_settings(150)
@given(prefix=PREFIXES, author=segments, slug=segments, query=query_strings)
def test_model_endpoints_is_a_200_for_a_known_model_and_a_404_otherwise(
        client: Client, prefix: str, author: str, slug: str, query: str) -> None:
    target = f"{prefix}/models/{quote(author, safe='')}/{quote(slug, safe='')}/endpoints{query}"
    reply = check(client.send("GET", target))
    known = f"{author}/{slug}" in model_ids(client)
    if known:
        assert reply.status == 200, reply.body[:300]
        assert reply.json["data"]["id"] == f"{author}/{slug}"
    else:
        assert reply.status == 404, (target, reply.status, reply.body[:300])


def test_model_endpoints_of_the_fuzz_model(client: Client) -> None:
    reply = check(client.send("GET", f"/api/v1/models/{MODEL}/endpoints"))
    assert reply.status == 200
    tags = {e["tag"] for e in reply.json["data"]["endpoints"]}
    assert tags == {"alpha", "bravo", "charlie"}


@fuzz_settings(120)
@given(prefix=PREFIXES, ids=st.lists(st.one_of(text, st.text(min_size=120, max_size=300),
                                                st.sampled_from(["gen-", "gen-0-0", "%00",
                                                                 "' OR 1=1 --"])),
                                      max_size=3),
       other=st.lists(st.tuples(text, text), max_size=2))
def test_generation_lookup_of_an_unknown_id_is_a_400_or_404(
        client: Client, prefix: str, ids: list[str], other: list[tuple[str, str]]) -> None:
    pairs = [("id", i) for i in ids] + [(k, v) for k, v in other if k != "id"]
    reply = check(client.send("GET", f"{prefix}/generation?{urlencode(pairs)}", None, AUTH))
    given_ids = [i for i in ids if i]  # parse_qs drops blank values, as browsers expect
    single = len(given_ids) == 1 and len(given_ids[0]) <= 128
    assert reply.status == (404 if single else 400), (ids, reply.status, reply.body[:300])


def test_generation_lookup_of_a_real_id(client: Client) -> None:
    made = client.chat({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert made.status == 200
    generation = made.json["id"]
    reply = check(client.send("GET", f"/api/v1/generation?id={quote(generation)}", None, AUTH))
    assert reply.status == 200
    assert reply.json["data"]["id"] == generation


@fuzz_settings(150)
@given(path=st.sampled_from(["/api/v1/embeddings", "/v1/embeddings", "/api/v1/completions",
                             "/v1/completions"]),
       body=st.one_of(json_values, st.fixed_dictionaries({"model": st.just(MODEL)}, optional={
           name: json_values for name in ("input", "prompt", "dimensions", "encoding_format",
                                          "logprobs", "echo", "suffix", "best_of", "n",
                                          "max_tokens", "provider", "models")})))
def test_embeddings_and_completions_bodies_are_answered_never_a_5xx(
        client: Client, path: str, body: Any) -> None:
    reply = check(client.chat(body, path=path))
    if reply.status == 200:
        # Only a completion can succeed here: the fuzz fleet has no embedding model.
        assert path.endswith("/completions") and reply.json["object"] == "text_completion"


AUTH = [("Authorization", "Bearer fuzz")]
SECTIONS = ("overview", "providers", "pricing", "performance", "uptime", "benchmarks", "apps",
            "activity")
API_ROUTES: dict[str, set[str]] = {
    "/chat/completions": {"POST"}, "/responses": {"POST"}, "/completions": {"POST"},
    "/embeddings": {"POST"}, "/embeddings/models": {"GET"}, "/models": {"GET"},
    "/models/count": {"GET"},
    "/providers": {"GET"}, "/generation": {"GET"}, "/key": {"GET"}, "/credits": {"GET"},
    "/activity": {"GET"}, "/keys": {"GET", "POST"}, f"/models/{MODEL}/endpoints": {"GET"},
    "/models/stats": {"GET"},
    **{f"/models/{MODEL}/stats/{section}": {"GET"} for section in SECTIONS},
}
ROUTES: dict[str, set[str]] = {
    "/": {"GET"}, "/healthz": {"GET"},
    **{prefix + route: methods for route, methods in API_ROUTES.items()
       for prefix in ("/api/v1", "/v1")},
}


def _parameter_route(path: str) -> set[str] | None:
    """The methods of a route with a parameter (a model slug, a key hash) that `path` names."""
    for prefix in ("/api/v1/", "/v1/"):
        if path.startswith(prefix):
            parts = path[len(prefix):].split("/")
            break
    else:
        return None
    if "" in parts:
        return None
    if parts[0] in ("models", "model") and len(parts) == 3 and parts[1:] != ["count"]:
        return {"GET"}
    if parts[0] == "models" and len(parts) == 4 and parts[3] == "endpoints":
        return {"GET"}
    if parts[0] == "models" and len(parts) == 5 and parts[3] == "stats" and parts[4] in SECTIONS:
        return {"GET"}
    if parts[0] == "keys" and len(parts) == 2:
        return {"GET", "PATCH", "DELETE"}
    return None
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "HEAD"]
# Methods llhttp parses (uvicorn then hands them to the app) vs. tokens it refuses outright.
ODD_METHODS = ["PROPFIND", "MKCOL", "PURGE", "SEARCH", "LINK", "FOO", "get", "G E T", "GETT"]


@fuzz_settings(250)
@given(method=st.sampled_from(METHODS + ODD_METHODS), path=st.one_of(
    st.sampled_from(sorted(ROUTES)),
    st.builds(lambda p, segs: p + "/" + "/".join(quote(s, safe="") for s in segs),
              st.sampled_from(["", "/api", "/api/v1", "/v1", "/api/v2", "/_sim"]),
              st.lists(segments, min_size=1, max_size=4))),
    body=st.one_of(st.none(), st.binary(max_size=64)))
def test_any_method_on_any_path_is_an_answer_never_a_5xx(
        client: Client, method: str, path: str, body: bytes | None) -> None:
    reply = client.send(method, path, body, [("Authorization", "Bearer fuzz")])
    if method == "HEAD":
        assert reply.status < 500 and reply.body == b""
        return
    if reply.body == PROTOCOL_400:
        assert method in ODD_METHODS or " " in path, (method, path)
        return
    if path == "/models" or path.startswith(("/models/", "/static/")):
        # The browser's pages: HTML, a page of its own for what is not there; GET only.
        if method == "GET":
            assert reply.status in (200, 404), (path, reply.status)
            assert reply.status == 404 or path.startswith("/static/") or \
                reply.headers["content-type"].startswith("text/html"), reply.headers
        else:
            assert reply.status == 405, (method, path, reply.status)
            check_error(reply)
        return
    check(reply, chat=method == "POST" and path.endswith("/chat/completions"))
    allowed = ROUTES.get(path) or _parameter_route(path)
    if allowed is None:
        assert reply.status == 404, (method, path, reply.status)
        check_error(reply)
    elif method == "OPTIONS" and path.startswith(("/api/v1/", "/v1/")):
        # A CORS preflight (open mode allows any origin): answered, with what the route takes.
        assert reply.status == 204, (method, path, reply.status)
        assert set(reply.headers["allow"].split(", ")) == {"OPTIONS", *allowed}
    elif method not in allowed:
        assert reply.status == 405, (method, path, reply.status)
        check_error(reply)


@pytest.mark.parametrize("target", ["*", "http://127.0.0.1/api/v1/models", "//api/v1/models",
                                    "/api/v1/models?" + "a=b&" * 2000, "/" + "a" * 60_000])
def test_unusual_request_targets(client: Client, target: str) -> None:
    reply = client.send("GET", target)
    if reply.body != PROTOCOL_400:
        check(reply)
    assert reply.status in (200, 400, 404), reply.status


def test_options_and_head_on_chat(client: Client) -> None:
    preflight = client.send("OPTIONS", "/api/v1/chat/completions", None,
                            [("Origin", "http://localhost:3000"),
                             ("Access-Control-Request-Method", "POST")])
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-methods"] == "POST"
    for method in ("HEAD", "GET"):
        reply = client.send(method, "/api/v1/chat/completions")
        assert reply.status == 405, (method, reply.status)
        if method != "HEAD":
            error: dict[str, Any] = check_error(reply)
            assert "POST" in error["message"]
