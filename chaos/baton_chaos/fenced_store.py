"""The resource a lease guards, kept by the harness: a counter per name that refuses any
token lower than the highest it has seen, on reads and writes alike (Kleppmann's fencing).
It lives in the harness's process, so a workload's check "do I still hold the lease?" and
the store operation that follows are one step, and overlapping holders show as refusals or
lost increments, never as timing noise.
"""
from __future__ import annotations


class Fenced(Exception):
    def __init__(self, max_token: int):
        super().__init__(f"fenced: a token below {max_token}")
        self.max_token = max_token


class FencedStore:
    def __init__(self):
        self.max_token: dict[str, int] = {}
        self.values: dict[str, int] = {}

    def _admit(self, name: str, token: int):
        highest = self.max_token.get(name, 0)
        if token < highest:
            raise Fenced(highest)
        self.max_token[name] = token

    def read(self, name: str, token: int) -> int:
        self._admit(name, token)
        return self.values.get(name, 0)

    def write(self, name: str, token: int, value: int):
        self._admit(name, token)
        self.values[name] = value
