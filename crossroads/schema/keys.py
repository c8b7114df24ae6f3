"""The account routes: `GET /key`, `GET|POST /keys`, `GET|PATCH|DELETE /keys/{hash}`,
`GET /credits` — responses, and the request bodies the key routes accept."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

Reset = Literal["daily", "weekly", "monthly"]
Usd = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Interval = Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]{0,6}[smhd]$")]


class _Body(msgspec.Struct, kw_only=True):
    pass


class RateLimitInfo(_Body, kw_only=True):
    requests: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    interval: Interval


class KeyExtras(_Body, kw_only=True):
    management: bool
    rate_limit: RateLimitInfo | None
    limit_micro_usd: int | None
    limit_remaining_micro_usd: int | None
    usage_micro_usd: int
    reserved_micro_usd: int  # held by requests in flight
    requests_in_flight: int


class _KeyUsage(_Body, kw_only=True):
    """What both a key listing and `GET /key` say of a key's limit and spend (USD)."""

    label: str
    limit: float | None
    limit_remaining: float | None
    limit_reset: str | None
    include_byok_in_limit: bool
    usage: float
    usage_daily: float
    usage_weekly: float
    usage_monthly: float
    byok_usage: float
    byok_usage_daily: float
    byok_usage_weekly: float
    byok_usage_monthly: float


class KeyInfo(_KeyUsage, kw_only=True):
    hash: str
    name: str
    disabled: bool
    created_at: str
    updated_at: str | None
    expires_at: str | None
    last_used_at: str | None
    creator_user_id: str | None
    external_user: str | None
    workspace_id: str
    crossroads: KeyExtras | UnsetType = UNSET


class KeyResponse(_Body, kw_only=True):
    data: KeyInfo


class KeyCreated(_Body, kw_only=True):
    data: KeyInfo
    key: str


class KeyList(_Body, kw_only=True):
    data: list[KeyInfo]


class KeyDeleted(_Body, kw_only=True):
    deleted: Literal[True]


class LegacyRateLimit(_Body, kw_only=True):
    requests: int
    interval: str
    note: str


class KeyBudget(_Body, kw_only=True):
    budget_id: str | None
    guardrail_id: str | None
    include_byok: bool
    limit_usd: float
    remaining_usd: float
    spend_usd: float
    reset_interval: Reset | None
    resets_at: str | None
    scope: Literal["key_limit"]


class FreeModelDailyRequests(_Body, kw_only=True):
    limit: int
    remaining: int
    used: int


class CurrentKeyExtras(_Body, kw_only=True):
    hash: str
    reserved_micro_usd: int
    limit_remaining_micro_usd: int | None
    usage_micro_usd: int


class CurrentKey(_KeyUsage, kw_only=True):
    is_free_tier: bool
    is_management_key: bool
    is_provisioning_key: bool
    expires_at: str | None
    creator_user_id: str | None
    rate_limit: LegacyRateLimit
    allowed_data_regions: list[Literal["global", "europe", "us"]]
    budgets: list[KeyBudget]
    effective_budget: KeyBudget | None
    free_model_daily_requests: FreeModelDailyRequests
    organization_id: str | None
    workspace_id: str | None
    crossroads: CurrentKeyExtras | UnsetType = UNSET


class CurrentKeyResponse(_Body, kw_only=True):
    data: CurrentKey


class Credits(_Body, kw_only=True):
    total_credits: float
    total_usage: float


class CreditsExtras(_Body, kw_only=True):
    unlimited: bool
    total_credits_micro_usd: int
    total_usage_micro_usd: int


class CreditsResponse(_Body, kw_only=True):
    data: Credits
    crossroads: CreditsExtras | UnsetType = UNSET


# --- request bodies (strict: a misspelt field is a 400 naming it) ----------------------------


class KeyOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Crossroads' own key settings, beside OpenRouter's fields."""

    management: bool | UnsetType = UNSET
    rate_limit: RateLimitInfo | UnsetType | None = UNSET


class CreateKeyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    limit: Usd | None = None
    limit_reset: Reset | None = None
    expires_at: str | None = None
    include_byok_in_limit: bool = False
    workspace_id: str | None = None
    creator_user_id: str | None = None
    crossroads: KeyOptions | UnsetType = UNSET


class UpdateKeyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    limit: Usd | UnsetType | None = UNSET
    limit_reset: Reset | UnsetType | None = UNSET
    include_byok_in_limit: bool | UnsetType = UNSET
    crossroads: KeyOptions | UnsetType = UNSET
