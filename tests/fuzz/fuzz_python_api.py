"""Atheris fuzz target over the Python API: the native router against the reference model.

The fuzzer's bytes choose a small centre and a sequence of router calls whose arguments are
valid most of the time and otherwise anything: None, bools, ints of any size, NaN and
infinite floats, huge finite floats, arbitrary Unicode (lone surrogates included), bytes,
lists, dicts, 1 MB strings. Both routers get the same calls, now and then carried over to
each other through a snapshot (the native one restored from the reference's bytes and the
reference from the native's). After every call:

* only a RoutingError escapes (every call here fits its method's signature);
* both routers return the same offers, or raise the same class (a refused transition also
  with the same message and the same offers of the timers that fired);
* both show the same agents, calls, read-outs, statistics and next timer;
* the native core's indexes are intact.

Valid numbers are dyadic (multiples of 1/4), so that both routers' arithmetic is exact and
they must decide alike. A broken promise raises AssertionError, which atheris reports as a
crash with the input that caused it.

Run (atheris instruments the ccroute Python modules; ``-max_total_time`` bounds the run)::

    python tests/fuzz/fuzz_python_api.py -max_total_time=60 -rss_limit_mb=4096 [corpus dir]
"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports(include=["ccroute"]):
    from ccroute import (AgentInfo, Config, InvalidTransitionError, Plan, RoutingError, Step,
                         Weights)
    from ccroute.reference import ReferenceRouter

from ccroute._core import Router as NativeRouter  # compiled: atheris cannot instrument it

SITES = ["north", "south", "\u897f\u5b89"]
REGIONS = ["east", "west"]
SKILLS = ["card", "vip", "lang:yue"]
AGENTS = ["a0", "a1", 2, -3, 2**70, "\u9577"]
CALLS = ["c0", "c1", 5, -6, 2**64, "\ud800"]
DYADIC = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, -0.5, -1.0, -2.0]
DELTAS = [0.0, 0.0, 0.25, 1.0, 2.5, 5.0, 12.5, 30.0]
MB = "x" * (1 << 20)


class Draw:
    """Values from the fuzzer's bytes: valid ones from a pool, sometimes anything."""

    def __init__(self, data: bytes) -> None:
        self.fdp = atheris.FuzzedDataProvider(data)

    def pick(self, pool):
        return pool[self.fdp.ConsumeIntInRange(0, len(pool) - 1)]

    def anything(self):
        fdp = self.fdp
        kind = fdp.ConsumeIntInRange(0, 13)
        if kind == 0:
            return None
        if kind == 1:
            return fdp.ConsumeBool()
        if kind == 2:
            return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 16))
        if kind == 3:
            return self.pick([10**400, -(10**400), 10**5000, 2**63, 2**63 - 1, -(2**63) - 1])
        if kind == 4:
            return fdp.ConsumeFloat()  # NaN, infinities, huge, tiny, negative zero...
        if kind == 5:
            return self.pick([math.nan, math.inf, -math.inf, 1e300, -1e300, 1.7976931348623157e308])
        if kind in (6, 7):
            return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 12))  # lone surrogates too
        if kind == 8:
            return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 6))
        if kind == 9:
            return [self.pick(AGENTS)]
        if kind == 10:
            return {self.pick(SKILLS): fdp.ConsumeIntInRange(-2, 12)}
        if kind == 11:
            return MB
        if kind == 12:
            return ""
        return 1j

    def value(self, pool):
        """Mostly from ``pool``, one time in eight anything."""
        return self.anything() if self.fdp.ConsumeIntInRange(0, 7) == 0 else self.pick(pool)

    def number(self, pool=DYADIC):
        return self.value(pool)

    def skills(self):
        """{skill: level}, names and levels mostly valid (an unhashable name becomes its repr)."""
        skills = {}
        for _ in range(self.fdp.ConsumeIntInRange(0, 3)):
            name = self.value(SKILLS)
            skills[name if name.__hash__ else repr(name)] = self.value(list(range(1, 11)))
        return skills


def config(draw: Draw) -> Config:
    fdp = draw.fdp
    plans = []
    for i in range(fdp.ConsumeIntInRange(1, 3)):
        steps = [Step(after=after,
                      require={draw.pick(SKILLS[:2]): fdp.ConsumeIntInRange(1, 6)} if fdp.ConsumeBool() else {},
                      language_level=draw.pick([0, 0, 3]), max_distance=draw.pick([None, None, 0, 1]),
                      weights=Weights(*(draw.pick(DYADIC) for _ in range(4))))
                 for after in [0.0, *sorted({draw.pick([5.0, 10.0, 30.0]) for _ in range(fdp.ConsumeIntInRange(0, 2))})]]
        plans.append(Plan(f"p{i}", steps=steps, base_priority=draw.pick(DYADIC), value_weight=draw.pick(DYADIC),
                          repeat_weight=draw.pick(DYADIC), aging=draw.pick([0.0, 0.5, 1.0]),
                          sl_threshold=draw.pick([0.0, 10.0]), wrapup=draw.pick([0.0, 2.5])))
    regions = {r: {draw.pick(SITES): fdp.ConsumeIntInRange(0, 2)} for r in REGIONS[:fdp.ConsumeIntInRange(0, 2)]}
    return Config(sites=SITES, plans=plans, regions=regions, default_distance=fdp.ConsumeIntInRange(0, 3),
                  offer_timeout=draw.pick([None, 5.0, 10.0]), skills=draw.pick([None, SKILLS]))


def outcome(router, name, args):
    try:
        return ("ok", getattr(router, name)(*args))
    except InvalidTransitionError as error:
        return (InvalidTransitionError, error.offers, str(error))
    except RoutingError as error:
        return (type(error),)
    # Anything else escapes: atheris reports it with the input.


def observe(router, now):
    def state(query, ident):
        try:
            return query(ident)
        except RoutingError as error:
            return type(error)
    return ([state(router.agent_state, a) for a in AGENTS], [state(router.call_state, c) for c in CALLS],
            [state(router.agent_reason, a) for a in AGENTS], router.next_due, router.stats(now),
            router.calls(now), router.agents(), router.decisions(),
            [router.expected_wait(p.name, now) for p in router.config.plans])


def test_one_input(data: bytes) -> None:
    draw = Draw(data)
    fdp = draw.fdp
    try:
        cfg = config(draw)
    except RoutingError:
        return
    routers = [ReferenceRouter(cfg), NativeRouter(cfg)]
    if fdp.ConsumeBool():
        for r in routers:
            r.log_decisions(capacity=50)
    now = 0.0
    for _ in range(fdp.ConsumeIntInRange(1, 60)):
        if fdp.remaining_bytes() == 0:
            break
        op = fdp.ConsumeIntInRange(0, 20)
        t = now + draw.pick(DELTAS) if fdp.ConsumeIntInRange(0, 9) else draw.anything()
        agent, call = draw.value(AGENTS), draw.value(CALLS)
        if op == 0:
            skills = draw.skills()
            args = (agent, draw.value(SITES), skills if fdp.ConsumeIntInRange(0, 7) else draw.anything(),
                    None if fdp.ConsumeBool() else draw.number([0.0, 1.0, 2.5]))
            name = "add_agent"
        elif op in (1, 2):
            name, args = "ready", (agent, t)
        elif op == 3:
            name, args = "not_ready", (agent, t, draw.value(["", "lunch", "\ud83d", MB]))
        elif op == 4:
            name, args = "logout", (agent, t)
        elif op in (5, 6):
            name = "arrive"
            args = (call, draw.value([p.name for p in cfg.plans]), t, draw.value([None, *REGIONS]),
                    draw.value([None, "lang:yue", "lang:en"]), draw.number(), draw.number([0.0, 1.0]),
                    draw.value([0, 1, 3]), draw.value([None, *AGENTS[:3]]), draw.number([0.0, 5.0]))
        elif op in (7, 8):
            offered = [(c.call_id, c.agent_id) for c in routers[0].calls() if c.state == "offered"]
            if offered and fdp.ConsumeIntInRange(0, 3):
                call, agent = draw.pick(offered)
            name, args = draw.pick(["accept", "accept", "reject"]), (call, agent, t)
        elif op == 9:
            name, args = "abandon", (call, t)
        elif op == 10:
            connected = [c.call_id for c in routers[0].calls() if c.state == "connected"]
            name, args = "hangup", (draw.pick(connected) if connected and fdp.ConsumeBool() else call, t)
        elif op == 11:
            name, args = "advance", (t,)
        elif op == 12:
            name = draw.pick(["call_info", "agent_info", "stats", "calls", "call_state", "agent_reason", "explain",
                              "explain", "log_decisions"])
            args = {"call_info": (call, draw.value([None, t])), "agent_info": (agent,), "stats": (t,),
                    "calls": (t,), "call_state": (call,), "agent_reason": (agent,),
                    "explain": (call, draw.value([None, t]), draw.value([0, 1, 3])),
                    "log_decisions": (draw.value([None, 5, 100]),)}[name]
        elif op == 13:  # each router goes on from the other's snapshot
            blobs = [r.snapshot() for r in routers]
            logging = routers[0].decisions() != [] or fdp.ConsumeBool()
            routers = [ReferenceRouter.restore(cfg, blobs[1]), NativeRouter.restore(cfg, blobs[0])]
            for r in routers:  # a decision log is a setting of the process, not part of the state
                r.log_decisions(capacity=50 if logging else None)
            name, args = "advance", (now,)
        elif op == 15:  # a supervisor's live changes
            name, args = "set_skills", (agent, t, draw.value([None, draw.skills()]), draw.value([None, *SITES]))
        elif op == 16:
            name, args = "remove_agent", (agent, t)
        elif op == 17:
            name, args = "transfer", (call, draw.value([p.name for p in cfg.plans]), t)
        elif op == 18:
            name, args = "reprioritize", (call, t, draw.value([None, *DYADIC]), draw.value([None, 0.0, 4.0]))
        elif op == 19:  # another centre, or the same; refused if it drops what is in use
            try:
                other = config(draw) if fdp.ConsumeBool() else cfg
            except RoutingError:
                other = cfg
            name, args = "reconfigure", (draw.value([other]), t)
        else:
            name, args = "advance", (t,)
        results = [outcome(r, name, args) for r in routers]
        assert results[0] == results[1], (name, args, results)
        now = max(now, routers[0]._now)  # the time of the last operation that passed its time check
        cfg = routers[0].config  # as reconfigured
        routers[1]._check_invariants()
        views = [observe(r, now) for r in routers]
        assert views[0] == views[1], (name, args, views)
        agents = views[1][6]
        assert all(isinstance(a, AgentInfo) for a in agents)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
