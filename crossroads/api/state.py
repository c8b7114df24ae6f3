"""Everything a request handler may use, created by the app's lifespan and passed explicitly."""

from __future__ import annotations

import asyncio
import random

from crossroads.accounts.service import Accounts
from crossroads.benchmarks import Benchmarks
from crossroads.catalog import Catalog
from crossroads.ledger import Store
from crossroads.observability import Observer
from crossroads.preset_store import PresetBook
from crossroads.relay import Relay
from crossroads.routing.sticky import StickyTable
from crossroads.settings import Settings
from crossroads.shared_state import SharedState
from crossroads.stats import LiveStats


class AppState:
    __slots__ = ("accounts", "benchmarks", "catalog", "ledger", "observer", "presets", "relay",
                 "rng", "settings", "shared", "simulated", "stats", "sticky", "wall_offset")

    def __init__(self, settings: Settings, catalog: Catalog, stats: LiveStats, relay: Relay,
                 rng: random.Random, simulated: bool, ledger: Store,
                 wall_offset: float, sticky: StickyTable, observer: Observer,
                 accounts: Accounts, benchmarks: Benchmarks, presets: PresetBook,
                 shared: SharedState) -> None:
        # Whether live state reaches the other replicas (readiness and /metrics read it).
        self.shared = shared
        self.presets = presets
        self.benchmarks = benchmarks
        self.accounts = accounts
        self.observer = observer
        self.settings = settings
        self.sticky = sticky
        self.ledger = ledger
        # unix time = loop time + wall_offset (loop time is monotonic, records need wall time)
        self.wall_offset = wall_offset
        self.catalog = catalog
        self.stats = stats
        self.relay = relay
        self.rng = rng
        self.simulated = simulated

    @staticmethod
    def clock() -> float:
        return asyncio.get_running_loop().time()
