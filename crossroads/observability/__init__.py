"""Logs, metrics and traces of the router, behind one `Observer` (observer.py)."""

from crossroads.observability.events import BreakerChange
from crossroads.observability.logs import setup_logging
from crossroads.observability.metrics import prepare_multiprocess_dir, worker_exited
from crossroads.observability.observer import Observer, tracing_requested

__all__ = ["BreakerChange", "Observer", "prepare_multiprocess_dir", "setup_logging",
           "tracing_requested", "worker_exited"]
