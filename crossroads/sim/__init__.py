"""Simulated providers: a real OpenAI-compatible HTTP server standing in for a fleet of endpoints.

Each endpoint is served under a path prefix (`http://HOST:PORT/NAME/v1`, or its provider's
`/PROVIDER/v1` shared with the provider's other models and picked by `model`) with its own
latency, speed, limits, prompt cache, errors, outages and stream faults, steered at runtime
through `/_sim/endpoints/NAME`.

    profile.py   SimProfile, SimFleet, load_fleet (TOML), the pinned outcome names, the
                 timeline's events
    timeline.py  what each endpoint is like at a second of the fleet's script (`[[event]]`s)
    fleet.py     catalog_fleet(): a twin of every catalog endpoint; scout_fleet(): Scout's eight
    server.py    run_sim() (blocking, for the CLI) and start_sim() (in a running loop)
    endpoint.py  live per-endpoint state and the rule that picks each request's outcome
    prompt.py    request validation, the token formula, the prefix cache
    options.py   n, logprobs, stop, seed, tool_choice, response_format, reasoning: validated
    answer.py    what each choice says (text, JSON, tool calls, reasoning, logprobs) and its bytes
    content.py   the words: text, seeded text, JSON pieces, reasoning, logprob entries
    tools.py     whether to call a tool, which, and with what arguments
    schema_instance.py  a deterministic instance of a JSON Schema (schema_match.py, pattern.py,
                 hints.py: values taken from the user's words)
    chat.py      the provider routes;  play.py  timing and faults;  render.py  the plain bytes
    control.py   the /_sim control API;  wire.py  HTTP/1.1 on httptools
    lifeline.py  a sim started with --parent-pid exits when its parent dies
"""

from crossroads.sim.fleet import catalog_fleet, scout_fleet
from crossroads.sim.profile import OUTCOMES, SimConfigError, SimFleet, SimProfile, load_fleet
from crossroads.sim.server import SimServer, run_sim, start_sim

__all__ = [
    "OUTCOMES",
    "SimConfigError",
    "SimFleet",
    "SimProfile",
    "SimServer",
    "catalog_fleet",
    "load_fleet",
    "run_sim",
    "scout_fleet",
    "start_sim",
]
