"""What a simulated endpoint is: its profile, the fleet of them, and the TOML file that holds both.

    seed = 1                      # outcome and timing RNGs derive from (seed, endpoint name)
    time_scale = 1.0              # multiplies sampled latencies; 0 = no delays at all

    [[endpoint]]
    name = "fast"                 # URL prefix: http://HOST:PORT/fast/v1; answers any model
    context_length = 131072       # required
    max_output = 8192             # required
    ttft_ms = 300                 # median; lognormal with ttft_sigma (0 = fixed)
    tokens_per_s = 600            # median; lognormal with tps_sigma
    cache = true                  # prompt caching of message prefixes >= cache_min_tokens
    reasoning = true              # thinks before answering: `reasoning`, reasoning_tokens long
    fault_rates = { http_429_retry_after = 0.05, http_500 = 0.01 }
    outages = [[60, 90]]          # seconds since sim start (or since POST /_sim/reset)
    price = { prompt = 0.08, completion = 0.08 }  # $ per 1M tokens; not used by the sim, read
                                  # by tools that build a router catalog for the fleet (replay)

    [[endpoint]]
    name = "groq.llama-3.3-70b"   # the control API's handle: /_sim/endpoints/groq.llama-3.3-70b
    provider = "groq"             # URL prefix http://HOST:PORT/groq/v1, shared with the provider's
    model = "llama-3.3-70b-versatile"   # other models; answers only requests for this model
    context_length = 131072
    max_output = 32768

    [[endpoint]]
    name = "deepinfra.bge-m3"     # an embedding model: POST /deepinfra/v1/embeddings
    provider = "deepinfra"
    model = "BAAI/bge-m3"
    context_length = 8192
    max_output = 8192
    dimensions = 1024             # the size of its vectors

A fleet may also carry a timeline of incidents (see timeline.py for what each does):

    compress = 1.0                # timeline seconds per wall second (2 = the script runs twice
                                  # as fast; latencies are not compressed)
    [[event]]
    at = 5                        # seconds since sim start (or since POST /_sim/reset)
    endpoint = "fast"
    kind = "slowdown"             # outage | slowdown | errors | rate_limit | price
    for_s = 28                    # omitted: to the end
    speed_factor = 5              # tokens/s divided by 5
    ttft_factor = 5               # time to first token multiplied by 5

Every SimProfile field may appear in an `[[endpoint]]` table; see the class for defaults.
Profiles are frozen values. The running sim keeps the current profile of each endpoint next to the
original one, so `PATCH /_sim/endpoints/NAME` replaces a value and `POST /_sim/reset` puts the
original back; nothing here is ever mutated.
"""

from __future__ import annotations

import math
import tomllib
from typing import Annotated, Any, Final, Literal, get_args

import msgspec

__all__ = [
    "EVENT_FIELDS",
    "OUTCOMES",
    "Event",
    "EventKind",
    "Outcome",
    "Price",
    "ReplaySettings",
    "SimConfigError",
    "SimFleet",
    "SimProfile",
    "load_fleet",
    "parse_fleet",
    "patch_profile",
]

# The outcome names are a contract with the router's test suite: add names, never rename one.
Outcome = Literal[
    "ok",
    "http_400",
    "context_length",
    "content_filter",
    "http_401",
    "http_402",
    "http_404",
    "http_408",
    "http_413",
    "http_429",
    "http_429_retry_after",
    "http_500",
    "http_502",
    "http_503",
    "reset",
    "no_answer",
    "slow_first_token",
    "stream_cut",
    "stream_stall",
    "malformed_sse",
    "no_done",
    "empty_200",
    "junk_line",
]
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
# Names become the first path segment of every URL, and "_sim" is the control API.
EndpointName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]


class SimConfigError(ValueError):
    """A fleet file or a profile patch that does not validate; the message names the key path."""


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What an endpoint charges, in dollars per million tokens (a router catalog's units)."""

    prompt: NonNegative
    completion: NonNegative


EventKind = Literal["outage", "slowdown", "errors", "rate_limit", "price"]

# The fields each kind of event may set beyond the common ones; the rest must keep defaults.
EVENT_FIELDS: Final[dict[str, frozenset[str]]] = {
    "outage": frozenset({"outcome"}),
    "slowdown": frozenset({"speed_factor", "ttft_factor"}),
    "errors": frozenset({"fault_rates"}),
    "rate_limit": frozenset({"retry_after_s", "share"}),
    "price": frozenset({"price"}),
}
_REQUIRED: Final[dict[str, str]] = {"errors": "fault_rates", "price": "price"}
_EVENT_DEFAULTS: Final[dict[str, object]] = {
    "outcome": "http_503", "speed_factor": 1.0, "ttft_factor": 1.0, "fault_rates": {},
    "retry_after_s": 1.0, "share": 1.0, "price": None,
}


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One incident of a fleet's timeline: from `at` for `for_s` seconds (None: to the end)."""

    at: NonNegative
    endpoint: EndpointName
    kind: EventKind
    for_s: NonNegative | None = None
    outcome: Outcome = "http_503"
    speed_factor: Positive = 1.0
    ttft_factor: Positive = 1.0
    fault_rates: dict[Outcome, Probability] = msgspec.field(default_factory=dict)
    retry_after_s: NonNegative = 1.0
    share: Probability = 1.0
    price: Price | None = None

    def __post_init__(self) -> None:
        allowed = EVENT_FIELDS[self.kind]
        for name, default in _EVENT_DEFAULTS.items():
            if name not in allowed and getattr(self, name) != default:
                raise ValueError(f"a {self.kind} event has no field {name!r}")
        required = _REQUIRED.get(self.kind)
        if required is not None and not getattr(self, required):
            raise ValueError(f"a {self.kind} event needs {required!r}")
        if sum(self.fault_rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault_rates must sum to at most 1")

    @property
    def end(self) -> float:
        """When it stops applying (infinity for an event without `for_s`)."""
        return math.inf if self.for_s is None else self.at + self.for_s


class ReplaySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Defaults for `crossroads replay` of this fleet (the sim ignores them)."""

    model: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9._-]+/[a-z0-9._-]+$")] = "replay/model"
    duration_s: Positive | None = None  # None: 10 s after the last incident ends
    rate: Positive = 10.0
    max_tokens: PositiveInt | None = None


class SimProfile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One simulated provider endpoint. Times are in milliseconds or seconds as the name says."""

    name: EndpointName
    context_length: PositiveInt
    max_output: PositiveInt
    model: str = "sim-model"
    # Set: one of this provider's models, picked by the request's `model` like a real provider
    # does. None: a stand-in served under its own name that answers whatever model is asked.
    provider: EndpointName | None = None
    ttft_ms: NonNegative = 500.0
    ttft_sigma: NonNegative = 0.2
    tokens_per_s: Positive = 100.0
    tps_sigma: NonNegative = 0.15
    completion_tokens: PositiveInt = 64
    # An embedding model's vector size: the endpoint serves /v1/embeddings (see embeddings.py).
    dimensions: PositiveInt | None = None
    supports_images: bool = True
    supports_tools: bool = True
    # A model that reasons: its answers start with `reasoning` (unless the request excludes or
    # disables it), `reasoning_tokens` long at medium effort, counted in completion tokens.
    reasoning: bool = False
    reasoning_tokens: PositiveInt = 32
    image_tokens: Annotated[int, msgspec.Meta(ge=0)] = 765
    cache: bool = False
    cache_min_tokens: Annotated[int, msgspec.Meta(ge=0)] = 1024
    usage_prompt_includes_cached: bool = True
    api_key: str | None = None
    fault_rates: dict[Outcome, Probability] = msgspec.field(default_factory=dict)
    outages: tuple[tuple[NonNegative, NonNegative], ...] = ()
    down: bool = False
    outage_outcome: Outcome = "http_503"
    retry_after_s: NonNegative = 1.0
    slow_first_token_s: NonNegative = 30.0
    # After how many streamed tokens stream_cut, stream_stall, malformed_sse and junk_line
    # strike; unset: half the answer for a cut or stall, 3 tokens for an injected line.
    fault_after_tokens: PositiveInt | None = None
    # Whether a trailing assistant message is continued (continuation.py) or refused (400).
    supports_prefill: bool = True
    seed: int | None = None
    price: Price | None = None

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here with the path of this struct.
        if sum(self.fault_rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault_rates must sum to at most 1")
        for start, end in self.outages:
            if end < start:
                raise ValueError(f"outage window [{start}, {end}] ends before it starts")


class SimFleet(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Every endpoint the sim serves, one global seed, and one clock multiplier.

    `time_scale` multiplies every sampled latency (TTFT and token pacing): 0 removes all delays.
    Fault durations (`slow_first_token_s`) and outage windows are wall-clock and not scaled, since
    they exist to outlast a client's timeout. `compress` runs the timeline's clock faster than
    the wall clock (events at `at / compress` wall seconds); it leaves latencies alone.
    """

    endpoints: tuple[SimProfile, ...] = msgspec.field(name="endpoint", default=())
    seed: int = 0
    time_scale: NonNegative = 1.0
    timeline: tuple[Event, ...] = msgspec.field(name="event", default=())
    compress: Positive = 1.0
    replay: ReplaySettings = msgspec.field(default_factory=ReplaySettings)

    def __post_init__(self) -> None:
        # Constraints in Annotated metadata only bind on decode; direct construction checks here.
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self.compress <= 0:
            raise ValueError("compress must be > 0")
        seen: set[str] = set()
        for profile in self.endpoints:
            if profile.name in seen:
                raise ValueError(f"endpoint name {profile.name!r} appears twice")
            seen.add(profile.name)
        for event in self.timeline:
            if event.endpoint not in seen:
                raise ValueError(f"an event names no endpoint of the fleet: {event.endpoint!r}")
        models: set[tuple[str, str]] = set()
        providers = {p.provider for p in self.endpoints if p.provider is not None}
        for profile in self.endpoints:
            if profile.provider is None:
                if profile.name in providers:
                    raise ValueError(f"endpoint name {profile.name!r} is also a provider's prefix")
                continue
            pair = (profile.provider, profile.model)
            if pair in models:
                raise ValueError(f"provider {pair[0]!r} serves model {pair[1]!r} twice")
            models.add(pair)

    def prefix(self, name: str) -> str | None:
        """The URL path segment an endpoint is served under, or None for an unknown name."""
        for profile in self.endpoints:
            if profile.name == name:
                return profile.provider or profile.name
        return None


def parse_fleet(data: Any, source: str = "fleet") -> SimFleet:
    """Validate already-decoded fleet data (the TOML document as a dict)."""
    try:
        return msgspec.convert(data, SimFleet)
    except msgspec.ValidationError as exc:
        raise SimConfigError(f"{source}: {exc}") from exc


def load_fleet(path: str) -> SimFleet:
    """Read a fleet TOML file: top-level `seed`, `time_scale` and `[[endpoint]]` tables."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SimConfigError(f"{path}: {exc}") from exc
    return parse_fleet(data, path)


def patch_profile(profile: SimProfile, patch: Any) -> SimProfile:
    """Merge a partial profile (decoded JSON) into `profile`, validating the result as a whole."""
    if not isinstance(patch, dict):
        raise SimConfigError("patch: expected a JSON object of profile fields")
    if "name" in patch and patch["name"] != profile.name:
        raise SimConfigError("patch: an endpoint cannot be renamed - at `$.name`")
    # The server found this endpoint by provider and model when the sim started.
    fixed = ("provider", "model") if profile.provider is not None else ("provider",)
    for field in fixed:
        if field in patch and patch[field] != getattr(profile, field):
            raise SimConfigError(f"patch: an endpoint's {field} is fixed - at `$.{field}`")
    merged = msgspec.to_builtins(profile)
    merged.update(patch)
    try:
        return msgspec.convert(merged, SimProfile)
    except msgspec.ValidationError as exc:
        raise SimConfigError(f"patch: {exc}") from exc
