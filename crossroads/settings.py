"""Configuration: the shipped catalog, an operator's TOML file and the environment → `Settings`.

An operator's file uses the tables of `data/catalog.toml` to add or override models (by slug),
providers (by slug) and endpoints (by model + tag), plus the `[server]`, `[routing]`,
`[timeouts]`, `[breaker]`, `[failover]` and `[limits]` tables below. Every mistake fails at start
with the key path that caused it (`endpoints[2].price.prompt: Expected float, got str`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from crossroads.catalog import (
    MICRO,
    Architecture,
    Catalog,
    CredentialSpec,
    DataPolicy,
    Endpoint,
    Model,
    Pricing,
    Provider,
    endpoint_key,
)
from crossroads.credentials.registry import FACTORIES, CredentialSet
from crossroads.errors import BadRequest
from crossroads.presets import PresetConfig, check_preset


class ConfigError(Exception):
    """Invalid configuration; the message starts with the key path."""


class _Table(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class ServerConfig(_Table, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: str = "."
    # Bodies carry base64 images, so the default is generous but finite.
    max_body_bytes: int = 32 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    # Browser origins allowed to call the API (CORS); None: "*" in open mode, none in keys mode.
    cors_origins: list[str] | None = None
    # PostgreSQL for the ledger, keys and presets (postgresql://user:pass@host/db); None: the
    # SQLite file in state_dir. The pool holds at most database_pool_size connections.
    database_url: str | None = None
    database_pool_size: int = 4
    # Live state shared by every replica (shared_state/): redis://[:password@]host:port/db,
    # rediss:// or unix://; None keeps it in this process's memory.
    redis_url: str | None = None
    # With Redis out of reach, a replica that never saw how many replicas share it assumes this
    # many when it takes its share of a key's limits (accounts/shared.py).
    replicas_hint: int = 2
    # Router processes on this machine, sharing the port (workers.py); "auto": one per core.
    workers: Annotated[int, msgspec.Meta(ge=1, le=1024)] | Literal["auto"] = 1


class AuthConfig(_Table, frozen=True):
    # "keys": every request needs an API key; "open": any bearer token (loopback only).
    # None: open when listening on loopback, keys otherwise.
    mode: Literal["keys", "open"] | None = None
    # The most one request may hold against its key's limit while it runs (reservation.py).
    max_reservation_usd: float = 1.0
    # Tokens an image may cost, at most, when reserving a request's worst case.
    image_token_bound: int = 6400


class RoutingConfig(_Table, frozen=True):
    seed: int | None = None
    max_attempts: int = 6
    # Balanced prices a request as prompt + this many output tokens when max_tokens is absent.
    expected_output_tokens: int = 500
    # An endpoint "has a significant outage" when, within the window, it failed at least
    # `outage_min_failures` times and at least `outage_failure_ratio` of its attempts.
    outage_window_s: float = 30.0
    outage_min_failures: int = 3
    outage_failure_ratio: float = 0.5
    # Demotion (the outage ratio and the uptime tiers) weighs outcomes by 2^(-age / this), so a
    # healed endpoint's recent successes outweigh its old failures within seconds (issue 18).
    health_half_life_s: float = 3.0
    # The share of requests that try first an endpoint the mode would prefer but that is
    # demoted, so a healed one is seen to have healed (never a cooling one: the breaker still
    # bounds what a dead endpoint costs to one attempt per cooldown).
    exploration_share: float = 0.05
    # Balanced's draw: "price" weighs 1/price² (OpenRouter's older method); "price_speed"
    # gives each endpoint a traffic share from its reliability-adjusted price, throughput and
    # TTFT, with a competitive edge and a shrinking exploration share (the newer method).
    balanced: Literal["price", "price_speed"] = "price"
    image_token_estimate: int = 1000
    # Sticky routing for prompt caches (routing/sticky.py).
    sticky: bool = True
    sticky_idle_s: float = 600.0
    # Continue a committed stream that breaks on an endpoint that takes a prefill (resume.py).
    resume_streams: bool = True


class TimeoutConfig(_Table, frozen=True):
    connect_s: float = 5.0
    headers_s: float = 30.0
    first_token_s: float = 30.0
    stall_s: float = 30.0
    total_s: float = 600.0
    keepalive_s: float = 3.0
    retry_after_max_wait_s: float = 2.0
    # How long a caller may take to send its request body once the headers are in.
    client_body_s: float = 30.0


class BreakerConfig(_Table, frozen=True):
    base_cooldown_s: float = 1.0
    # Cooldowns double per consecutive failure up to this: short, so a healed endpoint gets
    # traffic within seconds of healing however long its outage (one probe per 5 s at most
    # while it is down).
    max_cooldown_s: float = 5.0
    # A provider's own Retry-After is believed up to this long.
    max_retry_after_s: float = 60.0


class FailoverConfig(_Table, frozen=True):
    """How hard the relay holds on to the endpoint and model the caller asked for
    (`deadlines.py`, `retry_policy.py`, `hedging.py`)."""

    # Before leaving a model for the next in `models`: one retry of the same endpoint after a
    # transient 5xx, waiting this long (± half, jittered) or out the breaker's cooldown, and
    # only when that wait is at most `same_endpoint_max_wait_s` (a 429's Retry-After is
    # bounded by `timeouts.retry_after_max_wait_s`, as before).
    same_endpoint_retry: bool = True
    retry_backoff_s: float = 0.25
    same_endpoint_max_wait_s: float = 2.0
    # A stream's first-token deadline, when a fallback exists: ttft_multiple × the endpoint's
    # measured TTFT p99 (at least ttft_floor_s), plus ttft_per_1k_prompt_s per 1,000 prompt
    # tokens (a long prompt's prefill, not ill health, makes its first token late), never more
    # than timeouts.first_token_s; with fewer than ttft_min_samples measured, first_token_s.
    adaptive_first_token: bool = True
    ttft_multiple: float = 4.0
    ttft_floor_s: float = 2.0
    ttft_per_1k_prompt_s: float = 0.5
    ttft_min_samples: int = 10
    # At that deadline, start the next endpoint alongside instead of abandoning the first; the
    # first to produce content wins and the other is cancelled. The first attempt races until
    # first_token_s (or twice its budget, if longer). Streams only.
    hedge: bool = False


class LoggingConfig(_Table, frozen=True):
    # auto: text on a terminal, JSON otherwise (`serve --log-format` overrides).
    format: Literal["auto", "json", "text"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"
    # Log prompts and whole answers (one `content` line per generation): off unless opted in.
    content: bool = False


class MetricsConfig(_Table, frozen=True):
    # Apps (referer, else title) counted under their own name in /metrics; others: "other".
    apps: list[str] = []


class PriceConfig(_Table, frozen=True):
    prompt: float
    completion: float
    cache_read: float | None = None
    cache_write: float | None = None
    image: float = 0.0
    request: float = 0.0


class DataPolicyConfig(_Table, frozen=True):
    training: bool = False
    retains_prompts: bool = False
    zdr: bool = False


Dialect = Literal["openai", "anthropic", "gemini", "bedrock-converse"]
# Whether a dialect's endpoints continue a trailing assistant message (resume.py) unless the
# catalog says otherwise: Anthropic's Messages API does; OpenAI's answers it anew, and so is
# Gemini taken to (a trailing `model` turn is not documented as a prefix to continue), and so is
# Bedrock's Converse (Llama on Bedrock is not documented to continue an assistant turn).
PREFILL_BY_DIALECT: dict[str, bool] = {"openai": False, "anthropic": True, "gemini": False,
                                       "bedrock-converse": False}


class ProviderConfig(_Table, frozen=True):
    name: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    # `{ kind = "google", … }`: a key of `crossroads.credentials.registry.FACTORIES` and its
    # settings; absent, the static key of `api_key_env`.
    credentials: dict[str, str] | None = None
    dialect: Dialect | None = None
    supports_prefill: bool | None = None
    data_policy: DataPolicyConfig | None = None
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    status_page_url: str | None = None


class ArchitectureConfig(_Table, frozen=True):
    kind: Literal["dense", "moe"] | None = None
    parameters_b: float | None = None
    active_parameters_b: float | None = None
    experts: int | None = None
    active_experts: int | None = None


class ModelConfig(_Table, frozen=True):
    slug: str
    name: str | None = None
    description: str | None = None
    canonical_slug: str | None = None
    hugging_face_id: str | None = None
    created: int | None = None
    context_length: int | None = None
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    knowledge_cutoff: str | None = None
    price: PriceConfig | None = None
    exacto_provider: str | None = None
    tokenizer: str | None = None
    instruct_type: str | None = None
    released: str | None = None
    license: str | None = None
    architecture: ArchitectureConfig | None = None
    dimensions: int | None = None


class EndpointConfig(_Table, frozen=True):
    model: str
    provider: str
    tag: str | None = None
    enabled: bool | None = None
    upstream_model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    credentials: dict[str, str] | None = None
    dialect: Dialect | None = None
    quantization: str | None = None
    context_length: int | None = None
    max_output: int | None = None
    price: PriceConfig | None = None
    supported_parameters: list[str] | None = None
    input_modalities: list[str] | None = None
    data_policy: DataPolicyConfig | None = None
    nominal_throughput: float | None = None
    nominal_ttft_ms: float | None = None
    usage_prompt_includes_cached: bool | None = None
    supports_prefill: bool | None = None


class ConfigFile(_Table, frozen=True):
    server: ServerConfig | None = None
    auth: AuthConfig | None = None
    routing: RoutingConfig | None = None
    timeouts: TimeoutConfig | None = None
    breaker: BreakerConfig | None = None
    failover: FailoverConfig | None = None
    logging: LoggingConfig | None = None
    metrics: MetricsConfig | None = None
    models: list[ModelConfig] = []
    providers: dict[str, ProviderConfig] = {}
    endpoints: list[EndpointConfig] = []
    presets: dict[str, PresetConfig] = {}


class Settings(msgspec.Struct, frozen=True):
    server: ServerConfig
    routing: RoutingConfig
    timeouts: TimeoutConfig
    breaker: BreakerConfig
    catalog: Catalog
    config_path: str | None = None
    auth: AuthConfig = AuthConfig()
    presets: dict[str, PresetConfig] = {}
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    failover: FailoverConfig = FailoverConfig()

    @property
    def database_path(self) -> Path:
        """The ledger's and the accounts' SQLite file."""
        return Path(self.server.state_dir) / "crossroads.db"


_S = TypeVar("_S", bound=msgspec.Struct)
_V = TypeVar("_V")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DAY = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")


def _read_toml(text: str, origin: str) -> ConfigFile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(raw, ConfigFile)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{origin}: {_key_path(str(exc))}") from None


def _key_path(message: str) -> str:
    """msgspec says "... - at `$.endpoints[2].price`"; lead with the path instead."""
    text, sep, where = message.rpartition(" - at `$.")
    if not sep:
        return message
    return f"{where.rstrip('`')}: {text}"


def _overlay(base: _S | None, patch: _S) -> _S:
    """Fields the patch sets (non-None) win; the rest come from base."""
    if base is None:
        return patch
    changes = {
        name: value
        for name in patch.__struct_fields__
        if (value := getattr(patch, name)) is not None
    }
    return msgspec.structs.replace(base, **changes)


def _price(config: PriceConfig) -> Pricing:
    def micro(value: float | None) -> int | None:
        return None if value is None else round(value * MICRO)

    return Pricing(
        prompt=round(config.prompt * MICRO),
        completion=round(config.completion * MICRO),
        cache_read=micro(config.cache_read),
        cache_write=micro(config.cache_write),
        image=round(config.image * MICRO),
        request=round(config.request * MICRO),
    )


def _policy(config: DataPolicyConfig | None) -> DataPolicy:
    if config is None:
        return DataPolicy()
    return DataPolicy(training=config.training, retains_prompts=config.retains_prompts,
                      zdr=config.zdr)


def _build_model(config: ModelConfig, where: str) -> Model:
    if config.name is None:
        raise ConfigError(f"{where}.name: required for a new model")
    return Model(
        slug=config.slug,
        name=config.name,
        description=config.description or "",
        canonical_slug=config.canonical_slug,
        hugging_face_id=config.hugging_face_id,
        created=config.created or 0,
        context_length=config.context_length or 0,
        input_modalities=frozenset(config.input_modalities or ["text"]),
        output_modalities=frozenset(config.output_modalities or ["text"]),
        knowledge_cutoff=config.knowledge_cutoff,
        pricing=_price(config.price) if config.price else None,
        exacto_provider=config.exacto_provider,
        tokenizer=config.tokenizer,
        instruct_type=config.instruct_type,
        released=_day(config.released, f"{where}.released"),
        license=config.license,
        architecture=_architecture(config.architecture),
        dimensions=_dimensions(config, where),
    )


def _dimensions(config: ModelConfig, where: str) -> int | None:
    embeds = "embeddings" in (config.output_modalities or ())
    if config.dimensions is not None and config.dimensions <= 0:
        raise ConfigError(f"{where}.dimensions: must be positive")
    if embeds and config.dimensions is None:
        raise ConfigError(f"{where}.dimensions: required for an embedding model")
    return config.dimensions


def _day(value: str | None, where: str) -> str | None:
    # Pages sort and print release days as strings, so only one spelling may get in.
    if value is not None and not _DAY.fullmatch(value):
        raise ConfigError(f"{where}: expected YYYY-MM-DD, got {value!r}")
    return value


def _architecture(config: ArchitectureConfig | None) -> Architecture | None:
    if config is None:
        return None
    return Architecture(kind=config.kind, parameters_b=config.parameters_b,
                        active_parameters_b=config.active_parameters_b,
                        experts=config.experts, active_experts=config.active_experts)


def _require(value: _V | None, where: str, field: str) -> _V:
    if value is None:
        raise ConfigError(f"{where}.{field}: required for a new endpoint")
    return value


def _build_endpoint(
    config: EndpointConfig,
    provider: ProviderConfig,
    where: str,
    env: Mapping[str, str],
    keys: dict[str, str],
) -> Endpoint:
    base_url = _require(config.base_url or provider.base_url, where, "base_url")
    key_env = config.api_key_env or provider.api_key_env
    credentials = _credential_spec(config.credentials or provider.credentials, where, env)
    if credentials is not None and credentials.kind == "api_key":
        key_env = credentials.option("env") or key_env
        credentials = None
    missing_refs = [name for name in _ENV_REF.findall(base_url) if not env.get(name)]
    base_url = _ENV_REF.sub(lambda m: env.get(m.group(1), ""), base_url).rstrip("/")
    reason = None
    if missing_refs:
        reason = f"base URL needs {', '.join(missing_refs)}"
    elif key_env and not env.get(key_env):
        reason = f"no API key ({key_env} is not set)"
    context_length = _require(config.context_length, where, "context_length")
    for field, value in (("context_length", context_length), ("max_output", config.max_output)):
        if value is not None and value <= 0:
            raise ConfigError(f"{where}.{field}: must be positive")
    dialect = config.dialect or provider.dialect or "openai"
    if dialect != "openai" and config.usage_prompt_includes_cached is False:
        # Other dialects normalise their own usage; the flag would count cache reads twice.
        raise ConfigError(f"{where}.usage_prompt_includes_cached: only for the openai dialect")
    endpoint = Endpoint(
        model=config.model,
        provider=config.provider,
        provider_name=provider.name or config.provider,
        tag=config.tag or config.provider,
        upstream_model=config.upstream_model or config.model,
        base_url=base_url,
        pricing=_price(_require(config.price, where, "price")),
        context_length=context_length,
        max_output=config.max_output or context_length,
        quantization=(config.quantization or "unknown").lower(),
        supported_parameters=frozenset(config.supported_parameters or ()),
        input_modalities=frozenset(config.input_modalities or ["text"]),
        data_policy=_policy(config.data_policy or provider.data_policy),
        api_key_env=key_env,
        credentials=credentials,
        dialect=dialect,
        supports_prefill=_first_set(config.supports_prefill, provider.supports_prefill,
                                    PREFILL_BY_DIALECT.get(dialect, False)),
        nominal_throughput=config.nominal_throughput or 50.0,
        nominal_ttft_ms=config.nominal_ttft_ms or 1000.0,
        usage_prompt_includes_cached=config.usage_prompt_includes_cached is not False,
        available=reason is None,
        unavailable_reason=reason,
    )
    if reason is None and key_env:
        keys[endpoint_key(endpoint)] = env[key_env]
    return endpoint


def _credential_spec(config: Mapping[str, str] | None, where: str,
                     env: Mapping[str, str]) -> CredentialSpec | None:
    if config is None:
        return None
    kind = config.get("kind", "api_key")
    if kind not in FACTORIES:
        raise ConfigError(f"{where}.credentials.kind: unknown kind {kind!r} "
                          f"(known: {', '.join(sorted(FACTORIES))})")
    options = tuple(sorted((k, v) for k, v in config.items() if k != "kind"))
    spec = CredentialSpec(kind, options)
    if kind == "api_key":
        if set(dict(options)) - {"env"}:
            raise ConfigError(f"{where}.credentials: an api_key credential takes only `env`")
        return spec
    try:
        # Building one checks its settings; it mints nothing until the keeper asks.
        FACTORIES[kind](spec, env)
    except ValueError as exc:
        raise ConfigError(f"{where}.credentials: {exc}") from None
    return spec


def _first_set(*values: bool | None) -> bool:
    return next((v for v in values if v is not None), False)


def shipped_config() -> ConfigFile:
    text = resources.files("crossroads").joinpath("data/catalog.toml").read_text("utf-8")
    return _read_toml(text, "shipped catalog")


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the shipped catalog, the operator's file (if any) and `env`."""
    env = os.environ if env is None else env
    layers = [("shipped catalog", shipped_config())]
    if path is not None:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        layers.append((path, _read_toml(text, path)))
    return settings_from_layers(layers, path, env)


def settings_from_layers(layers: list[tuple[str, ConfigFile]], path: str | None,
                         env: Mapping[str, str], check_ranges: bool = True) -> Settings:
    """Merge parsed layers (origin, file), later ones winning; `check-config` calls this
    directly to find every error rather than the first."""
    tables: dict[str, Any] = {}
    models: dict[str, tuple[ModelConfig, str]] = {}
    providers: dict[str, ProviderConfig] = {}
    endpoints: dict[tuple[str, str], tuple[EndpointConfig, str]] = {}
    presets: dict[str, PresetConfig] = {}
    for origin, layer in layers:
        for slug, given in layer.presets.items():
            try:
                check_preset(slug, given, f"presets.{slug}")
            except BadRequest as error:
                raise ConfigError(f"{origin}: {error.message}") from None
            presets[slug] = given
        for table in ("server", "auth", "routing", "timeouts", "breaker", "failover", "logging",
                      "metrics"):
            if (value := getattr(layer, table)) is not None:
                tables[table] = value
        for slug, provider in layer.providers.items():
            providers[slug] = _overlay(providers.get(slug), provider)
        for i, model in enumerate(layer.models):
            old = models.get(model.slug)
            models[model.slug] = (_overlay(old[0] if old else None, model),
                                  old[1] if old else f"{origin}: models[{i}]")
        for i, ep in enumerate(layer.endpoints):
            key = (ep.model, ep.tag or ep.provider)
            old_ep = endpoints.get(key)
            endpoints[key] = (_overlay(old_ep[0] if old_ep else None, ep),
                              old_ep[1] if old_ep else f"{origin}: endpoints[{i}]")

    keys: dict[str, str] = {}
    built_models = [_build_model(cfg, where) for cfg, where in models.values()]
    built_endpoints = []
    for (model_slug, _tag), (cfg, where) in endpoints.items():
        if cfg.enabled is False:
            continue
        if model_slug not in models:
            raise ConfigError(f"{where}.model: unknown model {model_slug!r}")
        if cfg.provider not in providers and cfg.base_url is None:
            raise ConfigError(f"{where}.provider: unknown provider {cfg.provider!r}")
        provider = providers.get(cfg.provider, ProviderConfig())
        built_endpoints.append(_build_endpoint(cfg, provider, where, env, keys))

    settings = Settings(
        server=tables.get("server", ServerConfig()),
        routing=tables.get("routing", RoutingConfig()),
        timeouts=tables.get("timeouts", TimeoutConfig()),
        breaker=tables.get("breaker", BreakerConfig()),
        auth=tables.get("auth", AuthConfig()),
        catalog=Catalog(built_models, built_endpoints, keys, [
            Provider(slug, cfg.name or slug, cfg.privacy_policy_url, cfg.terms_of_service_url,
                     cfg.status_page_url)
            for slug, cfg in providers.items()], CredentialSet(built_endpoints, keys, env)),
        config_path=path,
        presets=presets,
        logging=tables.get("logging", LoggingConfig()),
        metrics=tables.get("metrics", MetricsConfig()),
        failover=tables.get("failover", FailoverConfig()),
    )
    if check_ranges:
        for problem in range_problems(settings):
            raise ConfigError(problem)
        check_redis_url(settings.server.redis_url)
    return settings


def range_problems(settings: Settings) -> list[str]:
    """Every setting outside its range, as `key.path: out of range`."""
    checks = (
        ("server.port", 0 <= settings.server.port <= 65535),
        ("server.max_body_bytes", settings.server.max_body_bytes > 0),
        ("routing.max_attempts", settings.routing.max_attempts >= 1),
        ("routing.outage_failure_ratio", 0 <= settings.routing.outage_failure_ratio <= 1),
        ("routing.health_half_life_s", settings.routing.health_half_life_s > 0),
        ("routing.exploration_share", 0 <= settings.routing.exploration_share <= 0.5),
        ("breaker.max_retry_after_s", settings.breaker.max_retry_after_s >= 0),
        ("timeouts", all(v > 0 for v in msgspec.structs.astuple(settings.timeouts))),
        ("breaker.base_cooldown_s", 0 <= settings.breaker.base_cooldown_s
         <= settings.breaker.max_cooldown_s),
        ("failover", all(v >= 0 for v in msgspec.structs.astuple(settings.failover))),
        ("failover.ttft_multiple", settings.failover.ttft_multiple > 0),
        ("auth.max_reservation_usd", 0 < settings.auth.max_reservation_usd <= 1e6),
        ("auth.image_token_bound", settings.auth.image_token_bound >= 0),
    )
    return [f"{path}: out of range" for path, ok in checks if not ok]


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def check_redis_url(url: str | None) -> None:
    if url is not None and not url.startswith(REDIS_SCHEMES):
        raise ConfigError(f"server.redis_url: must start with {', '.join(REDIS_SCHEMES)}")
