"""Logs, metrics and traces of the router, behind one `Observer` (observer.py)."""

from crossroads.observability.events import BreakerChange
from crossroads.observability.logs import setup_logging
from crossroads.observability.metrics import shared_metrics_dir
from crossroads.observability.observer import Observer, tracing_requested

__all__ = ["BreakerChange", "Observer", "setup_logging", "shared_metrics_dir",
           "tracing_requested"]
