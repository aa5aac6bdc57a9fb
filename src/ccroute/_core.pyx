# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Binding of the C++ router (csrc/router.hpp).

It converts: ids (any str or int) to the core's dense handles and back, names (sites,
regions, plans, skills) to indices, Python numbers to doubles; and it maps the core's
errors to the RoutingError classes. No routing rule lives here.
"""

from collections.abc import Mapping

import numpy as np

from cython.operator cimport dereference as deref
from libcpp.memory cimport unique_ptr
from libcpp.optional cimport nullopt, optional
from libcpp.string cimport string
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from libcpp.vector cimport vector

from ccroute._router cimport (AgentGroup, AgentRef, AgentState, CallRef, CallSpec, CallState,
                              Demand, ErrorKind, Offer, PlanConfig, PlanStats, ProgressFunction,
                              Result, Scenario, Segment, Shift, SkillLevel, StepConfig, kNone,
                              python_callback, register_error_class, simulate_day)
from ccroute cimport _router

from .errors import (ConfigError, DuplicateIdError, InvalidArgumentError,
                     InvalidTransitionError, TimeOrderError, UnknownIdError)
from .types import Config
from .types import Offer as PyOffer
from .types import PlanStats as PyPlanStats

register_error_class(<int>ErrorKind.Config, ConfigError)
register_error_class(<int>ErrorKind.UnknownId, UnknownIdError)
register_error_class(<int>ErrorKind.DuplicateId, DuplicateIdError)
register_error_class(<int>ErrorKind.InvalidArgument, InvalidArgumentError)
register_error_class(<int>ErrorKind.TimeOrder, TimeOrderError)
register_error_class(<int>ErrorKind.InvalidTransition, InvalidTransitionError)

AGENT_STATES = ("offline", "ready", "reserved", "busy", "wrapup", "not_ready")
CALL_STATES = ("waiting", "offered", "connected")

# Offer is a NamedTuple; tuple.__new__ builds one without its Python-level __new__.
cdef object _make_tuple = tuple.__new__


cdef inline double _number(str what, object value) except? -1.0:
    if type(value) is float or type(value) is int:
        return <double>value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return <double>value
    raise InvalidArgumentError(f"{what} must be a finite number, got {value!r}")


cdef inline object _checked_id(str what, object value):
    if type(value) is str or type(value) is int:
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise InvalidArgumentError(f"{what} id must be a str or int, got {value!r}")


cdef inline int _lookup(dict refs, object key, str what) except -1:
    try:
        return refs[key]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown {what} {key!r}") from None



cdef dict skill_numbers(config):
    """Skill names to the core's numbers: the config's list, or those its steps name."""
    named = config.skills if config.skills is not None else [
        skill for plan in config.plans for step in plan.steps for skill in step.require]
    refs = {}
    for skill in named:
        refs.setdefault(skill, len(refs))
    return refs


cdef _router.Config core_config(config, dict skill_refs) except *:
    """The core's form of a (validated) Config: names become numbers."""
    cdef _router.Config c
    c.n_sites = len(config.sites)
    c.n_regions = len(config.regions)
    c.n_skills = len(skill_refs)
    for region in config.regions:
        for site in config.sites:
            c.distance.push_back(config.regions[region].get(site, config.default_distance))
    if config.offer_timeout is not None:
        c.offer_timeout = optional[double](<double>config.offer_timeout)
    cdef PlanConfig p
    cdef StepConfig s
    cdef SkillLevel need
    for plan in config.plans:
        p = PlanConfig()
        p.name = plan.name.encode()
        p.base_priority, p.value_weight = plan.base_priority, plan.value_weight
        p.repeat_weight, p.aging = plan.repeat_weight, plan.aging
        p.sl_threshold, p.sl_target, p.wrapup = plan.sl_threshold, plan.sl_target, plan.wrapup
        for step in plan.steps:
            s = StepConfig()
            s.after = step.after
            for skill, level in step.require.items():
                need.skill, need.level = skill_refs[skill], level
                s.require.push_back(need)
            s.language_level = step.language_level
            s.max_distance = kNone if step.max_distance is None else step.max_distance
            s.weights.proficiency, s.weights.distance = step.weights.proficiency, step.weights.distance
            s.weights.breadth, s.weights.idle = step.weights.breadth, step.weights.idle
            p.steps.push_back(s)
        c.plans.push_back(p)
    return c


cdef class Router:
    """The native router: see :class:`ccroute.Router` for the documentation."""

    cdef unique_ptr[_router.Router] core
    cdef vector[Offer] out
    cdef dict agent_refs, call_refs, skill_refs, site_refs, region_refs, plan_refs
    cdef list agent_ids, call_ids
    cdef readonly object config

    def __cinit__(self, config, *args, **kwargs):
        if not isinstance(config, Config):
            raise InvalidArgumentError(f"Router needs a ccroute.Config, got {config!r}")
        self.config = config
        self.site_refs = {name: i for i, name in enumerate(config.sites)}
        self.region_refs = {name: i for i, name in enumerate(config.regions)}
        self.plan_refs = {plan.name: i for i, plan in enumerate(config.plans)}
        self.agent_refs, self.agent_ids = {}, []
        self.call_refs, self.call_ids = {}, []
        self.skill_refs = skill_numbers(config)
        self.core.reset(new _router.Router(core_config(config, self.skill_refs)))

    # ------------------------------------------------------------ conversion

    cdef int _skill_ref(self, object name) except -1:
        ref = self.skill_refs.get(name) if isinstance(name, str) else None
        if ref is not None:
            return ref
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"skill names must be non-empty strings, got {name!r}")
        if self.config.skills is not None:
            raise UnknownIdError(f"unknown skill {name!r}")
        # An open skill universe: a new name becomes the next skill.
        ref = deref(self.core).add_skill()
        self.skill_refs[name] = ref
        return ref

    cdef list _take_offers(self):
        cdef list offers = []
        cdef Offer o
        for o in self.out:
            offers.append(_make_tuple(PyOffer, (self.call_ids[o.call], self.agent_ids[o.agent], o.time)))
        self.out.clear()
        return offers

    cdef object _with_offers(self, error, str what, unsigned int ref, object ident):
        """A refused transition: timers due by now did fire; their offers go with the error.

        The core names the subject by handle ("agent #3"); the caller knows it by its id.
        """
        error.args = (str(error).replace(f"{what} #{ref}", f"{what} {ident!r}"),)
        error.offers = self._take_offers()
        return error

    cdef void _forget_call(self, object call_id, CallRef ref):
        del self.call_refs[call_id]
        self.call_ids[ref] = None

    # ---------------------------------------------------------------- agents

    def add_agent(self, agent_id, site, skills={}, wrapup=None):
        """Adds an agent, offline, at ``site`` with ``{skill: level 1–10}``.

        ``wrapup`` (seconds) overrides the plans' after-call work for this agent.
        """
        _checked_id("agent", agent_id)
        if agent_id in self.agent_refs:
            raise DuplicateIdError(f"agent {agent_id!r} already exists")
        cdef int site_ref = _lookup(self.site_refs, site, "site")
        if not isinstance(skills, Mapping):
            raise InvalidArgumentError(f"skills must map skill names to levels, got {skills!r}")
        cdef vector[SkillLevel] levels
        cdef SkillLevel held
        named = [self._skill_ref(name) for name in skills]
        for skill, (name, level) in zip(named, skills.items()):
            held.skill = skill
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 255:
                raise InvalidArgumentError(f"level of skill {name!r} must be an integer 1–10, got {level!r}")
            held.level = level
            levels.push_back(held)
        cdef optional[double] own_wrapup = nullopt
        if wrapup is not None:
            own_wrapup = optional[double](_number("wrapup", wrapup))
        cdef AgentRef ref = deref(self.core).add_agent(site_ref, levels, own_wrapup)
        self.agent_refs[agent_id] = ref
        self.agent_ids.append(agent_id)

    def ready(self, agent_id, now):
        """The agent is ready (log-in, end of a break or of wrap-up); it may take a waiting call."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).ready(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "agent", ref, agent_id)
        return self._take_offers()

    def not_ready(self, agent_id, now, reason=""):
        """The agent steps out (break, training, after a missed offer) for ``reason``."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).not_ready(ref, _number("now", now), str(reason).encode(), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "agent", ref, agent_id)
        return self._take_offers()

    def logout(self, agent_id, now):
        """The agent logs out (offline); allowed when not holding a call."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).logout(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "agent", ref, agent_id)
        return self._take_offers()

    # ----------------------------------------------------------------- calls

    def arrive(self, call_id, plan, now, region=None, language=None, value=0.0, priority=0.0,
               repeats=0, preferred_agent=None, preferred_wait=0.0):
        """A call enters ``plan``; returns the offers it caused (its own, if an agent fits).

        ``value`` is the customer value, ``priority`` an extra priority, ``repeats`` the
        number of earlier calls today; for ``preferred_wait`` seconds only
        ``preferred_agent`` (the case owner) may take it, if logged in.
        """
        cdef CallSpec spec
        _checked_id("call", call_id)
        if call_id in self.call_refs:
            raise DuplicateIdError(f"call {call_id!r} is already in the router")
        spec.plan = _lookup(self.plan_refs, plan, "plan")
        spec.region = kNone if region is None else _lookup(self.region_refs, region, "region")
        spec.language = kNone if language is None else self._skill_ref(language)
        spec.value = _number("value", value)
        spec.priority = _number("priority", priority)
        if isinstance(repeats, bool) or not isinstance(repeats, int):
            raise InvalidArgumentError(f"repeats must be an integer >= 0, got {repeats!r}")
        spec.repeats = repeats
        spec.preferred_agent = kNone if preferred_agent is None else _lookup(
            self.agent_refs, preferred_agent, "preferred agent")
        spec.preferred_wait = _number("preferred_wait", preferred_wait)
        cdef CallRef ref = deref(self.core).arrive(spec, _number("now", now), self.out)
        self.call_refs[call_id] = ref
        if ref == len(self.call_ids):
            self.call_ids.append(call_id)
        else:
            self.call_ids[ref] = call_id
        return self._take_offers()

    def accept(self, call_id, now):
        """The offered agent answered: the call is connected and counts as answered."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).accept(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "call", ref, call_id)
        return self._take_offers()

    def reject(self, call_id, now):
        """The offered agent declined: the agent goes not-ready, the call keeps its place."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).reject(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "call", ref, call_id)
        return self._take_offers()

    def abandon(self, call_id, now):
        """The caller hung up before being connected; an offered agent is ready again."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).abandon(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "call", ref, call_id)
        offers = self._take_offers()  # before the id is forgotten: a timer may have offered it
        self._forget_call(call_id, ref)
        return offers

    def hangup(self, call_id, now):
        """A connected call ended; its agent goes to wrap-up, then ready by itself."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).hangup(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error, "call", ref, call_id)
        offers = self._take_offers()  # before the id is forgotten: a timer may have offered it
        self._forget_call(call_id, ref)
        return offers

    def advance(self, now):
        """Lets time pass to ``now``: fires due escalations, wrap-up ends and offer time-outs."""
        deref(self.core).advance(_number("now", now), self.out)
        return self._take_offers()

    # --------------------------------------------------------------- queries

    @property
    def next_due(self):
        """When the next timer is due (call :meth:`advance` then), or None."""
        cdef optional[double] due = deref(self.core).next_due()
        return due.value() if due.has_value() else None

    def call_state(self, call_id):
        """``"waiting"``, ``"offered"`` or ``"connected"``."""
        return CALL_STATES[<int>deref(self.core).call_state(_lookup(self.call_refs, call_id, "call"))]

    def agent_state(self, agent_id):
        """``"offline"``, ``"ready"``, ``"reserved"``, ``"busy"``, ``"wrapup"`` or ``"not_ready"``."""
        return AGENT_STATES[<int>deref(self.core).agent_state(_lookup(self.agent_refs, agent_id, "agent"))]

    def agent_reason(self, agent_id):
        """Why a not-ready agent is not ready (``"rejected"``, ``"no answer"`` or the given reason)."""
        cdef const string* reason = deref(self.core).agent_reason(
            _lookup(self.agent_refs, agent_id, "agent"))
        return None if reason == NULL else deref(reason).decode()

    def stats(self, now=None):
        """Per-plan statistics at ``now`` (default: the last operation's time); fires no timer."""
        cdef double last = deref(self.core).last_time()
        cdef double t = max(last, 0.0) if now is None else _number("now", now)
        cdef vector[PlanStats] tallies = deref(self.core).stats(t)
        cdef PlanStats s
        result = {}
        for i, plan in enumerate(self.config.plans):
            s = tallies[i]
            result[plan.name] = PyPlanStats.from_tallies(
                s.arrived, s.answered, s.abandoned, s.answered_within, s.wait_sum, s.waiting,
                s.oldest_wait.value() if s.oldest_wait.has_value() else None)
        return result

    def _check_invariants(self):
        """Checks the core's indexes against its states (raises RuntimeError); for tests."""
        deref(self.core).check_invariants()


# ------------------------------------------------------------------ simulator

cdef object _array(const void* data, size_t n, object dtype):
    array = np.empty(n, dtype=dtype)
    if n:
        memcpy(<void*><size_t>array.ctypes.data, data, n * array.itemsize)
    return array


def simulate(config, dict skills, list demand, list groups, double interval, int n_intervals,
             double answer_delay, double no_answer_pause, bint record_events, uint64_t seed,
             progress=None):
    """Runs the core's simulator on arguments already turned into numbers by ccroute.sim.

    ``demand``: per plan, (rates, [(weight, region, language, value_low, value_high)],
    repeat_share, handle_mean, handle_cv, lognormal, patience_mean, preferred_share,
    preferred_wait); ``groups``: (site, [(skill, level)], count, [(start, end)], wrapup or
    None, no_answer). Returns a dict of numpy arrays (see csrc/sim.hpp's Result).
    """
    cdef Scenario s
    s.routing = core_config(config, skills)
    s.interval, s.n_intervals = interval, n_intervals
    s.answer_delay, s.no_answer_pause, s.record_events = answer_delay, no_answer_pause, record_events
    cdef Demand d
    cdef Segment g
    for rates, segments, *numbers in demand:
        d = Demand()
        d.rates = rates
        for g.weight, g.region, g.language, g.value_low, g.value_high in segments:
            d.segments.push_back(g)
        (d.repeat_share, d.handle_mean, d.handle_cv, d.lognormal, d.patience_mean,
         d.preferred_share, d.preferred_wait) = numbers
        s.demand.push_back(d)
    cdef AgentGroup a
    cdef SkillLevel held
    cdef Shift shift
    for site, levels, count, shifts, wrapup, no_answer in groups:
        a = AgentGroup()
        a.site, a.count, a.no_answer = site, count, no_answer
        for held.skill, held.level in levels:
            a.skills.push_back(held)
        for shift.start, shift.end in shifts:
            a.shifts.push_back(shift)
        if wrapup is not None:
            a.wrapup = optional[double](<double>wrapup)
        s.groups.push_back(a)

    cdef ProgressFunction report = python_callback(progress)
    cdef Result r
    with nogil:
        r = simulate_day(s, seed, report)
    out = {
        "arrival": _array(r.arrival.data(), r.arrival.size(), np.float64),
        "wait": _array(r.wait.data(), r.wait.size(), np.float64),
        "handle": _array(r.handle.data(), r.handle.size(), np.float64),
        "value": _array(r.value.data(), r.value.size(), np.float64),
        "plan": _array(r.plan.data(), r.plan.size(), np.int32),
        "region": _array(r.region.data(), r.region.size(), np.int32),
        "language": _array(r.language.data(), r.language.size(), np.int32),
        "repeats": _array(r.repeats.data(), r.repeats.size(), np.int32),
        "preferred_agent": _array(r.preferred_agent.data(), r.preferred_agent.size(), np.int32),
        "agent": _array(r.agent.data(), r.agent.size(), np.int32),
        "outcome": _array(r.outcome.data(), r.outcome.size(), np.int8),
        "busy": _array(r.busy.data(), r.busy.size(), np.float64),
        "logged_in": _array(r.logged_in.data(), r.logged_in.size(), np.float64),
        "agent_group": _array(r.agent_group.data(), r.agent_group.size(), np.int32),
        "events": r.events,
    }
    if record_events:
        out.update(
            op=_array(r.op.data(), r.op.size(), np.int8),
            op_time=_array(r.op_time.data(), r.op_time.size(), np.float64),
            op_call=_array(r.op_call.data(), r.op_call.size(), np.int32),
            op_agent=_array(r.op_agent.data(), r.op_agent.size(), np.int32),
            offer_op=_array(r.offer_op.data(), r.offer_op.size(), np.int32),
            offer_call=_array(r.offer_call.data(), r.offer_call.size(), np.int32),
            offer_agent=_array(r.offer_agent.data(), r.offer_agent.size(), np.int32),
            offer_time=_array(r.offer_time.data(), r.offer_time.size(), np.float64),
        )
    return out
