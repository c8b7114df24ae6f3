"""The sim's Gemini and Vertex AI surfaces and its Google OAuth endpoint: the same endpoints,
faults and cache as the OpenAI surface, in Gemini's shapes — requests checked as Google checks
them, usage as Gemini counts it, and only tokens it issued accepted on Vertex."""

from __future__ import annotations

import json
import time
from typing import Any

import google.auth.exceptions
import google.oauth2.credentials
import google.oauth2.service_account
import pytest
import rsa

from crossroads.credentials.google import HttpxTransport

from .support import Sim, tokens_of

KEY_HEADERS = {"x-goog-api-key": "sk-right"}
VERTEX = "vertex/v1/projects/p/locations/us-central1/publishers/google/models/m"


def ask(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def gemini(sim: Sim, name: str, body: Any, stream: bool = False,
           headers: dict[str, str] | None = None, query: str = "") -> Any:
    """`query` is added after `alt=sse` (streams) or as the whole query string."""
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    url = f"/{name}/gemini/v1beta/models/m:{method}{query}"
    return sim.http.post(url, json=body,
                         headers={"x-goog-api-key": "any"} if headers is None else headers)


def events(response: Any) -> list[dict[str, Any]]:
    return [json.loads(block.removeprefix("data: ")) for block in response.text.split("\r\n\r\n")
            if block.startswith("data: ")]


def test_an_answer_and_its_stream_say_the_same_in_gemini_shapes(sim: Sim) -> None:
    whole = gemini(sim, "plain", ask())
    assert whole.status_code == 200
    body = whole.json()
    [candidate] = body["candidates"]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    assert body["usageMetadata"] == {"promptTokenCount": tokens_of("Hello there"),
                                     "candidatesTokenCount": 16,
                                     "totalTokenCount": tokens_of("Hello there") + 16}
    streamed = events(gemini(sim, "plain", ask(), stream=True))
    text = "".join(p.get("text", "") for e in streamed
                   for p in e["candidates"][0]["content"]["parts"])
    assert text == candidate["content"]["parts"][0]["text"]
    assert streamed[-1]["candidates"][0]["finishReason"] == "STOP"
    assert streamed[-1]["usageMetadata"] == body["usageMetadata"]
    assert all("finishReason" not in e["candidates"][0] for e in streamed[:-1])


def test_cached_tokens_are_counted_inside_the_prompt(sim: Sim) -> None:
    long = "Remember this carefully. " * 40
    history = [{"role": "user", "parts": [{"text": long}]},
               {"role": "model", "parts": [{"text": "Noted."}]}]
    first = gemini(sim, "cached", {"contents": [*history, {"role": "user",
                                                           "parts": [{"text": "One?"}]}]})
    assert "cachedContentTokenCount" not in first.json()["usageMetadata"]
    second = gemini(sim, "cached", {"contents": [*history, {"role": "user",
                                                            "parts": [{"text": "Two?"}]}]})
    usage = second.json()["usageMetadata"]
    [seen] = sim.log("cached")[-1:]
    assert 0 < usage["cachedContentTokenCount"] == seen["cached_tokens"]
    assert usage["promptTokenCount"] == seen["prompt_tokens"]  # the whole prompt, cache included


@pytest.mark.parametrize(("body", "message"), [
    ({**ask(), "temperature": 0.2}, 'Unknown name "temperature"'),
    (ask(generationConfig={"max_tokens": 5}), 'Unknown name "max_tokens"'),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role: user, model"),
    ({"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {}}]}]},
     "exactly one of"),
    (ask(tools=[{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "additionalProperties": False}}]}]),
     'Unknown name "additionalProperties"'),
    ({"contents": []}, "contents is not specified"),
])
def test_what_google_refuses_the_sim_refuses_in_googles_words(sim: Sim, body: Any,
                                                              message: str) -> None:
    response = gemini(sim, "plain", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert message in error["message"]


def test_a_stream_is_only_served_as_sse(sim: Sim) -> None:
    response = sim.http.post("/plain/gemini/v1beta/models/m:streamGenerateContent",
                             json=ask(), headers={"x-goog-api-key": "k"})
    assert response.status_code == 400 and "alt=sse" in response.json()["error"]["message"]


def test_the_api_key_travels_as_x_goog_api_key_and_a_wrong_one_is_googles_400(sim: Sim) -> None:
    assert gemini(sim, "keyed", ask(), headers=KEY_HEADERS).status_code == 200
    assert gemini(sim, "keyed", ask(), headers={}, query="?key=sk-right").status_code == 200
    wrong = gemini(sim, "keyed", ask(), headers={"x-goog-api-key": "sk-wrong"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert gemini(sim, "keyed", ask(), headers={}).status_code == 403


def test_tools_thoughts_and_signatures_come_back_as_gemini_writes_them(sim: Sim) -> None:
    body = ask("What is the weather in Paris?",
               tools=[{"functionDeclarations": [{"name": "get_weather", "parameters": {
                   "type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}]}],
               generationConfig={"thinkingConfig": {"thinkingBudget": 64,
                                                    "includeThoughts": True}})
    answer = gemini(sim, "thinker", body).json()
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and parts[0]["text"]
    call = next(p for p in parts if "functionCall" in p)
    assert call["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert call["thoughtSignature"]
    usage = answer["usageMetadata"]
    assert usage["thoughtsTokenCount"] == 64
    assert usage["totalTokenCount"] == (usage["promptTokenCount"] + usage["candidatesTokenCount"]
                                        + usage["thoughtsTokenCount"])
    hidden = gemini(sim, "thinker", ask(generationConfig={"thinkingConfig": {
        "thinkingBudget": 64}})).json()
    assert not any(p.get("thought") for p in hidden["candidates"][0]["content"]["parts"])
    assert hidden["usageMetadata"]["thoughtsTokenCount"] == 64


@pytest.mark.parametrize(("outcome", "status", "name"), [
    ("http_429", 429, "RESOURCE_EXHAUSTED"), ("http_503", 503, "UNAVAILABLE"),
    ("http_500", 500, "INTERNAL"), ("context_length", 400, "INVALID_ARGUMENT"),
    ("http_408", 504, "DEADLINE_EXCEEDED"),
])
def test_scripted_faults_are_googles_errors(sim: Sim, outcome: str, status: int,
                                            name: str) -> None:
    sim.script("plain", outcome)
    response = gemini(sim, "plain", ask())
    assert response.status_code == status
    assert response.json()["error"]["status"] == name


def test_a_rate_limit_says_when_to_retry_in_retry_info(sim: Sim) -> None:
    sim.script("plain", "http_429_retry_after")
    details = gemini(sim, "plain", ask()).json()["error"]["details"]
    assert details[0]["@type"].endswith("RetryInfo") and details[0]["retryDelay"].endswith("s")


def test_a_blocked_prompt_is_a_200_with_the_reason(sim: Sim) -> None:
    sim.script("plain", "content_filter")
    response = gemini(sim, "plain", ask())
    assert response.status_code == 200
    assert response.json()["promptFeedback"] == {"blockReason": "SAFETY"}
    assert "candidates" not in response.json()


# --- Vertex and the token endpoint -------------------------------------------------------------


def token_uri(sim: Sim) -> str:
    return f"{sim.server.url}/_oauth/google/token"


def account(sim: Sim, register: bool = True, email: str = "sa@p.iam.gserviceaccount.com"
            ) -> google.oauth2.service_account.Credentials:
    public, private = rsa.newkeys(1024)
    info = {"type": "service_account", "client_email": email,
            "private_key_id": "k1", "private_key": private.save_pkcs1().decode(),
            "token_uri": token_uri(sim)}
    if register:
        response = sim.control("POST", "/google/keys", {
            "client_email": info["client_email"], "key_id": "k1",
            "public_key": public.save_pkcs1().decode()})
        assert response.status_code == 200
    return google.oauth2.service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"])


def vertex(sim: Sim, token: str | None, name: str = "plain") -> Any:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return sim.http.post(f"/{name}/{VERTEX}:generateContent", json=ask(), headers=headers)


def test_vertex_takes_a_token_minted_by_google_auth_and_refuses_any_other(sim: Sim) -> None:
    credentials = account(sim)
    credentials.refresh(HttpxTransport())
    assert credentials.token and credentials.token.startswith("ya29.sim-")
    assert vertex(sim, credentials.token).status_code == 200
    for token in ("ya29.made-up", None):
        refused = vertex(sim, token)
        assert refused.status_code == 401
        assert refused.json()["error"]["status"] == "UNAUTHENTICATED"


def test_an_expired_token_is_refused(sim: Sim) -> None:
    assert sim.control("PATCH", "/google", {"token_lifetime_s": 0.05}).status_code == 200
    credentials = account(sim)
    credentials.refresh(HttpxTransport())
    # The token endpoint rounds up to one second; wait that out without sleeping a guess.
    deadline = time.monotonic() + 5
    while vertex(sim, credentials.token).status_code == 200:
        assert time.monotonic() < deadline
    assert vertex(sim, credentials.token).json()["error"]["status"] == "UNAUTHENTICATED"


def test_an_unknown_or_forged_service_account_gets_no_token(sim: Sim) -> None:
    with pytest.raises(google.auth.exceptions.RefreshError, match="account not found"):
        account(sim, register=False, email="nobody@p.iam").refresh(HttpxTransport())
    forged = account(sim)  # registers one key, then signs with another
    other = account(sim, register=False)
    forged._signer = other._signer
    with pytest.raises(google.auth.exceptions.RefreshError, match="Invalid JWT Signature"):
        forged.refresh(HttpxTransport())


def test_the_sims_own_oauth_client_can_refresh(sim: Sim) -> None:
    credentials = google.oauth2.credentials.Credentials(
        token=None, refresh_token="r", client_id="crossroads-sim", client_secret="simulated",
        token_uri=token_uri(sim))
    credentials.refresh(HttpxTransport())
    assert vertex(sim, credentials.token).status_code == 200
    stranger = google.oauth2.credentials.Credentials(
        token=None, refresh_token="r", client_id="someone", client_secret="x",
        token_uri=token_uri(sim))
    with pytest.raises(google.auth.exceptions.RefreshError):
        stranger.refresh(HttpxTransport())


def test_vertex_openai_compatible_chat_needs_a_google_token(sim: Sim) -> None:
    url = "/plain/vertex/v1/projects/p/locations/us-east5/endpoints/openapi/chat/completions"
    body = {"model": "meta/llama", "messages": [{"role": "user", "content": "Hi"}]}
    assert sim.http.post(url, json=body, headers={"authorization": "Bearer sk-test"}
                         ).status_code == 401
    credentials = account(sim)
    credentials.refresh(HttpxTransport())
    response = sim.http.post(url, json=body,
                             headers={"authorization": f"Bearer {credentials.token}"})
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"]
