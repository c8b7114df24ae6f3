from tests.ledger.backends import backend  # noqa: F401 (the fixture, for every ledger test)
