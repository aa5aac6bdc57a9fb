"""ccroute against SimPy and Ciw on one M/M/c queue (bench/peers/mmc.py): speed and agreement.

    python -m pytest bench/peers -q --benchmark-json=/tmp/peers.json
    python bench/peers/report.py /tmp/peers.json

The three ``test_speed[...]`` benchmarks (group ``peers-mmc``) time one whole run each —
build the model, simulate 80 h (about 72,000 calls), compute the KPIs — with the same
seed every round; the KPIs of that run go to ``extra_info`` for the report. Nothing is
asserted about time. :func:`test_kpis_agree` checks that the three simulate the same queue:
their service level and ASA, pooled over a few seeds, agree with each other and with
Erlang C within a few standard errors estimated by batch means.

SimPy and Ciw are the optional extra ``peers`` (``pip install simpy ciw``); without them
their tests are skipped, with the reason.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import mmc

SEED = 1
ROUNDS = {"ccroute": 20, "simpy": 5, "ciw": 3}  # a few seconds of timing each
AGREEMENT_SEEDS = (1, 2, 3, 4, 5)
K = 4.0  # standard errors allowed between estimates (and between an estimate and Erlang C)

NEEDS = {
    "ccroute": ("ccroute._core", "the ccroute simulator runs in the native extension, which is not built "
                                 "(pip install -e . --no-build-isolation)"),
    "simpy": ("simpy", "SimPy is not installed (pip install simpy, or the extra ccroute[peers])"),
    "ciw": ("ciw", "Ciw is not installed (pip install ciw, or the extra ccroute[peers])"),
}


def need(impl: str) -> None:
    module, reason = NEEDS[impl]
    pytest.importorskip(module, reason=reason)


@pytest.mark.benchmark(group="peers-mmc")
@pytest.mark.parametrize("impl", list(mmc.RUNNERS))
def test_speed(benchmark: Any, impl: str) -> None:
    need(impl)
    run: Callable[[int], dict[str, Any]] = mmc.RUNNERS[impl]
    result = benchmark.pedantic(run, args=(SEED,), rounds=ROUNDS[impl], iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(impl=impl, seed=SEED, **result, **{f"param_{k}": v for k, v in mmc.PARAMETERS.items()})
    # not a timing check: only that the timed run simulated the intended queue at all
    assert result["calls"] > 0.9 * mmc.RATE * mmc.HORIZON


def pooled(values: list[np.ndarray]) -> tuple[float, float]:
    """Mean and standard error of batch values pooled over seeds (all batches of equal length)."""
    x = np.concatenate(values)
    return float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(len(x)))


def test_kpis_agree() -> None:
    """Service level and ASA of the three agree with each other and with Erlang C.

    Each implementation runs ``AGREEMENT_SEEDS``; every run is cut into ``mmc.BATCHES``
    batches of 8 h, whose values give the pooled estimate and its standard error. The
    tolerance is K standard errors: of the estimate against Erlang C, of the difference
    between two estimates. The runs start empty and keep every call (mmc's KPI
    definition); the bias this leaves against the steady state (Erlang C) is a small
    fraction of the standard error at this run length, and is not allowed for.

    The arrival counts are checked as well: their total over the seeds is Poisson with
    mean RATE × HORIZON × seeds.
    """
    from ccroute.staffing import erlang_c

    for impl in mmc.SIMULATORS:
        need(impl)
    theory = erlang_c(mmc.RATE, mmc.AHT, mmc.AGENTS)
    expected = {"service_level": theory.service_level(mmc.SL_THRESHOLD), "asa": theory.asa}
    estimates: dict[str, dict[str, tuple[float, float]]] = {}
    failures = []
    for impl, simulate in mmc.SIMULATORS.items():
        runs = [simulate(seed) for seed in AGREEMENT_SEEDS]
        batches = [mmc.batch_values(c) for c in runs]
        estimates[impl] = {"service_level": pooled([b[0] for b in batches]), "asa": pooled([b[1] for b in batches])}
        calls = sum(len(c.arrival) for c in runs)
        mean_calls = mmc.RATE * mmc.HORIZON * len(runs)
        if abs(calls - mean_calls) > K * math.sqrt(mean_calls):
            failures.append(f"{impl}: {calls} arrivals over {len(runs)} runs, expected {mean_calls:.0f}")
        if any(np.any(c.arrival >= mmc.HORIZON) or np.any(c.arrival < 0) for c in runs):
            failures.append(f"{impl}: an arrival outside [0, HORIZON)")

    lines = [f"{'':10s}" + "".join(f"{k:>26s}" for k in expected),
             f"{'Erlang C':10s}" + "".join(f"{v:26.4f}" for v in expected.values())]
    for impl, est in estimates.items():
        lines.append(f"{impl:10s}" + "".join(f"{m:17.4f} ± {se:6.4f}" for m, se in est.values()))
    print("\n" + "\n".join(lines))

    names = list(estimates)
    for kpi, value in expected.items():
        for impl in names:
            m, se = estimates[impl][kpi]
            if abs(m - value) > K * se:
                failures.append(f"{impl} {kpi}: {m:.4f} ± {se:.4f}, Erlang C {value:.4f}")
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                (ma, sa), (mb, sb) = estimates[a][kpi], estimates[b][kpi]
                if abs(ma - mb) > K * math.hypot(sa, sb):
                    failures.append(f"{kpi}: {a} {ma:.4f} ± {sa:.4f} vs {b} {mb:.4f} ± {sb:.4f}")
    assert not failures, "\n".join(failures + lines)
