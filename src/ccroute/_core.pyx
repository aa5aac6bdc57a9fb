# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Binding of the C++ router (csrc/router.hpp).

It converts: ids (any str or int) to the core's dense handles and back, names (sites,
regions, plans, skills) to indices, Python numbers to doubles; and it maps the core's
errors to the RoutingError classes. No routing rule lives here.
"""

import collections
import os
import sys
from collections.abc import Mapping

import numpy as np

cimport cython
from cython.operator cimport dereference as deref
from libcpp.memory cimport unique_ptr
from libcpp.optional cimport nullopt, optional
from libcpp.string cimport string
from libcpp.string_view cimport string_view
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches, PyErr_Occurred
from cpython.list cimport PyList_GET_SIZE, PyList_New
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcmp, memcpy
from libcpp.vector cimport vector

from ccroute._router cimport (AgentGroup, AgentRef, AgentScore, AgentState, AgentView, CallRef,
                              CallSpec, CallState, CallView, Column, Decision, Demand, Entity, ErrorKind,
                              Explanation, JournalContents, Offer, PlanConfig, PlanStats,
                              PriorityTerms, ProgressFunction, Requirement, Result, Scenario,
                              ScoreTerms, Segment, Shift, SkillLevel, StepConfig, Sync, Unmet,
                              kNoCall, kNone, python_callback, python_namer, read_journal,
                              register_error_class, simulate_day)
from ccroute cimport _router

import warnings

from .errors import (ConfigError, DuplicateIdError, InvalidArgumentError,
                     InvalidTransitionError, RestoreError, RoutingError, TimeOrderError, UnknownIdError, shown)
from ._codec import Reader
from .journal import JournalWarning, check_sync, read_reconfigure
from .snapshot import config_fingerprint, decode_id, encode_id
from .types import AGENT_STATES, CALL_STATES, MAX_REPEATS, AgentInfo
from .types import AgentScore as PyAgentScore
from .types import CallInfo, Config
from .types import Decision as PyDecision
from .types import Explanation as PyExplanation
from .types import PriorityTerms as PyPriorityTerms
from .types import ScoreTerms as PyScoreTerms
from .types import describe_unmet, skill_numbering, tell
from .types import Offer as PyOffer
from .types import PlanStats as PyPlanStats
from .types import SiteStats as PySiteStats

register_error_class(<int>ErrorKind.Config, ConfigError)
register_error_class(<int>ErrorKind.UnknownId, UnknownIdError)
register_error_class(<int>ErrorKind.DuplicateId, DuplicateIdError)
register_error_class(<int>ErrorKind.InvalidArgument, InvalidArgumentError)
register_error_class(<int>ErrorKind.TimeOrder, TimeOrderError)
register_error_class(<int>ErrorKind.InvalidTransition, InvalidTransitionError)
register_error_class(<int>ErrorKind.Restore, RestoreError)


# Offer is a NamedTuple; tuple.__new__ builds one without its Python-level __new__.
cdef object _make_tuple = tuple.__new__


cdef extern from *:
    """
    // An id of the caller's (a str or int, or a subclass) the garbage collector may track:
    // never an exact str or int, which the type tells without a call.
    static inline int ccroute_maybe_tracked(PyObject* id) {
        return !PyUnicode_CheckExact(id) && !PyLong_CheckExact(id) && PyObject_GC_IsTracked(id);
    }

    // list[i] = item, for an i in range.
    static inline void ccroute_list_replace(PyObject* list, Py_ssize_t i, PyObject* item) {
        Py_INCREF(item);
        Py_SETREF(PyList_GET_ITEM(list, i), item);
    }

    // list[i] = type(call_id, agent_id, time), an Offer (a NamedTuple) built in place: what
    // tuple.__new__ allocates, without a Python call nor the zeroing of items set at once,
    // and untracked by the garbage collector unless an id is tracked (the collector would
    // untrack it on its first pass over it otherwise). 0, or -1 with an exception set.
    static inline int ccroute_put_offer(PyObject* list, Py_ssize_t i, PyObject* type, PyObject* call_id,
                                        PyObject* agent_id, PyObject* time) {
        PyObject* offer = (PyObject*)PyObject_GC_NewVar(PyTupleObject, (PyTypeObject*)type, 3);
        if (offer == NULL) return -1;
        Py_INCREF(call_id);
        Py_INCREF(agent_id);
        Py_INCREF(time);
        PyTuple_SET_ITEM(offer, 0, call_id);
        PyTuple_SET_ITEM(offer, 1, agent_id);
        PyTuple_SET_ITEM(offer, 2, time);
        if (ccroute_maybe_tracked(call_id) || ccroute_maybe_tracked(agent_id)) PyObject_GC_Track(offer);
        PyList_SET_ITEM(list, i, offer);
        return 0;
    }
    """
    int _put_offer "ccroute_put_offer"(list offers, Py_ssize_t i, object type, PyObject* call_id,
                                       PyObject* agent_id, object time) except -1
    PyObject* _list_item "PyList_GET_ITEM"(list items, Py_ssize_t i)  # borrowed
    void _list_replace "ccroute_list_replace"(list items, Py_ssize_t i, object item)
    PyObject* _dict_get "PyDict_GetItemWithError"(object d, object key)  # borrowed; NULL: absent or error
    PyObject* _dict_setdefault "PyDict_SetDefault"(object d, object key, object default) except NULL  # borrowed
    Py_ssize_t PyDict_GET_SIZE(object d)
    bint _is_compact_ascii "PyUnicode_IS_COMPACT_ASCII"(object s)  # of a str: its characters are its UTF-8
    void* _ascii_data "PyUnicode_DATA"(object s)
    Py_ssize_t _str_length "PyUnicode_GET_LENGTH"(object s)


cdef extern from *:
    """
    #include <climits>
    #include <vector>

    // Names (sites, plans, regions, skills) to the core's numbers: an open-addressing
    // index, by the str's cached hash, of the exact-str keys of a dict of names. The
    // binding looks a plan, a region and a language up on every arrival: ~440 instructions
    // through the dicts (a lookup and the int it holds each), under 100 through this
    // (bench/binding/python_callgrind.py). `find` answers -1 for anything it
    // does not hold (another type, a str whose hash is not computed yet, an unknown
    // name): the caller then asks the dict, which decides and words the error.
    class ccroute_NameIndex {
        struct Slot { PyObject* name; Py_hash_t hash; int ref; };
        std::vector<Slot> slots_;
        size_t mask_ = 0;
        PyObject* names_ = nullptr;  // the dict indexed: a strong reference, as it owns the names

        static bool equal(PyObject* a, PyObject* b) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(a);
            int kind = PyUnicode_KIND(a);
            return n == PyUnicode_GET_LENGTH(b) && kind == PyUnicode_KIND(b) &&
                   memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
        }

      public:
        ccroute_NameIndex() = default;
        ccroute_NameIndex(const ccroute_NameIndex&) = delete;
        ccroute_NameIndex& operator=(const ccroute_NameIndex&) = delete;
        ~ccroute_NameIndex() { Py_XDECREF(names_); }

        // Indexes `dict` ({name: number}) in place of what was indexed; -1 with an exception set.
        int index(PyObject* dict) {
            size_t size = 8;
            while (size < 2 * (size_t)PyDict_GET_SIZE(dict)) size *= 2;
            std::vector<Slot> slots(size, Slot{nullptr, 0, 0});
            PyObject *name, *number;
            Py_ssize_t at = 0;
            while (PyDict_Next(dict, &at, &name, &number)) {
                if (!PyUnicode_CheckExact(name) || !PyLong_CheckExact(number)) continue;
                long ref = PyLong_AsLong(number);
                if (ref == -1 && PyErr_Occurred()) return -1;
                if (ref < 0 || ref > INT_MAX) continue;
                Py_hash_t hash = PyObject_Hash(name);
                if (hash == -1) return -1;
                size_t i = (size_t)hash & (size - 1);
                while (slots[i].name) i = (i + 1) & (size - 1);
                slots[i] = Slot{name, hash, (int)ref};
            }
            Py_INCREF(dict);
            Py_XDECREF(names_);
            names_ = dict;
            slots_.swap(slots);
            mask_ = size - 1;
            return 0;
        }

        int find(PyObject* name) const {
            if (!PyUnicode_CheckExact(name) || slots_.empty()) return -1;
            Py_hash_t hash = ((PyASCIIObject*)name)->hash;
            if (hash == -1) return -1;
            for (size_t i = (size_t)hash & mask_;; i = (i + 1) & mask_) {
                const Slot& slot = slots_[i];
                if (slot.name == name) return slot.ref;
                if (slot.name == nullptr) return -1;
                if (slot.hash == hash && equal(slot.name, name)) return slot.ref;
            }
        }
    };
    """
    cppclass NameIndex "ccroute_NameIndex":
        int index(object names) except -1
        int find(PyObject* name) const


cdef extern from *:
    """
    // A method of the hottest kind (Router.arrive: ten parameters, most often passed by
    // keyword) with its arguments parsed here rather than by Cython's generic parser,
    // which costs ~550 instructions a call for arrive's six keywords (it takes a reference
    // to each argument and default, and looks each keyword up from the first name on).
    // This one borrows the arguments (the caller holds them for the call's length) and the
    // defaults (the method holds them), and remembers the last few keyword layouts it
    // accepted: a call site passes the same tuple of keyword names (a constant of its code)
    // on every call, so once its layout is known its keywords go straight to their
    // parameters (~40 instructions rather than ~250). The method's body gets the arguments
    // by position, defaults filled in.
    struct ccroute_Layout {
        PyObject* kwnames = nullptr;      // a strong reference: its address stays its own
        Py_ssize_t nargs = 0;             // the positional arguments it came with
        signed char parameter[16] = {};   // of each keyword
    };

    struct ccroute_Method {
        PyMethodDef def;
        Py_ssize_t n = 0, required = 0;  // parameters after self; the first `required` have no default
        PyObject* names[16] = {};          // strong references
        PyObject* defaults[16] = {};       // strong references; NULL for the required ones
        ccroute_Layout layouts[4];         // keyword layouts accepted lately
        unsigned next_layout = 0;          // the one the next new layout replaces
        PyObject* (*body)(PyObject* self, PyObject** values) = nullptr;
    };

    static Py_ssize_t ccroute_keyword(const ccroute_Method& m, PyObject* key, Py_ssize_t first) {
        for (Py_ssize_t j = 0, i = first; j < m.n; ++j, i = i + 1 == m.n ? 0 : i + 1)
            if (m.names[i] == key) return i;
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "%s() keywords must be strings", m.def.ml_name);
            return -2;
        }
        for (Py_ssize_t i = 0; i < m.n; ++i)  // a keyword not interned
            if (PyUnicode_Compare(m.names[i], key) == 0) return i;
        if (PyErr_Occurred()) return -2;
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", m.def.ml_name, key);
        return -2;
    }

    // The keywords of a layout not seen lately, into `values` (positional ones and defaults
    // already there); the layout is remembered once it proves valid. -1 with a TypeError.
    static int ccroute_parse_keywords(ccroute_Method& m, PyObject** values, PyObject* const* args,
                                      Py_ssize_t nargs, PyObject* kwnames) {
        ccroute_Layout layout;
        bool given[16] = {};
        for (Py_ssize_t i = 0; i < nargs; ++i) given[i] = true;
        Py_ssize_t next = nargs < m.n ? nargs : 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(kwnames); ++k) {
            PyObject* key = PyTuple_GET_ITEM(kwnames, k);
            Py_ssize_t i = ccroute_keyword(m, key, next);
            if (i < 0) return -1;
            if (given[i]) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%S'", m.def.ml_name, m.names[i]);
                return -1;
            }
            given[i] = true;
            values[i] = args[nargs + k];
            layout.parameter[k] = (signed char)i;  // k < n: a keyword past the n-th repeats or is unknown
            next = i + 1 == m.n ? 0 : i + 1;
        }
        for (Py_ssize_t i = 0; i < m.required; ++i) {
            if (!given[i]) {
                PyErr_Format(PyExc_TypeError, "%s() missing required argument '%S' (pos %zd)", m.def.ml_name,
                             m.names[i], i + 1);
                return -1;
            }
        }
        ccroute_Layout& kept = m.layouts[m.next_layout];
        m.next_layout = (m.next_layout + 1) % (sizeof m.layouts / sizeof m.layouts[0]);
        Py_INCREF(kwnames);
        Py_XSETREF(kept.kwnames, kwnames);
        kept.nargs = nargs;
        memcpy(kept.parameter, layout.parameter, sizeof layout.parameter);
        return 0;
    }

    template <ccroute_Method* M>
    static PyObject* ccroute_call(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
        ccroute_Method& m = *M;
        PyObject* values[16];
        if (nargs > m.n) {
            PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", m.def.ml_name, m.n, nargs);
            return NULL;
        }
        memcpy(values, m.defaults, sizeof values);
        for (Py_ssize_t i = 0; i < nargs; ++i) values[i] = args[i];
        if (kwnames == NULL) {
            if (nargs < m.required) {
                PyErr_Format(PyExc_TypeError, "%s() missing required argument '%S' (pos %zd)", m.def.ml_name,
                             m.names[nargs], nargs + 1);
                return NULL;
            }
            return m.body(self, values);
        }
        for (const ccroute_Layout& layout : m.layouts) {
            if (layout.kwnames == kwnames && layout.nargs == nargs) {
                for (Py_ssize_t k = 0, n_keywords = PyTuple_GET_SIZE(kwnames); k < n_keywords; ++k)
                    values[layout.parameter[k]] = args[nargs + k];
                return m.body(self, values);
            }
        }
        if (ccroute_parse_keywords(m, values, args, nargs, kwnames) < 0) return NULL;
        return m.body(self, values);
    }

    static ccroute_Method ccroute_arrive_method;

    // Puts `m` in `type`'s dictionary as the method `name`: parameters `names` (a tuple of
    // str), the first `required` without default, the others' defaults `defaults` (a tuple);
    // `doc` (kept alive by the caller) opens with the text signature that inspect.signature reads.
    static int ccroute_install(PyObject* type, ccroute_Method* m, PyObject* (*call)(PyObject*, PyObject* const*, Py_ssize_t, PyObject*),
                               PyObject* (*body)(PyObject*, PyObject**), const char* name, PyObject* names,
                               PyObject* defaults, const char* doc) {
        Py_ssize_t n = PyTuple_GET_SIZE(names), required = n - PyTuple_GET_SIZE(defaults);
        if (n > 16 || required < 0) {
            PyErr_SetString(PyExc_ValueError, "a hand-parsed method takes at most 16 parameters, each with a name");
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; ++i) {
            PyObject* interned = PyTuple_GET_ITEM(names, i);
            Py_INCREF(interned);
            PyUnicode_InternInPlace(&interned);
            m->names[i] = interned;
            if (i >= required) {
                m->defaults[i] = PyTuple_GET_ITEM(defaults, i - required);
                Py_INCREF(m->defaults[i]);
            }
        }
        m->n = n;
        m->required = required;
        m->body = body;
        m->def = PyMethodDef{name, (PyCFunction)(void (*)(void))call, METH_FASTCALL | METH_KEYWORDS, doc};
        PyObject* descriptor = PyDescr_NewMethod((PyTypeObject*)type, &m->def);
        if (descriptor == NULL) return -1;
        int failed = PyDict_SetItemString(((PyTypeObject*)type)->tp_dict, name, descriptor);
        Py_DECREF(descriptor);
        PyType_Modified((PyTypeObject*)type);
        return failed;
    }
    """
    ctypedef struct Method "ccroute_Method":
        pass
    ctypedef object (*MethodCall)(object, PyObject* const*, Py_ssize_t, PyObject*)
    ctypedef object (*MethodBody)(object, PyObject**)
    Method arrive_method "ccroute_arrive_method"
    MethodCall arrive_call "ccroute_call<&ccroute_arrive_method>"
    int install_method "ccroute_install"(object type, Method* method, MethodCall call, MethodBody body,
                                         const char* name, tuple names, tuple defaults, const char* doc) except -1


cdef object _Offer = PyOffer  # a C variable: read on every offer

cdef list _handles = []  # int(h) for the handles h below _MAX_SHARED_HANDLE seen so far, made once
cdef size_t _MAX_SHARED_HANDLE = 1 << 16


cdef inline object _handle(CallRef ref):
    """``int(ref)``, the id maps' value for a handle: for the first 65,536 handles, one object
    every router shares (a new call's id is filed without allocating its int)."""
    if ref < <size_t>PyList_GET_SIZE(_handles):
        return <object>_list_item(_handles, ref)
    if ref >= _MAX_SHARED_HANDLE:
        return ref
    _handles.extend(range(len(_handles), ref + 1))
    return <object>_list_item(_handles, ref)


cdef inline double _number(str what, object value) except? -1.0:
    if type(value) is float:  # the common case, inline
        return PyFloat_AS_DOUBLE(value)
    return _other_number(what, value)


cdef double _other_number(str what, object value) except? -1.0:
    if type(value) is int or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        try:
            return <double>value
        except OverflowError:  # an int beyond every double
            pass
    raise InvalidArgumentError(f"{what} must be a finite number, got {shown(value)}")


cdef int64_t _MAX_REPEATS = MAX_REPEATS


cdef inline int64_t _repeats(object value) except -1:
    """A call's number of earlier calls: an int (not a bool) from 0 to MAX_REPEATS."""
    cdef int overflow = 0
    cdef long long n = -1
    if type(value) is int:  # the common case, without a Python comparison
        n = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and 0 <= n <= _MAX_REPEATS:
            return n
    elif not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= MAX_REPEATS:
        return value
    raise InvalidArgumentError(f"repeats must be an integer 0–{MAX_REPEATS}, got {shown(value)}")


cdef inline object _checked_id(str what, object value):
    if type(value) is str or type(value) is int:
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise InvalidArgumentError(f"{what} id must be a str or int, got {shown(value)}")


cdef inline int _lookup(dict refs, object key, str what) except -1:
    cdef PyObject* ref = _dict_get(refs, key)
    if ref is NULL:
        return _unknown(key, what)
    return <int><object>ref


cdef inline int _named(const NameIndex& index, dict refs, object name, str what) except -1:
    """``refs[name]``, a name's number, found by ``index`` (which indexes ``refs``) when it can."""
    cdef int ref = index.find(<PyObject*>name)
    return ref if ref >= 0 else _lookup(refs, name, what)


cdef int _unknown(object key, str what) except -1:
    """Raises UnknownIdError for a key not in the map (or unhashable: no id can be)."""
    if PyErr_Occurred():
        if not (PyErr_ExceptionMatches(TypeError) or PyErr_ExceptionMatches(KeyError)):
            return -1  # another error of the key's own __hash__ or __eq__ goes on
        PyErr_Clear()
    raise UnknownIdError(f"unknown {what} {shown(key)}") from None



cdef object _priority_terms(const PriorityTerms& p):
    return _make_tuple(PyPriorityTerms, (p.base, p.value, p.repeats, p.extra, p.aging, p.total))


cdef object _score_terms(const ScoreTerms& s):
    return _make_tuple(PyScoreTerms, (s.proficiency, s.distance, s.breadth, s.idle, s.total))


cdef str _restored_text(const string& data, str what):
    """Text a snapshot or journal held; RestoreError (not UnicodeDecodeError) when damaged."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise RestoreError(f"snapshot: {what} is not text: {shown(bytes(data))}") from None


cdef inline string_view _view(const string& s) noexcept nogil:
    return string_view(s.data(), s.size())


cdef dict skill_numbers(config):
    """Skill names to the core's numbers."""
    return {name: i for i, name in enumerate(skill_numbering(config))}


cdef _router.Config core_config(config, dict skill_refs) except *:
    """The core's form of a (validated) Config: names become numbers."""
    cdef _router.Config c
    c.n_sites = len(config.sites)
    c.n_regions = len(config.regions)
    c.n_skills = len(skill_refs)
    for name in skill_refs:
        c.skill_names.push_back(name.encode("utf-8", "surrogatepass"))
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
        p.name = plan.name.encode("utf-8", "surrogatepass")
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
    cdef dict agent_refs, call_refs, site_refs, region_refs, plan_refs
    cdef dict skill_refs   # the names the configuration allows now, to the core's numbers
    cdef NameIndex plan_index, region_index, skill_index  # of plan_refs, region_refs, skill_refs
    cdef list skill_names  # every name the core has numbered, by number
    cdef list agent_ids, call_ids
    cdef object unknown_call  # the id of a call not in the router, while an answer to it is refused
    cdef string key           # a call id encoded for the journal (ccroute.snapshot.encode_id)
    cdef object decision_log  # collections.deque of Decision while the log is on, else None
    cdef object on_decision   # or a callable given each Decision
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
        self.skill_names = list(self.skill_refs)
        self._index_names()
        self.core.reset(new _router.Router(core_config(config, self.skill_refs)))
        deref(self.core).set_namer(python_namer(self))
        deref(self.core).set_config_tag(config_fingerprint(config))

    def __init__(self, config, journal=None, sync="batch"):
        if journal is not None:
            self.start_journal(journal, sync)

    # ------------------------------------------------------------ conversion

    cdef int _index_names(self) except -1:
        """Indexes the names of plans, regions and skills anew: after any change of their dicts."""
        self.plan_index.index(self.plan_refs)
        self.region_index.index(self.region_refs)
        self.skill_index.index(self.skill_refs)
        return 0

    @cython.final  # called directly, not through the class's table
    cdef int _skill_ref(self, object name) except -1:
        cdef int ref = self.skill_index.find(<PyObject*>name)
        if ref >= 0:
            return ref
        cdef PyObject* known = _dict_get(self.skill_refs, name) if isinstance(name, str) else NULL
        if known is not NULL:
            return <int><object>known
        if PyErr_Occurred():
            return -1
        return self._new_skill(name)

    cdef int _new_skill(self, object name) except -1:
        """A skill name not numbered yet: refused, or (open skill universe) the next skill."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"skill names must be non-empty strings, got {shown(name)}")
        if self.config.skills is not None:
            raise UnknownIdError(f"unknown skill {shown(name)}")
        # An open skill universe: a new name becomes the next skill.
        cdef string encoded = name.encode("utf-8", "surrogatepass")
        ref = deref(self.core).add_skill(_view(encoded))
        self.skill_refs[name] = ref
        self.skill_names.append(name)
        self.skill_index.index(self.skill_refs)
        return ref

    @cython.final  # called directly, not through the class's table
    cdef list _take_offers(self, object now=None):
        """The offers the core made, as Offer tuples; one stamped with the caller's ``now``
        (a float) holds that very float rather than a copy."""
        cdef Py_ssize_t i, n = self.out.size()
        cdef list offers = PyList_New(n)
        cdef list call_ids = self.call_ids, agent_ids = self.agent_ids
        cdef const Offer* o
        cdef bint stamped_now = type(now) is float
        cdef double t = PyFloat_AS_DOUBLE(now) if stamped_now else 0.0
        for i in range(n):
            o = &self.out[i]
            _put_offer(offers, i, _Offer, _list_item(call_ids, o.call), _list_item(agent_ids, o.agent),
                       now if stamped_now and memcmp(&o.time, &t, sizeof(double)) == 0 else o.time)
        self.out.clear()
        if self.decision_log is not None and not deref(self.core).decisions().empty():
            self._take_decisions()  # now, while the calls offered still have their ids
        return offers

    cdef _take_decisions(self):
        cdef const Decision* d
        cdef size_t i
        decisions = []
        for i in range(deref(self.core).decisions().size()):
            d = &deref(self.core).decisions()[i]
            decisions.append(_make_tuple(PyDecision, (
                self.call_ids[d.call], self.agent_ids[d.agent], d.time, self.config.plans[d.plan].name,
                None if d.step == kNone else d.step, "agent" if d.agent_chosen else "call", d.wait,
                _priority_terms(d.priority), _score_terms(d.score))))
        deref(self.core).clear_decisions()
        if self.on_decision is None:
            self.decision_log.extend(decisions)
        else:
            tell(self.on_decision, decisions)

    cdef object _with_offers(self, error):
        """A refused transition: timers due by now did fire; their offers go with the error."""
        error.offers = self._take_offers()
        return error

    @cython.boundscheck(True)  # a restore names what it refuses before the binding has learnt it
    def _name(self, int entity, unsigned int ref):
        """How the core's error messages name its entities: by the caller's ids and names."""
        if entity == <int>Entity.Call and ref == kNoCall:
            return shown(self.unknown_call)
        names = {<int>Entity.Agent: self.agent_ids, <int>Entity.Call: self.call_ids,
                 <int>Entity.Plan: [p.name for p in self.config.plans], <int>Entity.Site: self.config.sites,
                 <int>Entity.Region: list(self.config.regions), <int>Entity.Skill: self.skill_names}[entity]
        return shown(names[ref]) if ref < len(names) else f"#{ref}"

    cdef CallRef _answered_call(self, object call_id) except? 0xFFFFFFFE:
        """The handle of a call being accepted or rejected; kNoCall for one not in the router,
        which the core refuses like any other answer from an agent not holding the offer."""
        _checked_id("call", call_id)
        ref = self.call_refs.get(call_id)
        if ref is None:
            self.unknown_call = call_id
            return kNoCall
        return ref

    cdef int _encode_key(self, object ident) except -1:
        """``self.key = encode_id(ident)``, without a Python object in the common cases.

        On every journaled ``arrive``: the key is sized (no work when as long as the last
        one) and written in place, rather than assigned and appended (~100 instructions);
        an ASCII str's characters are read where they are (no call, no ``try``: ~40 fewer)."""
        cdef Py_ssize_t size
        cdef const char* utf8 = NULL
        cdef int64_t number
        cdef char* key
        if type(ident) is str:
            if _is_compact_ascii(ident):
                utf8 = <const char*>_ascii_data(ident)
                size = _str_length(ident)
            else:
                try:
                    utf8 = PyUnicode_AsUTF8AndSize(ident, &size)
                except UnicodeEncodeError:  # a lone surrogate: the general path below
                    utf8 = NULL
            if utf8 != NULL:
                self.key.resize(<size_t>size + 1)
                key = <char*>self.key.data()
                key[0] = 1
                memcpy(key + 1, utf8, <size_t>size)
                return 0
        elif type(ident) is int and -2**63 <= ident < 2**63:
            number = ident
            self.key.resize(9)
            key = <char*>self.key.data()
            key[0] = 2
            memcpy(key + 1, &number, 8)
            return 0
        self.key = encode_id(ident)
        return 0

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
            raise DuplicateIdError(f"agent {shown(agent_id)} already exists")
        cdef int site_ref = _lookup(self.site_refs, site, "site")
        cdef vector[SkillLevel] levels = self._levels(skills)
        cdef optional[double] own_wrapup = nullopt
        if wrapup is not None:
            own_wrapup = optional[double](_number("wrapup", wrapup))
        cdef string key = encode_id(agent_id)
        cdef AgentRef ref = deref(self.core).add_agent(site_ref, levels, own_wrapup, _view(key))
        self.agent_refs[agent_id] = ref
        self.agent_ids.append(agent_id)

    cdef vector[SkillLevel] _levels(self, object skills) except *:
        """``{skill name: level}`` as the core's numbers (names first, then levels, as the reference checks)."""
        if not isinstance(skills, Mapping):
            raise InvalidArgumentError(f"skills must map skill names to levels, got {shown(skills)}")
        cdef vector[SkillLevel] levels
        cdef SkillLevel held
        named = [self._skill_ref(name) for name in skills]
        for skill, (name, level) in zip(named, skills.items()):
            held.skill = skill
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 255:
                raise InvalidArgumentError(f"level of skill {shown(name)} must be an integer 1–10, got {shown(level)}")
            held.level = level
            levels.push_back(held)
        return levels

    def set_skills(self, agent_id, now, skills=None, site=None):
        """Replaces the agent's skills (``{skill: level 1–10}``, all of them) and/or moves it to ``site``.

        A ready agent is then routed as if it had just become ready (it may take a waiting
        call its new skills admit), keeping its idle time; one holding a call keeps it.
        """
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        cdef optional[int] site_ref
        if site is not None:
            site_ref = optional[int](<int>_lookup(self.site_refs, site, "site"))
        cdef optional[vector[SkillLevel]] levels
        if skills is not None:
            levels = optional[vector[SkillLevel]](self._levels(skills))
        deref(self.core).set_skills(ref, site_ref, levels, _number("now", now), self.out)
        return self._take_offers(now)

    def remove_agent(self, agent_id, now):
        """Takes the agent out for good (refused while it holds a call); its id may be added again."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).remove_agent(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        del self.agent_refs[agent_id]
        return self._take_offers(now)

    def ready(self, agent_id, now):
        """The agent is ready (log-in, end of a break or of wrap-up); it may take a waiting call."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).ready(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def not_ready(self, agent_id, now, reason=""):
        """The agent steps out (break, training, after a missed offer) for ``reason``."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        if not isinstance(reason, str):
            raise InvalidArgumentError(f"reason must be a str, got {shown(reason)}")
        try:
            deref(self.core).not_ready(ref, _number("now", now), reason.encode("utf-8", "surrogatepass"), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def logout(self, agent_id, now):
        """The agent logs out (offline); allowed when not holding a call."""
        cdef AgentRef ref = _lookup(self.agent_refs, agent_id, "agent")
        try:
            deref(self.core).logout(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    # ----------------------------------------------------------------- calls

    @cython.final  # called directly, not through the class's table
    cdef object _arrive(self, PyObject** a):
        """Router.arrive, installed below with its own argument parser, which passes the ten
        arguments by position (defaults filled in)."""
        cdef object call_id = <object>a[0], now = <object>a[2]
        cdef CallSpec spec
        _checked_id("call", call_id)
        # The id is filed under the handle the core will give the call, in one probe of the
        # map that also tells a duplicate (the map did not grow); refused, it is taken out again.
        cdef CallRef filed = deref(self.core).next_call_ref()
        cdef Py_ssize_t n_calls = PyDict_GET_SIZE(self.call_refs)
        _dict_setdefault(self.call_refs, call_id, _handle(filed))
        if PyDict_GET_SIZE(self.call_refs) == n_calls:
            raise DuplicateIdError(f"call {shown(call_id)} is already in the router")
        cdef CallRef ref
        cdef bint entered = False
        try:  # (try/finally: no exception state saved on the way in, as try/except does)
            self._caller(&spec, <object>a[1], <object>a[3], <object>a[4], <object>a[5], <object>a[6], <object>a[7],
                         <object>a[8])
            spec.preferred_wait = _number("preferred_wait", <object>a[9])
            if deref(self.core).journaling():
                self._encode_key(call_id)
            else:
                self.key.clear()
            ref = deref(self.core).arrive(spec, _number("now", now), self.out, _view(self.key))
            entered = True
        finally:
            if not entered:
                del self.call_refs[call_id]
        if ref != filed:  # a call arrived meanwhile (from an argument's __float__, run by the conversions above) and took it
            self.call_refs[call_id] = ref
        if ref < <size_t>PyList_GET_SIZE(self.call_ids):  # a handle used before: its slot holds None
            _list_replace(self.call_ids, ref, call_id)
        else:
            self.call_ids.append(call_id)
        return self._take_offers(now)

    @cython.final  # called directly, not through the class's table
    cdef int _caller(self, CallSpec* spec, plan, region, language, value, priority, repeats,
                     preferred_agent) except -1:
        """A caller's attributes into ``spec``, refused in the reference model's order (so that a
        call with several bad arguments is refused alike)."""
        spec.plan = _named(self.plan_index, self.plan_refs, plan, "plan")
        spec.region = kNone if region is None else _named(self.region_index, self.region_refs, region, "region")
        spec.language = kNone if language is None else self._skill_ref(language)
        spec.preferred_agent = kNone if preferred_agent is None else _lookup(
            self.agent_refs, preferred_agent, "preferred agent")
        spec.value = _number("value", value)
        spec.priority = _number("priority", priority)
        spec.repeats = _repeats(repeats)
        return 0

    def expected_wait(self, plan, now=None, region=None, language=None, value=0.0, priority=0.0, repeats=0):
        """How long a caller with these attributes, joining ``plan`` at ``now``, would wait (seconds),
        for IVR announcements and callback offers; None when the router cannot tell yet (no
        agent the plan admits is staffed, or none is ready and no call of the plan has ended).

        From the router's own state (README, "Expected wait"): at each step of the plan, the staffed
        agents it admits, the waiting calls ahead of the caller that they would also take, and
        the plan's recent handle and answer times; the step that would serve it first counts.
        O(agents + waiting calls); never touches the decision path.
        """
        cdef CallSpec spec
        self._caller(&spec, plan, region, language, value, priority, repeats, None)
        cdef optional[double] wait = deref(self.core).expected_wait(spec, self._query_time(now))
        return wait.value() if wait.has_value() else None

    def accept(self, call_id, agent_id, now):
        """``agent_id`` answered the call offered to it: connected, and counted as answered.

        Only the agent holding the call's current offer may answer; a late answer (the offer
        timed out and went to another agent, or the caller left) is refused with
        InvalidTransitionError naming the call, the agent and the current holder.
        """
        cdef AgentRef agent = _lookup(self.agent_refs, agent_id, "agent")
        cdef CallRef ref = self._answered_call(call_id)
        try:
            deref(self.core).accept(ref, agent, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def reject(self, call_id, agent_id, now):
        """``agent_id`` declined the call offered to it: the agent goes not-ready, the call keeps its place.

        Refused like :meth:`accept` unless the agent holds the call's current offer.
        """
        cdef AgentRef agent = _lookup(self.agent_refs, agent_id, "agent")
        cdef CallRef ref = self._answered_call(call_id)
        try:
            deref(self.core).reject(ref, agent, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def abandon(self, call_id, now):
        """The caller hung up before being connected; an offered agent is ready again."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).abandon(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        offers = self._take_offers(now)  # before the id is forgotten: a timer may have offered it
        self._forget_call(call_id, ref)
        return offers

    def hangup(self, call_id, now):
        """A connected call ended; its agent goes to wrap-up, then ready by itself."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        try:
            deref(self.core).hangup(ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        offers = self._take_offers(now)  # before the id is forgotten: a timer may have offered it
        self._forget_call(call_id, ref)
        return offers

    def transfer(self, call_id, plan, now):
        """Moves a waiting call to ``plan`` (an IVR transfer), keeping its arrival time and place.

        Its step is the one its wait has reached in the new plan, and it takes an agent if
        one fits; its arrival is counted for the new plan. Refused unless the call waits.
        """
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        cdef int plan_ref = _named(self.plan_index, self.plan_refs, plan, "plan")
        try:
            deref(self.core).transfer(ref, plan_ref, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def reprioritize(self, call_id, now, value=None, priority=None):
        """Changes a waiting or offered call's customer ``value`` and/or extra ``priority``."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        cdef optional[double] new_value, new_priority
        if value is not None:
            new_value = optional[double](_number("value", value))
        if priority is not None:
            new_priority = optional[double](_number("priority", priority))
        try:
            deref(self.core).reprioritize(ref, new_value, new_priority, _number("now", now), self.out)
        except InvalidTransitionError as error:
            raise self._with_offers(error)
        return self._take_offers(now)

    def reconfigure(self, config, now):
        """Replaces the configuration (plans, steps, weights, sites, regions) without a restart.

        Plans, sites and regions are matched by name. A live call whose plan or region, or an
        agent whose site, is not in ``config`` refuses the change (ConfigError) before
        anything changes. Then the timers due by ``now`` fire, and the waiting calls re-enter
        under their new plans in rule 1's order, each taking an agent if one fits.
        """
        if not isinstance(config, Config):
            raise InvalidArgumentError(f"reconfigure needs a ccroute.Config, got {shown(config)}")
        unlisted = self._unlisted_skill_in_use(config)
        if unlisted is not None:
            raise ConfigError(f"skill {shown(unlisted)} is in use: the new configuration's skills must list it")
        skill_refs = {name: ref for ref, name in enumerate(self.skill_names)}
        for name in skill_numbering(config):
            skill_refs.setdefault(name, len(skill_refs))
        cdef vector[int] plans, sites, regions
        new_plans = {p.name: i for i, p in enumerate(config.plans)}
        for p in self.config.plans:
            plans.push_back(new_plans.get(p.name, kNone))
        for site in self.config.sites:
            sites.push_back(config.sites.index(site) if site in config.sites else kNone)
        new_regions = {name: i for i, name in enumerate(config.regions)}
        for region in self.config.regions:
            regions.push_back(new_regions.get(region, kNone))
        cdef string document = config.to_document()
        deref(self.core).reconfigure(core_config(config, skill_refs), plans, sites, regions, _number("now", now),
                                     self.out, _view(document))
        self._adopt(config, skill_refs)
        return self._take_offers(now)

    cdef _adopt(self, config, dict skill_refs):
        """The binding's names for a configuration the core has just taken."""
        self.config = config
        self.site_refs = {name: i for i, name in enumerate(config.sites)}
        self.region_refs = {name: i for i, name in enumerate(config.regions)}
        self.plan_refs = {plan.name: i for i, plan in enumerate(config.plans)}
        self.skill_names = list(skill_refs)
        self._allow_skills()
        deref(self.core).set_config_tag(config_fingerprint(config))

    cdef object _unlisted_skill_in_use(self, config):
        """A skill an agent (not removed) holds or a live call speaks that ``config``'s closed list
        of skills leaves out, or None."""
        if config.skills is not None:
            for skill in deref(self.core).skills_in_use():
                if self.skill_names[skill] not in config.skills:
                    return self.skill_names[skill]
        return None

    cdef _allow_skills(self):
        """The names a skill may be given now: all the core knows, or those the configuration lists."""
        self.skill_refs = {name: ref for ref, name in enumerate(self.skill_names)
                           if self.config.skills is None or name in self.config.skills}
        self._index_names()

    def advance(self, now):
        """Lets time pass to ``now``: fires due escalations, wrap-up ends and offer time-outs."""
        deref(self.core).advance(_number("now", now), self.out)
        return self._take_offers(now)

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
        return None if reason == NULL else deref(reason).decode("utf-8", "surrogatepass")

    cdef double _query_time(self, object now) except? -1.0:
        """A read-out's time: ``now``, or by default the last operation's; never before it."""
        cdef double t = max(deref(self.core).last_time(), 0.0) if now is None else _number("now", now)
        deref(self.core).check_time(t)
        return t

    cdef object _call_info(self, const CallView& v, double now):
        return _make_tuple(CallInfo, (
            self.call_ids[v.call], self.config.plans[v.plan].name, CALL_STATES[<int>v.state], v.since,
            None if v.step == kNone else v.step, v.arrival, now - v.arrival,
            None if v.agent == kNone else self.agent_ids[v.agent]))

    cdef object _agent_info(self, const AgentView& v):
        cdef const string* reason = deref(self.core).agent_reason(v.agent)
        return _make_tuple(AgentInfo, (
            self.agent_ids[v.agent], self.config.sites[v.site], AGENT_STATES[<int>v.state], v.since,
            None if reason == NULL else deref(reason).decode("utf-8", "surrogatepass"),
            None if v.call == kNoCall else self.call_ids[v.call]))

    def call_info(self, call_id, now=None):
        """The call as a wallboard shows it (:class:`~ccroute.CallInfo`), its wait measured at ``now``."""
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        return self._call_info(deref(self.core).call_view(ref), self._query_time(now))

    def agent_info(self, agent_id):
        """The agent as a wallboard shows it (:class:`~ccroute.AgentInfo`)."""
        return self._agent_info(deref(self.core).agent_view(_lookup(self.agent_refs, agent_id, "agent")))

    def calls(self, now=None):
        """Every call in the router (:class:`~ccroute.CallInfo`), in arrival order."""
        cdef double t = self._query_time(now)
        cdef vector[CallView] views
        deref(self.core).call_views(views)
        return [self._call_info(v, t) for v in views]

    def agents(self):
        """Every agent (:class:`~ccroute.AgentInfo`), in the order they were added."""
        cdef vector[AgentView] views
        deref(self.core).agent_views(views)
        return [self._agent_info(v) for v in views]

    def explain(self, call_id, now=None, agents=3):
        """Why a waiting or offered call stands where it does (:class:`~ccroute.Explanation`).

        Its step and when the next starts, its priority at ``now`` term by term, its rank
        among the waiting calls it competes with, and the best ``agents`` ready agents its
        step admits with their score terms — or, when none is admitted, which of the
        step's requirements no ready agent meets. Reads the state only.
        """
        cdef CallRef ref = _lookup(self.call_refs, call_id, "call")
        cdef double t = self._query_time(now)
        if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
            raise InvalidArgumentError(f"agents must be an integer >= 0, got {shown(agents)}")
        cdef Explanation e = deref(self.core).explain(ref, t, min(agents, 2**31))
        cdef AgentScore a
        cdef Unmet u
        return _make_tuple(PyExplanation, (
            self._call_info(e.call, t), e.next_step_at.value() if e.next_step_at.has_value() else None,
            _priority_terms(e.priority), e.rank if e.call.state == CallState.Waiting else None, e.competing,
            [_make_tuple(PyAgentScore, (self.agent_ids[a.agent], a.ready_since, _score_terms(a.score)))
             for a in e.agents],
            [self._unmet(u) for u in e.unmet]))

    cdef str _unmet(self, const Unmet& u):
        kind = ("skill", "language", "distance", "preferred_agent", "all_at_once", "any_ready_agent")[<int>u.requirement]
        name = (self.skill_names[u.skill] if kind in ("skill", "language") else
                list(self.config.regions)[u.skill] if kind == "distance" else
                self.agent_ids[u.skill] if kind == "preferred_agent" else None)
        return describe_unmet(kind, name, u.level)

    def log_decisions(self, capacity=1000, callback=None):
        """Turns the decision log on (or off with ``capacity=None`` and no callback).

        Every offer's terms are then recorded as a :class:`~ccroute.Decision`: kept in a ring
        of the last ``capacity`` (read with :meth:`decisions`), or handed to ``callback``
        as each operation returns (a callback that raises is reported as a RuntimeWarning:
        the operation happened all the same). Off, it costs nothing measurable.
        """
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= sys.maxsize):
            raise InvalidArgumentError(f"capacity must be an integer >= 1 or None, got {shown(capacity)}")
        if callback is not None and not callable(callback):
            raise InvalidArgumentError(f"callback must be callable, got {callback!r}")
        on = capacity is not None or callback is not None
        self.decision_log = collections.deque(maxlen=None if callback else capacity) if on else None
        self.on_decision = callback
        deref(self.core).log_decisions(on)

    def decisions(self):
        """The decisions in the log, oldest first (see :meth:`log_decisions`)."""
        return [] if self.decision_log is None else list(self.decision_log)

    def stats(self, now=None):
        """Per-plan statistics at ``now`` (default: the last operation's time); fires no timer."""
        cdef vector[PlanStats] tallies = deref(self.core).stats(self._query_time(now))
        cdef PlanStats s
        result = {}
        for i, plan in enumerate(self.config.plans):
            s = tallies[i]
            result[plan.name] = PyPlanStats.from_tallies(
                s.arrived, s.answered, s.abandoned, s.answered_within, s.wait_sum, s.waiting,
                s.oldest_wait.value() if s.oldest_wait.has_value() else None,
                s.handle_time.value() if s.handle_time.has_value() else None,
                s.answer_time.value() if s.answer_time.has_value() else None)
        return result

    def site_stats(self):
        """Per-site statistics (:class:`~ccroute.SiteStats`), in site order: the agents of each site by
        state (a scan of the agents) and the calls its agents answered and handled. Fires no timer.

        A read-out for multi-site wallboards: reads the state, as of the last operation.
        """
        cdef vector[_router.SiteStats] sites = deref(self.core).site_stats()
        cdef _router.SiteStats s
        result = {}
        for i, site in enumerate(self.config.sites):
            s = sites[i]
            result[site] = PySiteStats.from_tallies(
                {state: s.agents[n] for n, state in enumerate(AGENT_STATES)}, s.tally.answered,
                s.tally.answered_within, s.tally.wait_sum, s.tally.handled, s.tally.handle_sum)
        return result

    # ------------------------------------------------------------- snapshots

    def snapshot(self):
        """The router's whole state as bytes: versioned, checksummed, tagged with its configuration.

        :meth:`restore` builds a router that continues exactly as this one would. The format
        (:mod:`ccroute.snapshot`) is shared with the reference model. The GIL is released
        while the core writes it.
        """
        cdef vector[string] keys = self._call_keys()
        cdef string blob
        with nogil:  # the core reads only its own state and `keys`
            blob = deref(self.core).snapshot(keys)
        return <bytes>blob

    @classmethod
    def restore(cls, config, blob):
        """A router restored from :meth:`snapshot` bytes taken under the same ``config``.

        An empty, truncated, corrupted or other-version blob, or one taken under another
        configuration, raises :class:`~ccroute.RestoreError` naming the reason.
        """
        cdef Router router = cls(config)
        router._load(blob)
        return router

    cdef _load(self, blob):
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise RestoreError(f"a snapshot is bytes, got {type(blob).__name__}")
        cdef string data = bytes(blob)
        cdef vector[string] keys
        with nogil:  # rebuilding the indexes is the core's work alone
            deref(self.core).restore(_view(data), keys)
        self._learn_ids(keys)
        unlisted = self._unlisted_skill_in_use(self.config)  # the core does not know the list: add_agent checks it here
        if unlisted is not None:
            raise RestoreError(f"snapshot: inconsistent state (skill {shown(unlisted)} "
                               "is in use but not among the configuration's skills)")

    cdef vector[string] _call_keys(self):
        """The live calls' ids, encoded, by handle: what the core keeps in snapshots."""
        cdef vector[string] keys
        keys.reserve(len(self.call_ids))
        for call_id in self.call_ids:
            keys.push_back(b"" if call_id is None else encode_id(call_id))
        return keys

    cdef _learn_ids(self, const vector[string]& keys):
        """The binding's id maps, from the core's agents and skills and the calls' ``keys``."""
        self.agent_refs, self.agent_ids, self.call_refs = {}, [], {}
        cdef size_t ref
        for ref in range(deref(self.core).n_agents()):
            agent_id = decode_id(deref(self.core).agent_key(ref))
            self.agent_ids.append(agent_id)
            if deref(self.core).agent_state(ref) != AgentState.Removed:  # its id may belong to a newer agent
                self._learn(self.agent_refs, None, agent_id, ref, "agent")
            if deref(self.core).agent_reason(ref) != NULL:  # read-outs decode it later: it must be text
                _restored_text(deref(deref(self.core).agent_reason(ref)), "a not-ready reason")
        self.skill_names = [_restored_text(deref(self.core).skill_name(ref), "a skill name")
                            for ref in range(deref(self.core).config().n_skills)]
        self._allow_skills()
        self.call_ids = [None] * keys.size()
        for ref in range(keys.size()):
            if deref(self.core).call_live(ref):
                self._learn(self.call_refs, None, decode_id(keys[ref]), ref, "call")
                self.call_ids[ref] = decode_id(keys[ref])

    # --------------------------------------------------------------- journal

    def start_journal(self, path, sync="batch"):
        """Journals every operation that changes the router to ``path`` from now on (see :mod:`ccroute.journal`).

        ``sync``: ``"every"`` (each record reaches the disk before the operation returns),
        ``"batch"`` (a background thread syncs every 100 ms) or ``"none"`` (the kernel's
        writeback). Whatever the policy, a record is in the kernel when its operation
        returns, so a process crash loses nothing acknowledged. An existing, non-empty file
        is refused: it holds a history to :meth:`recover` from.
        """
        self.start_journal_at(os.fsencode(path), check_sync(sync), 0)

    @property
    def events(self):
        """Operations that changed the router since it was built: the journal's next event number."""
        return deref(self.core).events()

    def stop_journal(self):
        """Stops journaling (the file is synced and closed)."""
        deref(self.core).stop_journal()

    def sync_journal(self):
        """Makes every record journaled so far durable on disk now."""
        deref(self.core).sync_journal()

    @classmethod
    def recover(cls, config, journal, snapshot=None, sync="batch"):
        """The router as it was when its process died: ``snapshot`` (if any), then the journal's
        operations since, and journaling to ``journal`` again.

        A torn last record (its operation had not returned) is dropped with a
        :class:`~ccroute.journal.JournalWarning`; a journal of another configuration, with
        missing events or a damaged record before valid ones raises
        :class:`~ccroute.RestoreError`. The GIL is released while the core replays.
        """
        check_sync(sync)
        cdef Router router = cls(config)
        if snapshot is not None:
            router._load(snapshot)
        cdef string path = os.fsencode(journal)
        cdef JournalContents contents
        cdef vector[string] keys = router._call_keys()
        cdef size_t at = 0
        with nogil:  # reading the journal is the core's work alone
            contents = read_journal(path)
        for message in contents.warnings:
            warnings.warn(message.decode(), JournalWarning, stacklevel=2)
        while True:
            with nogil:  # and so is replaying it, up to a reconfiguration (its configuration is ours)
                at = deref(router.core).replay(contents, keys, at)
            router._learn_ids(keys)
            if at == contents.records.size():
                break
            record = <bytes>contents.records[at].fields.data()[:contents.records[at].fields.size()]
            document = read_reconfigure(Reader(record, "journal record"))
            try:
                router.reconfigure(Config.from_document(document), contents.records[at].now)
            except (RoutingError, ValueError, KeyError, TypeError) as error:
                raise RestoreError(f"journal: a reconfiguration does not replay ({error})") from None
            keys = router._call_keys()
            at += 1
        router.start_journal_at(path, sync, contents.end)
        return router

    cdef start_journal_at(self, const string& path, str sync, uint64_t end):
        cdef Sync policy = Sync.Every if sync == "every" else Sync.Batch if sync == "batch" else Sync.Never
        deref(self.core).start_journal(path, policy, end)

    cdef _learn(self, dict refs, list ids, object ident, size_t ref, str what):
        if ident in refs:
            raise RestoreError(f"snapshot: {what} {ident!r} twice")
        refs[ident] = ref
        if ids is not None:
            ids.append(ident)

    def _check_invariants(self):
        """Checks the core's indexes against its states (raises RuntimeError); for tests."""
        deref(self.core).check_invariants()


cdef object _arrive(object router, PyObject** a):
    return (<Router>router)._arrive(a)


cdef install_arrive():
    """Router.arrive, with the parser of ccroute_Method: its parameters, defaults and docstring."""
    required = ("call_id", "plan", "now")
    defaults = dict(region=None, language=None, value=0.0, priority=0.0, repeats=0, preferred_agent=None,
                    preferred_wait=0.0)
    signature = ", ".join([*required, *(f"{name}={default!r}" for name, default in defaults.items())])
    global _ARRIVE_DOC
    cdef bytes doc = f"""\
arrive($self, {signature})
--

A call enters ``plan``; returns the offers it caused (its own, if an agent fits).

``value`` is the customer value, ``priority`` an extra priority, ``repeats`` the
number of earlier calls today; for ``preferred_wait`` seconds only
``preferred_agent`` (the case owner) may take it, if logged in.
""".encode()
    _ARRIVE_DOC = doc  # kept: the method's doc points into it
    install_method(Router, &arrive_method, arrive_call, _arrive, b"arrive", (*required, *defaults),
                   tuple(defaults.values()), doc)


_ARRIVE_DOC = None
install_arrive()


# ------------------------------------------------------------------ simulator

cdef class _SimResult:
    """A simulated day's columns (csrc/sim.hpp's Result), kept alive by the numpy arrays that
    view them: handing them over without a copy saves a copy of every column and the
    allocation of as much memory again (a tenth of a short run's time)."""
    cdef Result result


cdef class _Column:
    """One column of a _SimResult, exported by the buffer protocol (1-d, contiguous, writable)."""
    cdef _SimResult owner
    cdef char* data
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t itemsize[1]
    cdef const char* format

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.data
        view.obj = self
        view.len = self.shape[0] * self.itemsize[0]
        view.readonly = 0
        view.itemsize = self.itemsize[0]
        view.ndim = 1
        view.format = NULL  # what was not asked for is left out (PEP 3118)
        view.shape = NULL
        view.strides = NULL
        if flags & PyBUF_FORMAT:
            view.format = <char*>self.format
        if flags & PyBUF_ND:
            view.shape = self.shape
        if flags & PyBUF_STRIDES == PyBUF_STRIDES:
            view.strides = self.itemsize
        view.suboffsets = NULL
        view.internal = NULL


cdef object _column(_SimResult owner, void* data, size_t n, Py_ssize_t itemsize, const char* format, object dtype):
    """A numpy array over n items at data, which owner's Result holds."""
    if n == 0:
        return np.empty(0, dtype=dtype)
    cdef _Column column = _Column.__new__(_Column)
    column.owner = owner
    column.data = <char*>data
    column.shape[0] = <Py_ssize_t>n
    column.itemsize[0] = itemsize
    column.format = format
    return np.frombuffer(column, dtype=dtype)


cdef inline object _doubles(_SimResult owner, Column[double]& v):
    return _column(owner, v.data(), v.size(), sizeof(double), b"d", np.float64)


cdef inline object _int32s(_SimResult owner, Column[int32_t]& v):
    return _column(owner, v.data(), v.size(), sizeof(int32_t), b"i", np.int32)


cdef inline object _int8s(_SimResult owner, Column[int8_t]& v):
    return _column(owner, v.data(), v.size(), sizeof(int8_t), b"b", np.int8)


cdef inline object _bools(_SimResult owner, Column[uint8_t]& v):  # 0 or 1 each
    return _column(owner, v.data(), v.size(), sizeof(uint8_t), b"?", np.bool_)


def simulate(config, dict skills, list demand, list groups, double interval, int n_intervals,
             double answer_delay, double no_answer_pause, bint record_events, uint64_t seed,
             progress=None, bint predict_waits=False):
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
    s.predict_waits = predict_waits
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
    cdef _SimResult owner = _SimResult.__new__(_SimResult)
    with nogil:
        owner.result = simulate_day(s, seed, report)
    cdef Result* r = &owner.result
    out = {
        "arrival": _doubles(owner, r.arrival),
        "wait": _doubles(owner, r.wait),
        "handle": _doubles(owner, r.handle),
        "value": _doubles(owner, r.value),
        "plan": _int32s(owner, r.plan),
        "region": _int32s(owner, r.region),
        "language": _int32s(owner, r.language),
        "repeats": _int32s(owner, r.repeats),
        "preferred_agent": _int32s(owner, r.preferred_agent),
        "agent": _int32s(owner, r.agent),
        "outcome": _int8s(owner, r.outcome),
        "busy": _doubles(owner, r.busy),
        "logged_in": _doubles(owner, r.logged_in),
        "agent_group": _int32s(owner, r.agent_group),
        "events": r.events,
    }
    if predict_waits:
        out["predicted_wait"] = _doubles(owner, r.predicted_wait)
    out["site"] = _int32s(owner, r.site)
    out["home"] = _bools(owner, r.home)
    out["in_language"] = _bools(owner, r.in_language)
    if record_events:
        out.update(
            op=_int8s(owner, r.op),
            op_time=_doubles(owner, r.op_time),
            op_call=_int32s(owner, r.op_call),
            op_agent=_int32s(owner, r.op_agent),
            offer_op=_int32s(owner, r.offer_op),
            offer_call=_int32s(owner, r.offer_call),
            offer_agent=_int32s(owner, r.offer_agent),
            offer_time=_doubles(owner, r.offer_time),
        )
    return out
