"""What an agent and a waiting call cost in memory through the Python API (the native Router).

    PYTHONPATH=src python bench/memory.py [--agents 100000] [--calls 1000000]

The centre of ``centre.py``: AGENTS agents (ids of 12 characters) logged in and not ready, then
CALLS calls (ids of 8 characters) arrived evenly over a minute, all waiting. Bytes per agent and
per waiting call are differences across each stage: of the process's resident memory, and, in
a second centre built under tracemalloc, of what Python's allocator holds: the binding's part
(its maps from ids to the core's numbers and back, and the ids, which the router keeps alive).
The rest is the C++ core's (``build/bench_memory`` measures it alone, with its breakdown). Ids
are made as the calls come and the specs are cycled from a small pool, so that nothing but the
router grows.
"""

from __future__ import annotations

import argparse
import gc
import os
import tracemalloc
from typing import Callable

import centre

import ccroute


def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def per_unit(n_agents: int, n_calls: int, measure: Callable[[], int]) -> tuple[float, float]:
    """Bytes per agent and per waiting call as ``measure`` reads them, in a centre built anew."""
    agent_pool = centre.agents(1000)
    call_pool = [c.kwargs() for c in centre.calls(10_000)]
    router = ccroute.Router(centre.config())
    gc.collect()
    start = measure()
    for i in range(n_agents):
        spec = agent_pool[i % len(agent_pool)]
        agent_id = f"agent-{i:06d}"
        router.add_agent(agent_id, site=spec.site, skills=spec.skills)
        router.not_ready(agent_id, 0.0, reason="busy")
    gc.collect()
    agents = measure()
    gap = 60.0 / n_calls
    for i in range(n_calls):
        if router.arrive(f"w{i:07d}", now=(i + 1) * gap, **call_pool[i % len(call_pool)]):
            raise SystemExit("an offer was made: the calls must all wait")
    router.advance(60.0)
    gc.collect()
    calls = measure()
    return (agents - start) / n_agents, (calls - agents) / n_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    if ccroute.IMPLEMENTATION != "native":
        raise SystemExit("the native extension does not import: build it (python setup.py build_ext --inplace)")

    # Resident memory first, untraced: tracemalloc's own record of each live block would count.
    rss = per_unit(args.agents, args.calls, resident)
    tracemalloc.start()
    python = per_unit(args.agents, args.calls, lambda: tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()

    print(f"ccroute native Router through Python: {args.agents} agents, {args.calls} waiting calls\n")
    print(f"{'bytes per':<20} {'RSS':>6} {'Python objects':>15} {'rest (core)':>12}")
    for what, total, objects in (("agent (not ready)", rss[0], python[0]), ("waiting call", rss[1], python[1])):
        print(f"{what:<20} {total:6.0f} {objects:15.0f} {total - objects:12.0f}")


if __name__ == "__main__":
    main()
