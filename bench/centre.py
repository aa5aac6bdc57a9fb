"""A realistic bank card centre for the benchmarks: its configuration, agents and calls.

Five operation sites, the 34 provincial-level regions of China (each with a home site at
tier 0, one or two neighbouring sites at tier 1, every other site at the default tier 2),
20 product skills plus ``lang:cmn``, ``lang:yue``, ``lang:en`` and ``vip``, and 60 plans
(20 products × {standard, vip, english}) of three steps each:

* step 0 (0 s): the product at ≥ 5, the call's language at ≥ 5, the home site only;
* step 1 (15 s): the product at ≥ 3, the language at ≥ 3, home or neighbouring site;
* step 2 (40 s): the product at ≥ 1, any site (English calls still need some English).

Agents are staffed from 20 skill templates with fixed levels (real centres hire and train
to templates), spread over the five sites (Cantonese-speaking teams mostly in Nanning,
English-speaking ones mostly in Shanghai), so a centre of any size holds about a hundred
distinct (template, site) profiles. Calls draw their plan, region, language, customer
value and repeat count from the same fixed-seed generator, in proportions that follow
regional population and product volume. Everything here is deterministic.

The helpers at the bottom build the two states the benchmarks start from: *agent
surplus* (N ready agents, no waiting call) and *call surplus* (N waiting calls with
staggered arrivals, agents logged in but none ready).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

from ccroute import Config, Plan, Step, Weights

SEED = 20260501

SITES = ("shanghai", "suzhou", "tianjin", "nanning", "lanzhou")

# region: (home site, neighbouring sites at tier 1, relative call volume ≈ population in millions)
REGIONS: dict[str, tuple[str, tuple[str, ...], float]] = {
    # East China, served from Shanghai
    "shanghai": ("shanghai", ("suzhou",), 25),
    "zhejiang": ("shanghai", ("suzhou",), 65),
    "anhui": ("shanghai", ("suzhou",), 61),
    "jiangxi": ("shanghai", ("nanning", "suzhou"), 45),
    "fujian": ("shanghai", ("nanning",), 42),
    "taiwan": ("shanghai", ("nanning",), 10),
    # Centre and Shandong, served from Suzhou
    "jiangsu": ("suzhou", ("shanghai",), 85),
    "shandong": ("suzhou", ("tianjin",), 101),
    "henan": ("suzhou", ("tianjin", "lanzhou"), 99),
    "hubei": ("suzhou", ("shanghai",), 58),
    "hunan": ("suzhou", ("nanning",), 66),
    # North and North-east, served from Tianjin
    "beijing": ("tianjin", ("suzhou",), 22),
    "tianjin": ("tianjin", ("suzhou",), 14),
    "hebei": ("tianjin", ("suzhou",), 74),
    "shanxi": ("tianjin", ("lanzhou",), 35),
    "neimenggu": ("tianjin", ("lanzhou",), 24),
    "liaoning": ("tianjin", (), 42),
    "jilin": ("tianjin", (), 24),
    "heilongjiang": ("tianjin", (), 31),
    # South, served from Nanning
    "guangdong": ("nanning", ("shanghai",), 127),
    "guangxi": ("nanning", ("suzhou",), 50),
    "hainan": ("nanning", ("shanghai",), 10),
    "hongkong": ("nanning", ("shanghai",), 7),
    "macau": ("nanning", (), 1),
    "yunnan": ("nanning", ("lanzhou",), 47),
    "guizhou": ("nanning", ("lanzhou",), 39),
    # West and North-west, served from Lanzhou
    "gansu": ("lanzhou", (), 25),
    "qinghai": ("lanzhou", (), 6),
    "ningxia": ("lanzhou", (), 7),
    "xinjiang": ("lanzhou", (), 26),
    "xizang": ("lanzhou", (), 4),
    "shaanxi": ("lanzhou", ("tianjin",), 40),
    "sichuan": ("lanzhou", ("suzhou",), 84),
    "chongqing": ("lanzhou", ("suzhou",), 32),
}
assert len(REGIONS) == 34

DEFAULT_DISTANCE = 2

# Share of Cantonese callers by region (others mostly Mandarin), and of English callers.
YUE_SHARE = {"guangdong": 0.45, "guangxi": 0.15, "hainan": 0.05, "hongkong": 0.85, "macau": 0.85}
EN_SHARE = {"hongkong": 0.10, "macau": 0.10, "shanghai": 0.06, "beijing": 0.05, "guangdong": 0.03}
EN_DEFAULT = 0.01

# product: relative call volume
PRODUCTS: dict[str, float] = {
    "card": 30, "limit": 9, "installment": 7, "points": 6, "dispute": 6, "fraud": 5,
    "debit": 6, "mobile": 5, "overseas": 3, "forex": 2, "loan": 4, "mortgage": 3,
    "autoloan": 2, "wealth": 3, "insurance": 2, "retention": 3, "collections": 2,
    "merchant": 1, "corporate": 1, "payroll": 1,
}
assert len(PRODUCTS) == 20
LANGUAGES = ("lang:cmn", "lang:yue", "lang:en")
SKILLS = (*PRODUCTS, *LANGUAGES, "vip")

VIP_SHARE = 0.12  # of calls routed by a product's vip plan

# ---------------------------------------------------------------- agents

# name: (skills at fixed levels, relative headcount, headcount share per site in SITES order)
_EVEN = (1, 1, 1, 1, 1)
_SOUTH = (1, 0, 0, 6, 0)          # Cantonese teams: Nanning, a few in Shanghai
_EAST = (4, 2, 1, 0.5, 0.2)       # English and wealth teams: mostly Shanghai
TEMPLATES: dict[str, tuple[dict[str, int], float, tuple[float, ...]]] = {
    "card-senior": ({"card": 8, "limit": 7, "installment": 6, "points": 6, "debit": 5, "lang:cmn": 9}, 10, _EVEN),
    "card": ({"card": 6, "limit": 5, "installment": 5, "points": 5, "lang:cmn": 9}, 26, _EVEN),
    "card-junior": ({"card": 4, "points": 4, "debit": 3, "lang:cmn": 9}, 14, _EVEN),
    "card-yue": ({"card": 6, "limit": 5, "installment": 5, "points": 4, "lang:yue": 9, "lang:cmn": 7}, 8, _SOUTH),
    "card-en": ({"card": 6, "limit": 5, "installment": 5, "points": 5, "retention": 4, "overseas": 6, "forex": 4,
                 "lang:en": 8, "lang:cmn": 9}, 3, _EAST),
    "debit-mobile": ({"debit": 7, "mobile": 7, "points": 3, "lang:cmn": 9}, 8, _EVEN),
    "dispute": ({"dispute": 8, "fraud": 6, "card": 5, "lang:cmn": 9}, 5, (3, 2, 2, 1, 1)),
    "fraud": ({"fraud": 8, "dispute": 6, "card": 4, "debit": 4, "collections": 3, "lang:cmn": 9, "lang:en": 4}, 4,
              (3, 2, 2, 1, 1)),
    "dispute-yue": ({"dispute": 7, "fraud": 6, "card": 5, "lang:yue": 9, "lang:cmn": 7}, 1.5, _SOUTH),
    "loan": ({"loan": 7, "mortgage": 6, "autoloan": 6, "installment": 4, "lang:cmn": 9}, 6, _EVEN),
    "loan-yue": ({"loan": 6, "mortgage": 6, "autoloan": 5, "lang:yue": 9, "lang:cmn": 7}, 1, _SOUTH),
    "wealth": ({"wealth": 8, "insurance": 6, "forex": 6, "lang:cmn": 9, "lang:en": 5}, 3, _EAST),
    "insurance": ({"insurance": 8, "wealth": 4, "lang:cmn": 9}, 2, _EVEN),
    "retention": ({"retention": 8, "card": 6, "points": 6, "limit": 5, "lang:cmn": 9}, 3, (2, 1, 1, 1, 1)),
    "collections": ({"collections": 8, "loan": 4, "card": 3, "lang:cmn": 9}, 2, (1, 1, 1, 1, 2)),
    "business": ({"merchant": 7, "corporate": 7, "payroll": 7, "lang:cmn": 9, "lang:en": 4}, 2, (3, 2, 2, 1, 1)),
    "vip-card": ({"vip": 8, "card": 8, "limit": 8, "installment": 7, "points": 7, "dispute": 6, "fraud": 5,
                  "retention": 6, "lang:cmn": 9}, 4, (2, 2, 2, 1, 1)),
    "vip-wealth": ({"vip": 8, "wealth": 9, "insurance": 7, "forex": 7, "loan": 6, "mortgage": 6, "autoloan": 5,
                    "lang:cmn": 9, "lang:en": 6}, 2, _EAST),
    "vip-yue": ({"vip": 7, "card": 7, "limit": 7, "wealth": 6, "dispute": 5, "lang:yue": 9, "lang:cmn": 8,
                 "lang:en": 5}, 1.5, _SOUTH),
    "overseas-en": ({"overseas": 8, "forex": 7, "card": 5, "debit": 5, "mobile": 5, "lang:en": 9, "lang:cmn": 8},
                    1.5, _EAST),
}
assert len(TEMPLATES) == 20


def profiles() -> list[tuple[str, str, dict[str, int], float]]:
    """The (template, site, skills, relative headcount) profiles agents are drawn from."""
    result = []
    for name, (skills, headcount, by_site) in TEMPLATES.items():
        total = sum(by_site)
        for site, share in zip(SITES, by_site):
            if share > 0:
                result.append((name, site, skills, headcount * share / total))
    return result


@dataclass(frozen=True)
class AgentSpec:
    id: str
    site: str
    skills: dict[str, int]
    template: str


def agents(n: int, seed: int = SEED) -> list[AgentSpec]:
    """``n`` agents drawn from the template profiles (fixed seed), ids ``a00000``…"""
    rng = random.Random(seed)
    table = profiles()
    weights = [p[3] for p in table]
    picks = rng.choices(range(len(table)), weights=weights, k=n)
    return [AgentSpec(f"a{i:05d}", table[k][1], table[k][2], table[k][0]) for i, k in enumerate(picks)]


# ---------------------------------------------------------------- configuration

def _steps(product: str, vip: bool, english: bool) -> list[Step]:
    first = {product: 5, "vip": 5} if vip else {product: 5}
    second = {product: 3, "vip": 3} if vip else {product: 3}
    # Prefer proficient agents, then near ones; ordinary calls prefer specialists (narrow
    # agents) so as not to burn the multi-skilled experts.
    breadth = 0.0 if vip else -0.25
    return [
        Step(after=0.0, require=first, language_level=5, max_distance=0,
             weights=Weights(proficiency=2.0 if vip else 1.0, distance=-1.0, breadth=breadth)),
        Step(after=15.0, require=second, language_level=3, max_distance=1,
             weights=Weights(proficiency=1.0, distance=-2.0, breadth=breadth)),
        Step(after=40.0, require={product: 1}, language_level=1 if english else 0,
             weights=Weights(proficiency=1.0, distance=-1.0)),
    ]


def plan_name(product: str, kind: str) -> str:
    return f"{product}" if kind == "standard" else f"{product}-{kind}"


def config(offer_timeout: Optional[float] = None) -> Config:
    """The bank centre: 5 sites, 34 regions, 60 plans of 3 steps, 24 skills."""
    plans = []
    for product in PRODUCTS:
        plans.append(Plan(plan_name(product, "standard"), steps=_steps(product, False, False),
                          base_priority=0.0, value_weight=20.0, repeat_weight=10.0, aging=1.0,
                          sl_threshold=20.0, sl_target=0.85, wrapup=0.0))
        plans.append(Plan(plan_name(product, "vip"), steps=_steps(product, True, False),
                          base_priority=60.0, value_weight=40.0, repeat_weight=15.0, aging=2.0,
                          sl_threshold=10.0, sl_target=0.95, wrapup=0.0))
        plans.append(Plan(plan_name(product, "english"), steps=_steps(product, False, True),
                          base_priority=10.0, value_weight=20.0, repeat_weight=10.0, aging=1.0,
                          sl_threshold=30.0, sl_target=0.8, wrapup=0.0))
    regions = {}
    for region, (home, neighbours, _) in REGIONS.items():
        regions[region] = {home: 0, **{site: 1 for site in neighbours}}
    return Config(sites=SITES, plans=plans, regions=regions, default_distance=DEFAULT_DISTANCE,
                  offer_timeout=offer_timeout, skills=SKILLS)


# ---------------------------------------------------------------- calls

@dataclass(frozen=True)
class CallSpec:
    plan: str
    region: str
    language: str
    value: float
    repeats: int

    def kwargs(self) -> dict[str, Any]:
        return {"plan": self.plan, "region": self.region, "language": self.language,
                "value": self.value, "repeats": self.repeats}


def calls(n: int, seed: int = SEED + 1) -> list[CallSpec]:
    """``n`` calls drawn with a fixed seed: plan, region, language, value, repeats."""
    rng = random.Random(seed)
    region_names = list(REGIONS)
    region_weights = [REGIONS[r][2] for r in region_names]
    product_names = list(PRODUCTS)
    product_weights = list(PRODUCTS.values())
    result = []
    for _ in range(n):
        region = rng.choices(region_names, region_weights)[0]
        product = rng.choices(product_names, product_weights)[0]
        u = rng.random()
        if u < EN_SHARE.get(region, EN_DEFAULT):
            language = "lang:en"
        elif u < EN_SHARE.get(region, EN_DEFAULT) + YUE_SHARE.get(region, 0.0):
            language = "lang:yue"
        else:
            language = "lang:cmn"
        vip = rng.random() < VIP_SHARE
        kind = "english" if language == "lang:en" and not vip else ("vip" if vip else "standard")
        # Customer value in [0, 1]: VIPs high, others skewed low.
        value = round(0.6 + 0.4 * rng.random(), 3) if vip else round(rng.betavariate(1.5, 5.0), 3)
        repeats = min(rng.choices((0, 1, 2, 3), (85, 10, 4, 1))[0], 3)
        result.append(CallSpec(plan_name(product, kind), region, language, value, repeats))
    return result


def admits_at_first_step(call: CallSpec, agent: AgentSpec) -> bool:
    """Whether step 0 of the call's plan admits the agent (for filtering benchmark streams)."""
    plan = _PLANS[call.plan]
    step = plan.steps[0]
    if any(agent.skills.get(s, 0) < lvl for s, lvl in step.require.items()):
        return False
    if step.language_level and agent.skills.get(call.language, 0) < step.language_level:
        return False
    tier = 0 if REGIONS[call.region][0] == agent.site else (
        1 if agent.site in REGIONS[call.region][1] else DEFAULT_DISTANCE)
    return step.max_distance is None or tier <= step.max_distance


_PLANS = {p.name: p for p in config().plans}


def first_step_pool(pool: Sequence[AgentSpec]) -> Callable[[CallSpec], int]:
    """A function giving, for a call, how many agents of ``pool`` its first step admits."""
    by_profile: dict[tuple[str, str], list[AgentSpec]] = {}
    for a in pool:
        by_profile.setdefault((a.template, a.site), []).append(a)
    memo: dict[tuple[str, str, str], int] = {}

    def size(call: CallSpec) -> int:
        key = (call.plan, call.region, call.language)
        if key not in memo:
            memo[key] = sum(len(group) for group in by_profile.values() if admits_at_first_step(call, group[0]))
        return memo[key]

    return size


# ---------------------------------------------------------------- centre states

@dataclass
class Centre:
    """A router in a known state, with the time it was left at and what it holds."""

    router: Any
    now: float
    agents: list[AgentSpec]
    waiting: list[str]           # ids of waiting calls
    arrivals: list[float]        # their arrival times (same order)


def _add_agents(router: Any, specs: Sequence[AgentSpec]) -> None:
    for a in specs:
        router.add_agent(a.id, site=a.site, skills=a.skills)


def agent_surplus(router_cls: Callable[[Config], Any], n_agents: int, now: float = 0.0) -> Centre:
    """``n_agents`` agents, all ready since ``now`` (one ms apart, so idle order is defined); no call."""
    router = router_cls(config())
    specs = agents(n_agents)
    _add_agents(router, specs)
    t = now - 0.001 * n_agents
    for a in specs:
        t += 0.001
        assert router.ready(a.id, t) == []
    return Centre(router, now, specs, [], [])


def call_surplus(router_cls: Callable[[Config], Any], n_calls: int, n_agents: int = 5000,
                 span: float = 60.0, seed: int = SEED + 1,
                 progress: Optional[Callable[[int], None]] = None) -> Centre:
    """``n_calls`` calls waiting, arrived evenly over the last ``span`` seconds, no agent ready.

    The ``n_agents`` agents are logged in but not ready (on other work), so every call
    waits; with the default 60 s span, a quarter of the calls are at step 0, 5/12 at
    step 1 and a third at step 2 when the state is returned. Call ids are ``w000000``…
    """
    router = router_cls(config())
    specs = agents(n_agents)
    _add_agents(router, specs)
    for a in specs:
        router.not_ready(a.id, 0.0, reason="busy")
    gap = span / n_calls
    ids, arrivals = [], []
    for i, c in enumerate(calls(n_calls, seed)):
        t = (i + 1) * gap
        cid = f"w{i:06d}"
        assert router.arrive(cid, now=t, **c.kwargs()) == []
        ids.append(cid)
        arrivals.append(t)
        if progress is not None and i % 1000 == 999:
            progress(i + 1)
    now = span
    router.advance(now)
    return Centre(router, now, specs, ids, arrivals)


def stream(n: int, prefix: str, seed: int) -> Iterator[tuple[str, CallSpec]]:
    """``n`` fresh calls with ids ``{prefix}{i}``."""
    for i, c in enumerate(calls(n, seed)):
        yield f"{prefix}{i:06d}", c


# ------------------------------------------------------- rounds of decisions, undone

CallRow = tuple[str, str, str, str, float, int]  # id, plan, region, language, value, repeats


def call_rows(prefix: str, specs: Sequence[CallSpec]) -> list[CallRow]:
    """The calls of a round as arrive's arguments, with ids ``{prefix}{i}``."""
    return [(f"{prefix}{i:06d}", c.plan, c.region, c.language, c.value, c.repeats) for i, c in enumerate(specs)]


def undo_arrivals(router: Any, rows: Sequence[CallRow], results: Sequence[list], t: float) -> None:
    """Undoes a round of ``arrive``: a call that waits is abandoned, an offered one accepted and
    hung up (no wrap-up: its agent is ready again, and no waiting call is offered to it)."""
    for row, offers in zip(rows, results):
        if not offers:
            router.abandon(row[0], t)
    for row, offers in zip(rows, results):
        if offers:
            router.accept(row[0], offers[0].agent_id, t)
            assert router.hangup(row[0], t) == []


def undo_readies(router: Any, agent_ids: Sequence[str], results: Sequence[list], t: float) -> None:
    """Undoes a round of ``ready``: each offer is rejected, which puts its call back in its place
    and its agent in not-ready; agents that found no call go not-ready first, or a rejected
    call would go to them."""
    for agent_id, offers in zip(agent_ids, results):
        if not offers:
            router.not_ready(agent_id, t, reason="busy")
    for offers in results:
        if offers:
            router.reject(offers[0].call_id, offers[0].agent_id, t)
