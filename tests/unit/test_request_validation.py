from __future__ import annotations

import orjson
import pytest

from crossroads.chat_request import parse_chat_request
from crossroads.errors import BadRequest

OK = {"model": "m/x", "messages": [{"role": "user", "content": "hi"}]}


def parse(**changes):
    body = {**OK, **changes}
    body = {k: v for k, v in body.items() if v is not ...}
    return parse_chat_request(orjson.dumps(body))


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_unparseable_bodies(raw, needle):
    with pytest.raises(BadRequest, match=needle):
        parse_chat_request(raw)


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"model": ...}, "model"),
        ({"model": 5}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
         "messages[0].content[0].text"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:text/html;base64,AAAA"}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": 10**12}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"stream": "yes"}, "stream"),
        ({"tools": {"a": 1}}, "tools"),
        ({"models": "x"}, "models"),
        ({"provider": {"ignroe": ["x"]}}, "provider"),
        ({"provider": {"only": "groq"}}, "provider.only"),
        ({"provider": {"sort": "fastest"}}, "provider.sort"),
        ({"provider": {"max_price": {"prompt": "cheap"}}}, "provider.max_price.prompt"),
        ({"session_id": 5}, "session_id"),
    ],
)
def test_bad_fields_name_the_parameter(changes, param):
    with pytest.raises(BadRequest) as info:
        parse(**changes)
    assert info.value.metadata["param"] == param
    assert info.value.status == 400
    body = orjson.loads(info.value.body())
    assert body["error"]["code"] == 400 and param in body["error"]["message"]


def test_valid_request_features():
    req = parse(
        model="m/x:nitro",
        models=["m/y", "m/x"],
        max_completion_tokens=50,
        stream=True,
        temperature=0.5,
        tools=[{"type": "function", "function": {"name": "f"}}],
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ]},
        ],
        provider={"order": ["Groq"], "allow_fallbacks": False},
        session_id="s1",
        unknown_vendor_field={"kept": True},
    )
    assert req.models == ("m/x", "m/y")
    assert req.prefs.variant is not None and req.prefs.variant.value == "nitro"
    assert req.prefs.order == ("groq",) and req.prefs.allow_fallbacks is False
    assert req.stream and req.max_tokens == 50 and req.has_images and req.image_count == 1
    assert {"temperature", "tools", "max_tokens"} <= req.parameters
    assert req.prefs.session_id == "s1"
    assert req.body["unknown_vendor_field"] == {"kept": True}


def test_models_only_uses_first_as_primary():
    req = parse_chat_request(orjson.dumps({"models": ["a/b", "c/d"], "messages": OK["messages"]}))
    assert req.models == ("a/b", "c/d")


def test_session_header_used_when_body_has_none():
    req = parse_chat_request(orjson.dumps(OK), session_header="from-header")
    assert req.prefs.session_id == "from-header"
