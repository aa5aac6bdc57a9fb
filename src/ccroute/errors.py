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


def shown(value: object) -> str:
    """A bad value as an error message names it: its repr, cut short when long.

    Naming a 1 MB string or an int of thousands of digits must neither flood a log nor fail
    (repr refuses ints beyond 4,300 digits), so such a value is named by its start and size.
    """
    if isinstance(value, int) and value.bit_length() > 1000:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}… ({len(text)} characters)"


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


class RestoreError(RoutingError, ValueError):
    """A snapshot or journal that cannot be read back: empty, truncated, corrupted, of
    another format version, or taken under another configuration. Nothing is restored."""
