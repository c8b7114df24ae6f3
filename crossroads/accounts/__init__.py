"""Accounts: API keys, credit limits that cannot be overdrawn, and rate limits.

Pure rules (`keys`, `periods`, `balance`, `rate_limit`, `reservation`) over a store protocol
(`store.py`), tied together for the request path by `Accounts` (`service.py`).
"""
