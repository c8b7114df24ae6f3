"""Simulated providers: a real OpenAI-compatible HTTP server standing in for a fleet of endpoints.

Each endpoint is a path prefix (`http://HOST:PORT/NAME/v1`) with its own latency, speed, limits,
prompt cache, errors, outages and stream faults, steered at runtime through `/_sim/*`.

    profile.py   SimProfile, SimFleet, load_fleet (TOML), the pinned outcome names
    fleet.py     scout_fleet(): Llama 4 Scout's eight providers
    server.py    run_sim() (blocking, for the CLI) and start_sim() (in a running loop)
    endpoint.py  live per-endpoint state and the rule that picks each request's outcome
    prompt.py    request validation, the token formula, the prefix cache
    chat.py      the provider routes;  play.py  timing and faults;  render.py  the bytes
    control.py   the /_sim control API;  wire.py  HTTP/1.1 on httptools
    lifeline.py  a sim started with --parent-pid exits when its parent dies
"""

from crossroads.sim.fleet import scout_fleet
from crossroads.sim.profile import OUTCOMES, SimConfigError, SimFleet, SimProfile, load_fleet
from crossroads.sim.server import SimServer, run_sim, start_sim

__all__ = [
    "OUTCOMES",
    "SimConfigError",
    "SimFleet",
    "SimProfile",
    "SimServer",
    "load_fleet",
    "run_sim",
    "scout_fleet",
    "start_sim",
]
