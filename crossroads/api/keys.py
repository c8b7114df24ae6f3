"""The account routes, OpenRouter-shaped: `GET /key`, `GET /credits`, and the key management
routes `GET|POST /keys`, `GET|PATCH|DELETE /keys/{hash}` (management key required)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec

from crossroads.accounts.balance import Balance
from crossroads.accounts.keys import HASH_SHAPE, KeyRecord, RateLimit, make_key, parse_expiry
from crossroads.accounts.ledger_view import ledger_balances
from crossroads.accounts.periods import period
from crossroads.accounts.service import Caller
from crossroads.api.http import (
    ClientGone,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_error,
    send_json,
)
from crossroads.api.state import AppState
from crossroads.catalog import MICRO
from crossroads.errors import BadRequest, CrossroadsError, Forbidden, NotFound, Unauthorized
from crossroads.schema.keys import (
    CreateKeyRequest,
    CreditsExtras,
    CreditsResponse,
    CurrentKey,
    CurrentKeyExtras,
    CurrentKeyResponse,
    FreeModelDailyRequests,
    KeyBudget,
    KeyCreated,
    KeyDeleted,
    KeyExtras,
    KeyInfo,
    KeyList,
    KeyOptions,
    KeyResponse,
    LegacyRateLimit,
    RateLimitInfo,
    UpdateKeyRequest,
)
from crossroads.schema.keys import Credits as CreditsBody

PAGE = 100
WORKSPACE = "default"  # crossroads has one workspace; OpenRouter's schema requires a name
MAX_KEY_BODY = 64 * 1024


def iso(t: int | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _usd(micro: int | None) -> float | None:
    return None if micro is None else micro / MICRO


def caller_of(state: AppState, scope: Scope) -> Caller:
    return state.accounts.authenticate(header(scope, b"authorization"))


def _identified(state: AppState, scope: Scope) -> Caller:
    caller = caller_of(state, scope)
    if caller.record is None:
        raise Unauthorized("This route needs an API key: send 'Authorization: Bearer <key>'")
    return caller


def _management(state: AppState, scope: Scope) -> Caller:
    caller = _identified(state, scope)
    if not caller.management:
        raise Forbidden("Managing keys needs a management key; this is an inference key.")
    return caller


def _usage_fields(record: KeyRecord, balance: Balance, now: float) -> dict[str, Any]:
    """What a key listing and `GET /key` both say of a key's limit and spend, in USD (the
    fields of `schema.keys._KeyUsage`; the response checker holds them to it)."""
    lifetime, day, week, month = balance.usage(now)
    return {
        "label": record.label, "limit": _usd(record.limit_micro),
        "limit_remaining": _usd(balance.limit_remaining(now)),
        "limit_reset": record.limit_reset, "include_byok_in_limit": False,
        "usage": lifetime / MICRO, "usage_daily": day / MICRO, "usage_weekly": week / MICRO,
        "usage_monthly": month / MICRO,
        # Crossroads' keys are the operator's: nothing is bring-your-own-key.
        "byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0,
        "byok_usage_monthly": 0.0,
    }


def key_info(state: AppState, record: KeyRecord, balance: Balance, now: float) -> KeyInfo:
    remaining = balance.limit_remaining(now)
    rate = record.rate_limit
    return KeyInfo(
        **_usage_fields(record, balance, now),
        hash=record.hash, name=record.name, disabled=record.disabled,
        created_at=iso(record.created_at) or "", updated_at=iso(record.updated_at),
        expires_at=iso(record.expires_at),
        last_used_at=iso(state.accounts.last_used(record.hash)),
        creator_user_id=None, external_user=None, workspace_id=WORKSPACE,
        crossroads=KeyExtras(
            management=record.management,
            rate_limit=None if rate is None else RateLimitInfo(requests=rate.requests,
                                                               interval=rate.interval),
            limit_micro_usd=record.limit_micro, limit_remaining_micro_usd=remaining,
            usage_micro_usd=balance.lifetime, reserved_micro_usd=balance.reserved,
            requests_in_flight=balance.requests_in_flight),
    )


def _current_key(record: KeyRecord, balance: Balance, now: float) -> CurrentKey:
    remaining = balance.limit_remaining(now)
    budgets = []
    if record.limit_micro is not None:
        _, end = period(now, record.limit_reset)
        spent = balance.period_spent(now)
        budgets.append(KeyBudget(
            budget_id=None, guardrail_id=None, include_byok=False,
            limit_usd=record.limit_micro / MICRO, remaining_usd=(remaining or 0) / MICRO,
            spend_usd=spent / MICRO, reset_interval=record.limit_reset,
            resets_at=None if end is None else iso(end), scope="key_limit"))
    rate = record.rate_limit
    return CurrentKey(
        **_usage_fields(record, balance, now),
        is_free_tier=False, is_management_key=record.management,
        is_provisioning_key=record.management, expires_at=iso(record.expires_at),
        creator_user_id=None,
        rate_limit=LegacyRateLimit(
            requests=-1 if rate is None else rate.requests,
            interval="10s" if rate is None else rate.interval,
            note="No request rate limit on this key." if rate is None else
            "Enforced by crossroads per key; over it the API answers 429 with Retry-After."),
        allowed_data_regions=["global"], budgets=budgets,
        effective_budget=budgets[0] if budgets else None,
        # Crossroads has no free-model variants: no free daily requests to count.
        free_model_daily_requests=FreeModelDailyRequests(limit=0, remaining=0, used=0),
        organization_id=None, workspace_id=None,
        crossroads=CurrentKeyExtras(hash=record.hash, reserved_micro_usd=balance.reserved,
                                    limit_remaining_micro_usd=remaining,
                                    usage_micro_usd=balance.lifetime),
    )


def _expiry(text: str | None, now: float) -> int | None:
    if text is None:
        return None
    try:
        return parse_expiry(text, now)
    except ValueError as exc:
        raise BadRequest(f"expires_at: {exc}", metadata={"param": "expires_at"}) from None


def _decode(raw: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).rpartition(" - at `$.")
        param = where.rstrip("`") if text else None
        raise BadRequest(f"{param}: {text}" if param else str(exc),
                         metadata={"param": param} if param else {}) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None


def _rate_limit(options: KeyOptions | msgspec.UnsetType) -> RateLimit | None:
    if isinstance(options, KeyOptions) and isinstance(options.rate_limit, RateLimitInfo):
        return RateLimit(options.rate_limit.requests, options.rate_limit.interval)
    return None


async def _respond(send: Send, work: Any) -> None:
    try:
        status, body = await work
    except CrossroadsError as error:
        await send_error(send, error)
        return
    except ClientGone:
        return
    await send_json(send, status, msgspec.json.encode(body))


async def reported(state: AppState, balances: list[Balance]) -> list[Balance]:
    """The balances as every worker and replica left them (accounts/ledger_view.py)."""
    return await ledger_balances(state.ledger, balances, state.accounts.clock())


# --- the routes ----------------------------------------------------------------------------------


async def get_current_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    async def work() -> tuple[int, CurrentKeyResponse]:
        caller = _identified(state, scope)
        assert caller.record is not None and caller.balance is not None
        (balance,) = await reported(state, [caller.balance])
        now = state.accounts.clock()
        return 200, CurrentKeyResponse(data=_current_key(caller.record, balance, now))
    await _respond(send, work())


async def get_credits(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    """The caller's credit: its limit as credits (a management key: every key's), and spend.

    `total_credits - total_usage` is what can still be spent. A self-hosted router has no
    purchased balance, so a limited key's credits are its spend so far plus its remaining
    limit; an unlimited key reports credits equal to usage and `crossroads.unlimited: true`."""
    async def work() -> tuple[int, CreditsResponse]:
        caller = _identified(state, scope)
        now = state.accounts.clock()
        mine = [b for b in (state.accounts.balances() if caller.management
                            else [caller.balance]) if b is not None]
        balances = await reported(state, mine)
        usage = credits = 0
        unlimited = False
        for balance in balances:
            if balance.record.management:
                continue
            spent = balance.usage(now)[0]
            remaining = balance.limit_remaining(now)
            usage += spent
            credits += spent + (remaining or 0)
            unlimited = unlimited or remaining is None
        return 200, CreditsResponse(
            data=CreditsBody(total_credits=credits / MICRO, total_usage=usage / MICRO),
            crossroads=CreditsExtras(unlimited=unlimited, total_credits_micro_usd=credits,
                                     total_usage_micro_usd=usage))
    await _respond(send, work())


async def list_keys(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    async def work() -> tuple[int, KeyList]:
        _management(state, scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        include_disabled = query.get("include_disabled", ["false"])[-1].lower() == "true"
        offset_text = query.get("offset", ["0"])[-1] or "0"
        if not offset_text.isdigit():
            raise BadRequest("offset: must be a non-negative integer",
                             metadata={"param": "offset"})
        offset = int(offset_text)
        now = state.accounts.clock()
        records = [r for r in state.accounts.live_keys() if include_disabled or not r.disabled]
        page = records[offset:offset + PAGE]
        balances = await reported(state, [_balance(state, r) for r in page])
        return 200, KeyList(data=[key_info(state, b.record, b, now) for b in balances])
    await _respond(send, work())


def _balance(state: AppState, record: KeyRecord) -> Balance:
    balance = state.accounts.balance(record.hash)
    assert balance is not None
    return balance


async def create_key(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    async def work() -> tuple[int, KeyCreated]:
        _management(state, scope)
        raw = await read_body(scope, receive, MAX_KEY_BODY, state.settings.timeouts.client_body_s)
        body: CreateKeyRequest = _decode(raw, CreateKeyRequest)
        now = state.accounts.clock()
        options = body.crossroads
        key, record = make_key(
            name=body.name, now=now,
            management=isinstance(options, KeyOptions) and options.management is True,
            limit_usd=body.limit, reset=body.limit_reset,
            expires_at=_expiry(body.expires_at, now), rate_limit=_rate_limit(options))
        stored = await asyncio.to_thread(state.accounts.store.create, record)
        state.accounts.apply(stored)
        return 201, KeyCreated(data=key_info(state, stored, _balance(state, stored), now),
                               key=key)
    await _respond(send, work())


def _known(state: AppState, key_hash: str) -> KeyRecord:
    record = state.accounts.record(key_hash) if HASH_SHAPE.match(key_hash) else None
    if record is None:
        raise NotFound(f"No API key with hash {key_hash[:80]}")
    return record


async def get_key(state: AppState, scope: Scope, receive: Receive, send: Send,
                  key_hash: str) -> None:
    async def work() -> tuple[int, KeyResponse]:
        _management(state, scope)
        record = _known(state, key_hash)
        now = state.accounts.clock()
        (balance,) = await reported(state, [_balance(state, record)])
        return 200, KeyResponse(data=key_info(state, record, balance, now))
    await _respond(send, work())


async def update_key(state: AppState, scope: Scope, receive: Receive, send: Send,
                     key_hash: str) -> None:
    async def work() -> tuple[int, KeyResponse]:
        _management(state, scope)
        _known(state, key_hash)
        raw = await read_body(scope, receive, MAX_KEY_BODY, state.settings.timeouts.client_body_s)
        body: UpdateKeyRequest = _decode(raw, UpdateKeyRequest)
        changes: dict[str, Any] = {}
        if not isinstance(body.name, msgspec.UnsetType):
            changes["name"] = body.name
        if not isinstance(body.disabled, msgspec.UnsetType):
            changes["disabled"] = body.disabled
        if not isinstance(body.limit, msgspec.UnsetType):
            changes["limit_micro"] = None if body.limit is None else round(body.limit * MICRO)
        if not isinstance(body.limit_reset, msgspec.UnsetType):
            changes["limit_reset"] = body.limit_reset
        options = body.crossroads
        if isinstance(options, KeyOptions):
            if not isinstance(options.management, msgspec.UnsetType):
                changes["management"] = options.management
            if not isinstance(options.rate_limit, msgspec.UnsetType):
                changes["rate_limit"] = _rate_limit(options)
        stored = await asyncio.to_thread(state.accounts.store.update, key_hash, changes)
        if stored is None:
            raise NotFound(f"No API key with hash {key_hash[:80]}")
        state.accounts.apply(stored)
        now = state.accounts.clock()
        return 200, KeyResponse(data=key_info(state, stored, _balance(state, stored), now))
    await _respond(send, work())


async def delete_key(state: AppState, scope: Scope, receive: Receive, send: Send,
                     key_hash: str) -> None:
    async def work() -> tuple[int, KeyDeleted]:
        _management(state, scope)
        _known(state, key_hash)
        stored = await asyncio.to_thread(state.accounts.store.update, key_hash,
                                         {"deleted": True})
        if stored is None:
            raise NotFound(f"No API key with hash {key_hash[:80]}")
        state.accounts.apply(stored)
        return 200, KeyDeleted(deleted=True)
    await _respond(send, work())
