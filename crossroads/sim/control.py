"""The control API under /_sim: what tests use to watch and steer the simulated fleet.

    GET   /_sim/health                          {"ok": true}
    GET   /_sim/endpoints                       {name: {profile, requests, active, outcomes}}
    GET   /_sim/endpoints/NAME                  one of the above
    PATCH /_sim/endpoints/NAME                  partial profile, merged and validated
    GET   /_sim/endpoints/NAME/script           {"outcomes": [queued...]}
    POST  /_sim/endpoints/NAME/script           {"outcomes": [...], "replace": false}
    GET   /_sim/endpoints/NAME/requests         {"requests": [last 1000 log entries]}
    GET   /_sim/fleet                           {"time_scale": x}
    PATCH /_sim/fleet                           {"time_scale": x}
    GET   /_sim/google                          the OAuth endpoint: token lifetime, tokens issued
                                                and live, bearer tokens refused
    PATCH /_sim/google                          {"token_lifetime_s": x}
    POST  /_sim/google/revoke                   every token issued so far is refused from now on
    POST  /_sim/google/keys                     {"client_email", "key_id", "public_key"}: a
                                                service account the token endpoint trusts
    POST  /_sim/reset                           counters, logs, scripts, caches, profiles, RNGs,
                                                clock and time scale back to the start
Every answer is JSON; errors are OpenAI-style bodies with 400, 404 or 405.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec
import orjson

from crossroads.sim.endpoint import EndpointState, SimState
from crossroads.sim.profile import Outcome, SimConfigError, patch_profile
from crossroads.sim.wire import Exchange, error_body

__all__ = ["Control"]


class _Script(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    outcomes: list[Outcome]
    replace: bool = False


class _FleetPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    time_scale: Annotated[float, msgspec.Meta(ge=0)]


class _GooglePatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token_lifetime_s: Annotated[float, msgspec.Meta(gt=0)]


class _ServiceAccountKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_email: str
    key_id: str
    public_key: str


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Route = Callable[["Control", Exchange, str], Any]


def _decode(body: bytes, type_: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body or b"null", type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _ControlError(400, str(exc)) from exc


class Control:
    """Serves /_sim/* against one SimState; every route answers synchronously."""

    __slots__ = ("_state",)

    def __init__(self, state: SimState) -> None:
        self._state = state

    def handle(self, ex: Exchange) -> None:
        parts = ex.path.strip("/").split("/")[1:]
        name = ""
        if len(parts) >= 2 and parts[0] == "endpoints":
            name = parts[1]
            parts[1] = "*"
        shape = "/".join(parts)
        methods = _ROUTES.get(shape)
        try:
            if methods is None:
                raise _ControlError(404, f"no control route {ex.path!r}")
            route = methods.get(ex.method)
            if route is None:
                raise _ControlError(405, f"{ex.method.decode()} not allowed on {ex.path!r}")
            result = route(self, ex, name)
        except _ControlError as exc:
            ex.send(exc.status, error_body(exc.message, "invalid_request_error"))
            return
        ex.send(200, msgspec.json.encode(result))

    def _endpoint(self, name: str) -> EndpointState:
        ep = self._state.endpoints.get(name)
        if ep is None:
            raise _ControlError(404, f"no simulated endpoint named {name!r}")
        return ep

    @staticmethod
    def _summary(ep: EndpointState) -> dict[str, Any]:
        return {
            "profile": ep.profile,
            "requests": ep.requests,
            "active": ep.active,
            "outcomes": dict(ep.outcomes),
        }

    def health(self, ex: Exchange, name: str) -> Any:
        return {"ok": True}

    def list_endpoints(self, ex: Exchange, name: str) -> Any:
        return {n: self._summary(ep) for n, ep in self._state.endpoints.items()}

    def show_endpoint(self, ex: Exchange, name: str) -> Any:
        return self._summary(self._endpoint(name))

    def patch_endpoint(self, ex: Exchange, name: str) -> Any:
        ep = self._endpoint(name)
        try:
            patch = orjson.loads(ex.body or b"null")
            ep.set_profile(patch_profile(ep.profile, patch))
        except orjson.JSONDecodeError as exc:
            raise _ControlError(400, f"patch: body is not JSON ({exc})") from exc
        except SimConfigError as exc:
            raise _ControlError(400, str(exc)) from exc
        return self._summary(ep)

    def show_script(self, ex: Exchange, name: str) -> Any:
        return {"outcomes": list(self._endpoint(name).script)}

    def push_script(self, ex: Exchange, name: str) -> Any:
        ep = self._endpoint(name)
        script: _Script = _decode(ex.body, _Script)
        if script.replace:
            ep.script.clear()
        ep.script.extend(script.outcomes)
        return {"outcomes": list(ep.script)}

    def request_log(self, ex: Exchange, name: str) -> Any:
        return {"requests": list(self._endpoint(name).log)}

    def show_fleet(self, ex: Exchange, name: str) -> Any:
        return {"time_scale": self._state.time_scale}

    def patch_fleet(self, ex: Exchange, name: str) -> Any:
        patch: _FleetPatch = _decode(ex.body, _FleetPatch)
        self._state.time_scale = patch.time_scale
        return {"time_scale": self._state.time_scale}

    def show_google(self, ex: Exchange, name: str) -> Any:
        return self._state.google.summary()

    def patch_google(self, ex: Exchange, name: str) -> Any:
        patch: _GooglePatch = _decode(ex.body, _GooglePatch)
        self._state.google.lifetime_s = patch.token_lifetime_s
        return self._state.google.summary()

    def revoke_google(self, ex: Exchange, name: str) -> Any:
        self._state.google.revoke()
        return self._state.google.summary()

    def add_google_key(self, ex: Exchange, name: str) -> Any:
        key: _ServiceAccountKey = _decode(ex.body, _ServiceAccountKey)
        self._state.google.register_key(key.client_email, key.key_id, key.public_key)
        return self._state.google.summary()

    def reset(self, ex: Exchange, name: str) -> Any:
        self._state.reset()
        return {"ok": True}


_ROUTES: Final[dict[str, dict[bytes, Route]]] = {
    "health": {b"GET": Control.health},
    "endpoints": {b"GET": Control.list_endpoints},
    "endpoints/*": {b"GET": Control.show_endpoint, b"PATCH": Control.patch_endpoint},
    "endpoints/*/script": {b"GET": Control.show_script, b"POST": Control.push_script},
    "endpoints/*/requests": {b"GET": Control.request_log},
    "fleet": {b"GET": Control.show_fleet, b"PATCH": Control.patch_fleet},
    "google": {b"GET": Control.show_google, b"PATCH": Control.patch_google},
    "google/keys": {b"POST": Control.add_google_key},
    "google/revoke": {b"POST": Control.revoke_google},
    "reset": {b"POST": Control.reset},
}
