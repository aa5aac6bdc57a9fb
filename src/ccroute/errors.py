"""Exceptions raised by ccroute.

Every error raised by a router is a :class:`RoutingError`; the concrete class also
derives from the built-in exception a Python user would reach for (``KeyError`` for
an unknown id, ``ValueError`` for a bad value), so ``except KeyError`` keeps working.
A router that raises has changed nothing of its own (see :class:`InvalidTransitionError`
for the one thing time itself may have changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .types import Offer


class RoutingError(Exception):
    """Base class of every error raised by ccroute."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of its message
        return str(self.args[0]) if self.args else ""


class ConfigError(RoutingError, ValueError):
    """The configuration (sites, regions, plans, steps) is malformed."""


class UnknownIdError(RoutingError, KeyError):
    """An agent, call, plan, site, region or skill that the router does not know."""


class DuplicateIdError(RoutingError, ValueError):
    """An agent or call id that is already in the router."""


class InvalidArgumentError(RoutingError, ValueError):
    """An argument outside its domain: a skill level outside 1–10, a NaN value, …"""


class TimeOrderError(RoutingError, ValueError):
    """``now`` is earlier than the time of an operation already applied."""


class InvalidTransitionError(RoutingError):
    """The operation is impossible in the current state (accepting a call not offered…).

    Timers due at or before ``now`` had already fired when the operation was checked
    (time passed regardless of the bad call); the offers they made are in
    :attr:`offers` so that none is lost.
    """

    def __init__(self, message: str, offers: Sequence[Offer] = ()) -> None:
        super().__init__(message)
        self.offers: list[Offer] = list(offers)
