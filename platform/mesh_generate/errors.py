"""Errors the generator reports to a user: each says what went wrong and what to do."""

from __future__ import annotations


class GeneratorError(RuntimeError):
    """Base of every error the traffic generator reports."""


class ServiceUnreachable(GeneratorError):
    def __init__(self, service: str, address: str) -> None:
        super().__init__(f"cannot reach {service} at {address}: is the stack up? run `mesh up`")
        self.service = service
        self.address = address
