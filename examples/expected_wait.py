"""How accurate is ``Router.expected_wait``? Every caller of the bank day, predicted at arrival.

    python examples/expected_wait.py [examples/bank_day.toml] [--seed 1]

The simulator asks the router each caller's expected wait just before it joins
(``ccroute.sim.run(..., predict_waits=True)``); for the answered calls that is set against
the wait they really had (arrival → accept, ring time included), per plan, beside two
predictors an IVR could use instead:

* naive: the calls waiting in the plan × the plan's mean handle time (talk + wrap-up, the
  true one from the scenario) ÷ the logged-in agents holding its first step's skills;
* Asterisk: app_queue's ``holdtime``, the waits of the queue's answered calls averaged as
  ``(3 × holdtime + new) / 4`` at each answer, announced as it stands when the caller joins.

A prediction the router cannot make (no handle time seen yet) counts as 0. "Within 30 %"
means |predicted − actual| ≤ 0.3 × actual.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ccroute import sim
from ccroute.scenario import Scenario
from ccroute.table import Table

HERE = Path(__file__).parent


def naive(result: sim.Result, plan: int) -> np.ndarray:
    """Waiting calls of the plan × its mean handle time ÷ its first step's logged-in agents."""
    scenario, calls = result.scenario, result.calls
    mine = calls["plan"] == plan
    arrival = calls["arrival"][mine]
    left = np.sort(arrival + calls["wait"][mine])  # answered, abandoned or the horizon
    waiting = np.searchsorted(np.sort(arrival), arrival, "left") - np.searchsorted(left, arrival, "right")
    config_plan = scenario.routing.plans[plan]
    demand = next(d for d in scenario.demand if d.plan == config_plan.name)
    need = config_plan.steps[0].require
    agents = np.zeros_like(arrival)
    for group in scenario.agents:
        if all(group.skills.get(skill, 0) >= level for skill, level in need.items()):
            for start, end in group.shifts:
                agents += group.count * ((arrival >= start) & (arrival < end))
    handle = demand.handle.mean + config_plan.wrapup
    return np.where(agents > 0, waiting * handle / np.maximum(agents, 1), 0.0)


def asterisk(result: sim.Result, plan: int) -> np.ndarray:
    """app_queue's holdtime as it stood when each caller of the plan joined."""
    calls = result.calls
    mine = calls["plan"] == plan
    answered = mine & (calls["outcome"] == sim.ANSWERED)
    answer_at = calls["arrival"][answered] + calls["wait"][answered]
    order = np.argsort(answer_at, kind="stable")
    holdtime, averages = 0.0, np.empty(len(order) + 1)
    averages[0] = 0.0
    for k, wait in enumerate(calls["wait"][answered][order], start=1):
        holdtime = (3 * holdtime + wait) / 4
        averages[k] = holdtime
    return averages[np.searchsorted(answer_at[order], calls["arrival"][mine], "right")]


def accuracy(result: sim.Result) -> Table:
    calls, names, columns = result.calls, [], {}
    for plan, config_plan in enumerate(result.scenario.routing.plans):
        mine = calls["plan"] == plan
        answered = calls["outcome"][mine] == sim.ANSWERED
        actual = calls["wait"][mine][answered]
        names.append(config_plan.name)
        row = {"answered": answered.sum(), "mean wait": actual.mean()}
        predictors = {"ccroute": np.nan_to_num(calls["predicted_wait"][mine], nan=0.0),
                      "naive": naive(result, plan), "Asterisk": asterisk(result, plan)}
        for name, predicted in predictors.items():
            error = np.abs(predicted[answered] - actual)
            row[f"{name} MAE"] = error.mean()
            row[f"{name} ±30%"] = np.mean(error <= 0.3 * actual)
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return Table("plan", names, columns, shares=[k for k in columns if k.endswith("%")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=HERE / "bank_day.toml")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = sim.run(Scenario.load(args.scenario), seed=args.seed, predict_waits=True)
    print(accuracy(result))


if __name__ == "__main__":
    main()
