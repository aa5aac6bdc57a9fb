"""A switch that routes a stream of random events with the journal on, until it is killed.

Run by tests/test_crash.py as a child process: ``python crash_child.py JOURNAL SNAPSHOT SEED
SYNC``. After each operation returns it prints the operation's number (an acknowledgement:
the switch would now act on the answer); every 300 operations it writes a snapshot (to a
temporary file, then renamed, as an operator would). The events are drawn from ``SEED`` and
the router's own state, so the parent can draw the very same stream again.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any, Iterator

from ccroute import Config, Plan, Router, RoutingError, Step

CONFIG = Config(sites=["shanghai", "nanning", "tianjin"],
                regions={"guangdong": {"nanning": 0, "shanghai": 1}, "beijing": {"tianjin": 0}},
                plans=[Plan("card", steps=[Step(require={"card": 1}, max_distance=0),
                                           Step(after=5, require={"card": 1})], value_weight=2.0),
                       Plan("vip", steps=[Step(require={"vip": 3}, language_level=5),
                                          Step(after=8, require={"vip": 1})], base_priority=10.0, wrapup=2.0)],
                offer_timeout=6.0)
AGENTS = [("a0", "shanghai", {"card": 5}), ("a1", "nanning", {"card": 3, "lang:yue": 9, "vip": 6}),
          ("a2", "tianjin", {"card": 7, "vip": 2}), (3, "nanning", {"card": 4}), (4, "shanghai", {"vip": 9})]


def operations(router: Any, rng: random.Random) -> Iterator[tuple[str, tuple, dict]]:
    """An endless stream of switch events (name, args, kwargs), drawn from rng and the router's state."""
    now, serial = 0.0, 0
    for agent_id, site, skills in AGENTS:
        yield "add_agent", (agent_id, site, skills), {}
    while True:
        now += rng.choice([0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
        kind = rng.choices(["arrive", "answer", "hangup", "abandon", "agent", "advance"], [5, 4, 3, 1, 2, 1])[0]
        calls = router.calls()
        if kind == "arrive":
            serial += 1
            call_id = serial if serial % 3 else f"call-{serial}"
            yield "arrive", (call_id, rng.choice(["card", "vip"]), now), {
                "region": rng.choice([None, "guangdong", "beijing"]),
                "language": rng.choice([None, "lang:yue"]), "value": rng.choice([0.0, 1.0, 2.5])}
        elif kind == "answer" and any(c.state == "offered" for c in calls):
            call = rng.choice([c for c in calls if c.state == "offered"])
            agent = call.agent_id if rng.random() < 0.9 else rng.choice(AGENTS)[0]  # now and then a late answer
            yield rng.choice(["accept", "accept", "accept", "reject"]), (call.call_id, agent, now), {}
        elif kind == "hangup" and any(c.state == "connected" for c in calls):
            yield "hangup", (rng.choice([c for c in calls if c.state == "connected"]).call_id, now), {}
        elif kind == "abandon" and calls:
            yield "abandon", (rng.choice(calls).call_id, now), {}
        elif kind == "agent":
            yield rng.choice(["ready", "ready", "not_ready", "logout"]), (rng.choice(AGENTS)[0], now), {}
        else:
            yield "advance", (now,), {}


def apply(router: Any, name: str, args: tuple, kwargs: dict) -> Any:
    try:
        return getattr(router, name)(*args, **kwargs)
    except RoutingError as error:
        return type(error).__name__


def main(journal: str, snapshot: str, seed: int, sync: str) -> None:
    router = Router(CONFIG, journal=journal, sync=sync)
    for i, (name, args, kwargs) in enumerate(operations(router, random.Random(seed))):
        apply(router, name, args, kwargs)
        print(i, flush=True)  # acknowledged: the operation returned
        if i % 300 == 299:
            with open(snapshot + ".tmp", "wb") as f:
                f.write(router.snapshot())
            os.replace(snapshot + ".tmp", snapshot)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
