"""OpenRouter's published response shapes, as msgspec structs: the contract our bodies keep.

Written from OpenRouter's OpenAPI document (`openapi/openapi.yaml` in `OpenRouterTeam/docs`) and
from what the pinned official SDKs require (README lists them), for every route crossroads shares
with OpenRouter. A field the schema requires is required here (`T` or `T | None`, no default); an
optional one defaults to `UNSET` and is left out of the body when we have nothing to say.

Two uses. Low-traffic routes (models, endpoints, generation, keys) build their bodies from these
structs, so mypy holds them to the contract. Chat bodies are upstream JSON rewritten in place on
the hot path; `check.py` validates them against these structs whenever response checking is on
(every loopback test runs with it on), so a body that drifts fails a test, not a user.

Crossroads' own data never sits beside OpenRouter's fields under a name OpenRouter might one day
use: every object that carries some has one `crossroads` member, and it is all in there.
"""
