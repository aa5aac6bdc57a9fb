"""ccroute: call routing for multi-site contact centres.

A C++ core scores each call by region, customer value and language and picks the agent
(or, when agents wait, the call); this package is its Python API, with a pure-Python
reference model of the same rules and a simulator that drives the same engine.
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import (ConfigError, DuplicateIdError, InvalidArgumentError, InvalidTransitionError,
                     RestoreError, RoutingError, TimeOrderError, UnknownIdError)
from .reference import ReferenceRouter
from .router import IMPLEMENTATION, Router
from .types import (AgentInfo, AgentScore, CallInfo, Config, Decision, Explanation, Id, Offer, Plan, PlanStats,
                    PriorityTerms, ScoreTerms, SiteStats, Step, Weights)

try:
    __version__ = version("ccroute")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "Config", "Plan", "Step", "Weights", "Router", "ReferenceRouter", "Offer", "PlanStats", "SiteStats", "Id",
    "CallInfo", "AgentInfo", "Explanation", "AgentScore", "PriorityTerms", "ScoreTerms", "Decision",
    "RoutingError", "ConfigError", "UnknownIdError", "DuplicateIdError", "InvalidArgumentError",
    "TimeOrderError", "InvalidTransitionError", "RestoreError", "IMPLEMENTATION", "__version__",
]
