"""The catalog: which models exist and which provider endpoints serve them.

Values here are frozen. Prices are integers in micro-dollars per million tokens (per image for
`image`, per request for `request`), so `tokens * price // 1_000_000` is a cost in micro-dollars
with no float anywhere near money. API keys are not part of an `Endpoint`: they live in
`Catalog.keys`, which nothing serialises, so an endpoint can be shown anywhere without leaking one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from crossroads.credentials.registry import CredentialSet

MICRO = 1_000_000

# Larger is more faithful to the original weights; Exacto prefers the most faithful endpoint.
QUANTIZATION_RANK: Mapping[str, int] = {
    "fp32": 9,
    "bf16": 8,
    "fp16": 8,
    "fp8": 6,
    "int8": 5,
    "fp6": 4,
    "fp4": 3,
    "int4": 2,
    "unknown": 0,
}


class Pricing(msgspec.Struct, frozen=True):
    """Micro-dollars per 1M tokens (image: per image; request: per request)."""

    prompt: int
    completion: int
    cache_read: int | None = None
    cache_write: int | None = None
    image: int = 0
    request: int = 0

    @property
    def is_free(self) -> bool:
        return not (self.prompt or self.completion or self.request or self.image)

    @property
    def caches_cheaper(self) -> bool:
        """Cache reads cost less than fresh prompt tokens: worth routing a conversation back."""
        return self.cache_read is not None and self.cache_read < self.prompt

    def blended(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Expected price per token of this request's mix of input and output."""
        total = max(prompt_tokens + completion_tokens, 1)
        return (self.prompt * prompt_tokens + self.completion * completion_tokens) / total


class CredentialSpec(msgspec.Struct, frozen=True):
    """How an endpoint is authorised: a kind of `crossroads.credentials.registry.FACTORIES`
    and its settings (names of variables and files, a token URI — never a secret itself)."""

    kind: str = "api_key"
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)


class DataPolicy(msgspec.Struct, frozen=True):
    training: bool = False
    retains_prompts: bool = False
    zdr: bool = False


class Endpoint(msgspec.Struct, frozen=True):
    """One model at one provider."""

    model: str
    provider: str
    provider_name: str
    tag: str
    upstream_model: str
    base_url: str
    pricing: Pricing
    context_length: int
    max_output: int
    quantization: str = "unknown"
    supported_parameters: frozenset[str] = frozenset()
    input_modalities: frozenset[str] = frozenset({"text"})
    data_policy: DataPolicy = DataPolicy()
    api_key_env: str | None = None
    # Where its credential comes from; None: the static key of `api_key_env`, if any.
    credentials: CredentialSpec | None = None
    # The wire format the endpoint speaks: a key of `crossroads.providers.PROVIDERS`.
    dialect: str = "openai"
    # It continues a trailing assistant message (prefill), so a broken stream can be resumed
    # there (resume.py).
    supports_prefill: bool = False
    # OpenAI's convention: usage.prompt_tokens includes cached tokens. Some providers report
    # only the uncached part; their endpoints set this false and the adapter adds them back.
    usage_prompt_includes_cached: bool = True
    # Priors for speed-based routing until live measurements exist.
    nominal_throughput: float = 50.0
    nominal_ttft_ms: float = 1000.0
    available: bool = True
    unavailable_reason: str | None = None
    simulated: bool = False
    # Derived, never configured: the identity live stats and keys are filed under.
    key: str = ""

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "key", f"{self.model}::{self.tag}")

    def serves_images(self) -> bool:
        return "image" in self.input_modalities

    def matches_provider(self, name: str) -> bool:
        """A base slug matches all its variants: "deepinfra" matches "deepinfra/fp8"."""
        name = name.lower()
        return name in (self.provider, self.tag) or self.tag.startswith(name + "/")

    @property
    def quantization_rank(self) -> int:
        return QUANTIZATION_RANK.get(self.quantization, 1)


class Architecture(msgspec.Struct, frozen=True):
    """How a model is built, as its model card states it. Parameters are in billions."""

    kind: str | None = None  # "dense" or "moe"
    parameters_b: float | None = None
    active_parameters_b: float | None = None  # per token; equals parameters_b when dense
    experts: int | None = None  # routed experts per MoE layer
    active_experts: int | None = None  # routed experts each token goes through


class Model(msgspec.Struct, frozen=True):
    slug: str
    name: str
    description: str = ""
    canonical_slug: str | None = None
    context_length: int = 0
    input_modalities: frozenset[str] = frozenset({"text"})
    output_modalities: frozenset[str] = frozenset({"text"})
    created: int = 0
    pricing: Pricing | None = None
    exacto_provider: str | None = None
    hugging_face_id: str | None = None
    knowledge_cutoff: str | None = None
    # OpenRouter's tokenizer family ("Llama4", "Qwen3", …) and chat template ("llama3", …).
    tokenizer: str | None = None
    instruct_type: str | None = None
    # `created` is when OpenRouter listed the model; `released` is the maker's release day
    # ("YYYY-MM-DD"), which the model page shows.
    released: str | None = None
    license: str | None = None
    architecture: Architecture | None = None
    # An embedding model (output modality "embeddings"): the size of its vectors.
    dimensions: int | None = None

    @property
    def embeds(self) -> bool:
        return "embeddings" in self.output_modalities

    @property
    def distillable(self) -> bool:
        """May its outputs train other models? Only licences that say so without conditions
        count (`provider.enforce_distillable_text`); community licences with their own terms
        do not."""
        return self.license in DISTILLABLE_LICENCES


DISTILLABLE_LICENCES = frozenset({"Apache-2.0", "MIT"})


class Provider(msgspec.Struct, frozen=True):
    """A company that hosts endpoints, as `GET /providers` lists it."""

    slug: str
    name: str
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    status_page_url: str | None = None


class EndpointTable(msgspec.Struct, frozen=True):
    """A model's available endpoints with the columns routing reads on every request.

    Derived once, when the catalog is built, so a routing decision reads prices, keys and the
    smallest limits from tuples instead of walking attribute chains of every endpoint; the
    extremes let routing see at a glance that a filter cannot remove anything.
    """

    endpoints: tuple[Endpoint, ...]  # available only, in catalog order
    keys: tuple[str, ...]
    positions: tuple[int, ...]  # each endpoint's index among all of the model's endpoints
    prompt: tuple[int, ...]
    completion: tuple[int, ...]
    prompt_f: tuple[float, ...]  # the same prices as floats, for float-only arithmetic
    completion_f: tuple[float, ...]
    initial: int  # endpoints of the model, available or not
    unavailable: tuple[str, ...]  # tags of the unavailable ones, in catalog order
    first_unavailable: int  # position of the first unavailable endpoint; -1 when none
    min_context: int
    max_context: int
    min_max_output: int
    min_price: int  # lowest prompt or completion price
    all_serve_images: bool
    any_caches_cheaper: bool  # some endpoint's cache reads are cheaper: stickiness can pay

    @classmethod
    def of(cls, endpoints: tuple[Endpoint, ...]) -> EndpointTable:
        available = [(i, e) for i, e in enumerate(endpoints) if e.available]
        kept = tuple(e for _, e in available)
        unavailable = [(i, e.tag) for i, e in enumerate(endpoints) if not e.available]
        prompt = tuple(e.pricing.prompt for e in kept)
        completion = tuple(e.pricing.completion for e in kept)
        return cls(
            endpoints=kept,
            keys=tuple(e.key for e in kept),
            positions=tuple(i for i, _ in available),
            prompt=prompt,
            completion=completion,
            prompt_f=tuple(float(p) for p in prompt),
            completion_f=tuple(float(c) for c in completion),
            initial=len(endpoints),
            unavailable=tuple(tag for _, tag in unavailable),
            first_unavailable=unavailable[0][0] if unavailable else -1,
            min_context=min((e.context_length for e in kept), default=0),
            max_context=max((e.context_length for e in kept), default=0),
            min_max_output=min((e.max_output for e in kept), default=0),
            min_price=min((*prompt, *completion), default=0),
            all_serve_images=all(e.serves_images() for e in kept),
            any_caches_cheaper=any(e.pricing.caches_cheaper for e in kept),
        )


_NO_ENDPOINTS = EndpointTable.of(())


class Catalog:
    """Models and their endpoints, looked up by slug. Immutable once built."""

    __slots__ = ("_by_model", "_credentials", "_keys", "_models", "_providers", "_subsets",
                 "_tables")

    def __init__(
        self,
        models: Iterable[Model],
        endpoints: Iterable[Endpoint],
        keys: Mapping[str, str],
        providers: Iterable[Provider] = (),
        credentials: CredentialSet | None = None,
    ) -> None:
        self._models = {m.slug: m for m in models}
        by_model: dict[str, list[Endpoint]] = {slug: [] for slug in self._models}
        for endpoint in endpoints:
            by_model.setdefault(endpoint.model, []).append(endpoint)
        self._by_model = {slug: tuple(eps) for slug, eps in by_model.items()}
        self._tables = {slug: EndpointTable.of(eps) for slug, eps in self._by_model.items()}
        self._keys = dict(keys)
        known = {p.slug: p for p in providers}
        for endpoint in self.all_endpoints():
            known.setdefault(endpoint.provider, Provider(endpoint.provider,
                                                         endpoint.provider_name))
        self._providers = known
        # Routing's memo of filtered tables per model (`routing.filters.apply_filters`): a cache
        # of values derived from the immutable tables, so the catalog stays immutable to readers.
        self._subsets: dict[str, dict[tuple[int, ...], EndpointTable]] = {}
        self._credentials = credentials

    def model(self, slug: str) -> Model | None:
        return self._models.get(slug)

    def models(self) -> tuple[Model, ...]:
        return tuple(self._models.values())

    def endpoints(self, slug: str) -> tuple[Endpoint, ...]:
        """Every endpoint of a model, available or not (the listing shows both)."""
        return self._by_model.get(slug, ())

    def routable(self, slug: str) -> tuple[Endpoint, ...]:
        return self.table(slug).endpoints

    def table(self, slug: str) -> EndpointTable:
        """The model's available endpoints as routing reads them (empty for an unknown slug)."""
        return self._tables.get(slug, _NO_ENDPOINTS)

    def subsets(self, slug: str) -> dict[tuple[int, ...], EndpointTable]:
        """The memo of this model's filtered tables, keyed by the survivors' indices."""
        memo = self._subsets.get(slug)
        if memo is None:
            memo = self._subsets.setdefault(slug, {}) if slug in self._tables else {}
        return memo

    def providers(self) -> tuple[Provider, ...]:
        """Every provider the catalog names, configured or only seen on an endpoint."""
        return tuple(self._providers.values())

    @property
    def credentials(self) -> CredentialSet:
        """Each endpoint's credential: how its requests are authorised, and whether they can
        be right now. Built from the static keys on first use when the caller gave none."""
        if self._credentials is None:
            # Imported here: the credentials import the provider seam, which imports us.
            from crossroads.credentials.registry import CredentialSet  # noqa: PLC0415

            self._credentials = CredentialSet(self.all_endpoints(), self._keys)
        return self._credentials

    def api_key(self, endpoint: Endpoint) -> str | None:
        return self._keys.get(endpoint_key(endpoint))

    def all_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for eps in self._by_model.values() for e in eps)


def endpoint_key(endpoint: Endpoint) -> str:
    return endpoint.key
