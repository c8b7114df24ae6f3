"""The fault suite shares the simulated fleet and router fixtures of the loopback tests."""

from tests.integration.conftest import fresh_sim, make_router, router, sim

__all__ = ["fresh_sim", "make_router", "router", "sim"]
