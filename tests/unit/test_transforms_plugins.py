"""Plugins and transforms: each id works or is refused by name; middle-out cuts from the
middle, keeps instructions and tool pairs, and says what it removed; healing repairs JSON."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.errors import BadRequest
from crossroads.healing import heal, heal_choices
from crossroads.middle_out import estimate, middle_out
from crossroads.plugins import PluginAsk, parse_plugins
from crossroads.transforms import fit_context

from .factories import catalog, endpoint, request


@pytest.mark.parametrize(("body", "ask"), [
    ({}, PluginAsk()),
    ({"transforms": ["middle-out"]}, PluginAsk(compression=True)),
    ({"transforms": []}, PluginAsk(compression=False)),
    ({"plugins": [{"id": "context-compression"}]}, PluginAsk(compression=True)),
    ({"plugins": [{"id": "context-compression", "engine": "middle-out"}]},
     PluginAsk(compression=True)),
    ({"plugins": [{"id": "context-compression", "enabled": False}]},
     PluginAsk(compression=False)),
    ({"plugins": [{"id": "response-healing"}]}, PluginAsk(healing=True)),
    ({"plugins": [{"id": "web", "enabled": False}]}, PluginAsk()),
])
def test_plugins_that_work_or_are_switched_off(body: dict[str, Any], ask: PluginAsk):
    assert parse_plugins(body) == ask


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"plugins": [{"id": "web"}]}, "plugins[0].id", "web-search backend"),
    ({"plugins": [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}]}, "plugins[0].id",
     "does not parse files"),
    ({"plugins": [{"id": "response-healing"}, {"id": "moderation"}]}, "plugins[1].id",
     "moderation"),
    ({"plugins": [{"id": "telepathy"}]}, "plugins[0].id", "unknown plugin 'telepathy'"),
    ({"plugins": [{"id": "context-compression", "engine": "summarise"}]},
     "plugins[0].engine", "middle-out"),
    ({"plugins": {"id": "web"}}, "plugins", "array"),
    ({"plugins": [{"name": "web"}]}, "plugins[0]", '"id"'),
    ({"transforms": ["squeeze"]}, "transforms", "unknown transform 'squeeze'"),
])
def test_plugins_this_router_cannot_run_are_400s_naming_them(body: dict[str, Any], param: str,
                                                             words: str):
    with pytest.raises(BadRequest, match=words) as info:
        parse_plugins(body)
    assert info.value.metadata["param"] == param


def say(role: str, chars: int, tag: str = "") -> dict[str, Any]:
    return {"role": role, "content": (tag + "x" * chars)[:chars] if tag else "x" * chars}


def test_middle_out_removes_whole_turns_from_the_middle_and_keeps_both_ends():
    messages = [say("system", 400, "SYS"), *[say("user" if i % 2 == 0 else "assistant", 400,
                                                  f"T{i}") for i in range(9)]]
    cut = middle_out(messages, budget_tokens=700, tokens_per_image=0)
    assert cut is not None
    kept = [m["content"][:3] for m in cut.messages]
    assert kept[0] == "SYS" and kept[1].startswith("T0") and kept[-1].startswith("T8")
    assert cut.removed == len(messages) - len(cut.messages) and cut.removed >= 3
    assert cut.tokens_after <= 700 < cut.tokens_before
    assert estimate(cut.messages, 0) == cut.tokens_after
    # The middle went first: the survivors besides the ends are the outermost turns.
    survivors = [int(k[1]) for k in kept[1:]]
    assert survivors == sorted(survivors)
    assert messages[0]["content"].startswith("SYS")  # the caller's list is untouched
    assert len(messages) == 10


def test_a_tool_call_leaves_with_its_results():
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "f", "arguments": "{}"}}]}
    messages = [say("user", 200), say("assistant", 200), say("user", 200), call,
                {"role": "tool", "tool_call_id": "c1", "content": "y" * 2000},
                say("assistant", 200), say("user", 200)]
    cut = middle_out(messages, budget_tokens=300, tokens_per_image=0)
    assert cut is not None and cut.removed >= 2
    called: set[str] = set()
    for message in cut.messages:
        called |= {c["id"] for c in message.get("tool_calls") or ()}
        if message["role"] == "tool":
            assert message["tool_call_id"] in called  # never a result without its call
    # The call and its (long) result went together.
    assert not any(m.get("tool_calls") or m["role"] == "tool" for m in cut.messages)


def test_two_turns_too_long_are_cut_in_the_middle_of_the_longest_text():
    messages = [say("user", 40, "HEAD"), say("user", 8000, "START")]
    messages[1]["content"] = "START" + "x" * 7990 + "END!!"
    cut = middle_out(messages, budget_tokens=1000, tokens_per_image=0)
    assert cut is not None and cut.removed == 0 and cut.truncated_chars > 0
    text = cut.messages[1]["content"]
    assert text.startswith("START") and text.endswith("END!!") and "[…]" in text
    assert cut.tokens_after <= 1000


def test_nothing_happens_when_it_already_fits():
    assert middle_out([say("user", 100)], budget_tokens=1000, tokens_per_image=0) is None


def test_fit_context_runs_when_asked_or_by_default_for_small_models():
    small = catalog(endpoint("tiny", 0.1, context_length=8192))
    big = catalog(endpoint("huge", 0.1, context_length=100_000))
    long_chat = [say("user" if i % 2 == 0 else "assistant", 4000) for i in range(21)]
    asked = request(messages=long_chat, max_tokens=100, transforms=["middle-out"])
    assert asked.prompt_token_estimate(0) > 8192
    # Default: on for a model whose endpoints all have ≤ 8k context, off above.
    cut, note = fit_context(request(messages=long_chat, max_tokens=100), small, 0)
    assert cut.prompt_token_estimate(0) <= 8192 - 100 and note is not None
    assert "to fit a 8192-token context" in note and "removed" in note
    same, none = fit_context(request(messages=long_chat, max_tokens=100, transforms=[]),
                             small, 0)
    assert none is None and same.prompt_token_estimate(0) > 8192
    untouched, no_note = fit_context(request(messages=long_chat * 2, max_tokens=100), big, 0)
    assert no_note is None and untouched.body["messages"] == long_chat * 2
    fitted, said = fit_context(request(messages=long_chat * 2, max_tokens=100,
                                       transforms=["middle-out"]), big, 0)
    assert said is None  # 42 × 4000 chars is ~42k tokens: it fits 100k already
    assert fitted.body["messages"] == long_chat * 2


@pytest.mark.parametrize(("broken", "fixed"), [
    ('```json\n{"a": 1}\n```', '{"a": 1}'),
    ('{"a": 1, "b": [1, 2,]}', '{"a": 1, "b": [1, 2]}'),
    ('Here you go: {"name": "Ada", "age": 36', '{"name": "Ada", "age": 36}'),
])
def test_healing_repairs_broken_json(broken: str, fixed: str):
    assert heal(broken) == fixed


def test_healing_leaves_valid_json_and_prose_alone():
    assert heal('{"ok": true}') is None
    assert heal("I cannot answer that.") is None
    choices = [{"message": {"content": '{"a": 1,}'}}, {"message": {"content": '{"b": 2}'}}]
    assert heal_choices(choices) == [0]
    assert choices[0]["message"]["content"] == '{"a": 1}'
