"""The public :class:`Router`: the native core, or the reference model on request.

``CCROUTE_IMPLEMENTATION=python`` selects the pure-Python reference router (handy when
debugging an integration); ``native`` insists on the compiled core; unset, the compiled
core is used and the reference is the fallback when the extension is not built.
"""

from __future__ import annotations

import os

from .reference import ReferenceRouter

_choice = os.environ.get("CCROUTE_IMPLEMENTATION", "auto")
if _choice not in ("auto", "native", "python"):
    raise ImportError(f"CCROUTE_IMPLEMENTATION must be native, python or auto, got {_choice!r}")

_Base: type
if _choice == "python":
    _Base, IMPLEMENTATION = ReferenceRouter, "python"
else:
    try:
        from ._core import Router as _Base
        IMPLEMENTATION = "native"
    except ImportError:
        if _choice == "native":
            raise
        _Base, IMPLEMENTATION = ReferenceRouter, "python"


class Router(_Base):  # type: ignore[valid-type,misc]
    """Routes calls to agents by the rules of DESIGN.md §4.

    Build it from a :class:`~ccroute.Config`, add agents, then report every event from
    the switch with the time it happened (``now``, seconds, never decreasing). Every
    operation returns the :class:`~ccroute.Offer` list it caused, in order: those of
    timers that fell due first (escalations, wrap-up ends, offer time-outs, each stamped
    with its due time), then its own. Call :meth:`advance` at :attr:`next_due` so that
    timers fire on time. Bad input raises a :class:`~ccroute.RoutingError` naming the
    bad value and changes nothing.

    >>> from ccroute import Config, Plan, Router
    >>> r = Router(Config(sites=["shanghai"], plans=[Plan("card")]))
    >>> r.add_agent("a1", site="shanghai", skills={"card": 5})
    >>> r.ready("a1", now=0.0)
    []
    >>> r.arrive("c1", plan="card", now=1.0)
    [Offer(call_id='c1', agent_id='a1', time=1.0)]
    """


__all__ = ["Router", "IMPLEMENTATION"]
