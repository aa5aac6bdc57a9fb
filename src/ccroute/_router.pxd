# C++ declarations of csrc/router.hpp, shared by the Cython modules.
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libcpp cimport bool
from libcpp.optional cimport optional
from libcpp.string cimport string
from libcpp.string_view cimport string_view
from libcpp.vector cimport vector


cdef extern from "_errors.hpp":
    void register_error_class(int kind, object cls)
    void raise_routing_error()


cdef extern from "journal.hpp" namespace "ccroute" nogil:
    cdef enum class Sync(uint8_t):
        Every, Batch, Never

    cdef cppclass JournalRecord:
        uint64_t event
        double now
        string_view fields

    cdef cppclass JournalContents:
        uint64_t end
        vector[string] warnings
        vector[JournalRecord] records

    JournalContents read_journal(const string& path) except +raise_routing_error


cdef extern from "router.hpp" namespace "ccroute" nogil:
    ctypedef uint32_t AgentRef
    ctypedef uint32_t CallRef
    ctypedef uint16_t SkillRef
    const int kNone
    const CallRef kNoCall

    cpdef enum class Entity(uint8_t):
        Agent, Call, Plan, Site, Region, Skill

    cdef cppclass Namer "ccroute::Namer":
        pass

    cpdef enum class ErrorKind(int):
        Config, UnknownId, DuplicateId, InvalidArgument, TimeOrder, InvalidTransition, Restore

    cpdef enum class AgentState(uint8_t):
        Offline, Ready, Reserved, Busy, Wrapup, NotReady, Removed

    cpdef enum class CallState(uint8_t):
        Waiting, Offered, Connected

    cdef cppclass Weights:
        double proficiency, distance, breadth, idle

    cdef cppclass SkillLevel:
        SkillRef skill
        uint8_t level

    cdef cppclass StepConfig:
        StepConfig()
        double after
        vector[SkillLevel] require
        int language_level
        int max_distance
        Weights weights

    cdef cppclass PlanConfig:
        PlanConfig()
        string name
        vector[StepConfig] steps
        double base_priority, value_weight, repeat_weight, aging, sl_threshold, sl_target, wrapup

    cdef cppclass Config:
        int n_sites
        int n_regions
        vector[int] distance
        vector[PlanConfig] plans
        optional[double] offer_timeout
        int n_skills
        vector[string] skill_names

    cdef cppclass CallSpec:
        int plan, region, language
        double value, priority
        int64_t repeats, preferred_agent
        double preferred_wait

    cdef cppclass Offer:
        CallRef call
        AgentRef agent
        double time

    cdef cppclass CallView:
        CallRef call
        int plan
        CallState state
        double since
        int step
        double arrival
        int64_t agent

    cdef cppclass AgentView:
        AgentRef agent
        int site
        AgentState state
        double since
        CallRef call

    cdef cppclass PriorityTerms:
        double base, value, repeats, extra, aging, total

    cdef cppclass ScoreTerms:
        double proficiency, distance, breadth, idle, total

    cdef cppclass AgentScore:
        AgentRef agent
        double ready_since
        ScoreTerms score

    cpdef enum class Requirement(uint8_t):
        Skill, Language, Distance, PreferredAgent, AllAtOnce, AnyReadyAgent

    cdef cppclass Unmet:
        Requirement requirement
        int32_t skill
        int32_t level

    cdef cppclass Explanation:
        CallView call
        optional[double] next_step_at
        PriorityTerms priority
        uint32_t rank
        uint32_t competing
        vector[AgentScore] agents
        vector[Unmet] unmet

    cdef cppclass Decision:
        CallRef call
        AgentRef agent
        double time
        int plan
        int step
        bool agent_chosen
        double wait
        PriorityTerms priority
        ScoreTerms score

    cdef cppclass PlanStats:
        int64_t arrived, answered, abandoned, answered_within
        double wait_sum
        int64_t waiting
        optional[double] oldest_wait
        optional[double] handle_time
        optional[double] answer_time

    cdef cppclass SiteTally:
        int64_t answered, answered_within, handled
        double wait_sum, handle_sum

    cdef cppclass SiteStats:
        SiteTally tally
        int64_t agents[7]  # by AgentState, in the order of AGENT_STATES

    cdef cppclass Router:
        Router(Config) except +raise_routing_error
        void set_namer(Namer)
        SkillRef add_skill(string_view name) except +raise_routing_error
        AgentRef add_agent(int site, const vector[SkillLevel]& skills, optional[double] wrapup,
                           string_view key) except +raise_routing_error
        CallRef arrive(const CallSpec& call, double now, vector[Offer]& out, string_view key) except +raise_routing_error
        CallRef next_call_ref()
        void ready(AgentRef, double now, vector[Offer]& out) except +raise_routing_error
        void not_ready(AgentRef, double now, const string& reason, vector[Offer]& out) except +raise_routing_error
        void logout(AgentRef, double now, vector[Offer]& out) except +raise_routing_error
        void accept(CallRef, AgentRef, double now, vector[Offer]& out) except +raise_routing_error
        void reject(CallRef, AgentRef, double now, vector[Offer]& out) except +raise_routing_error
        void abandon(CallRef, double now, vector[Offer]& out) except +raise_routing_error
        void hangup(CallRef, double now, vector[Offer]& out) except +raise_routing_error
        void advance(double now, vector[Offer]& out) except +raise_routing_error
        optional[double] next_due()
        AgentState agent_state(AgentRef) except +raise_routing_error
        const string* agent_reason(AgentRef) except +raise_routing_error
        CallState call_state(CallRef) except +raise_routing_error
        bool call_live(CallRef)
        CallView call_view(CallRef) except +raise_routing_error
        AgentView agent_view(AgentRef) except +raise_routing_error
        void call_views(vector[CallView]& out) except +raise_routing_error
        void agent_views(vector[AgentView]& out) except +raise_routing_error
        size_t n_agents()
        vector[PlanStats] stats(double now) except +raise_routing_error
        vector[SiteStats] site_stats() except +raise_routing_error
        double last_time()
        void check_time(double now) except +raise_routing_error
        const string& agent_key(AgentRef) except +
        const string& skill_name(SkillRef) except +
        const Config& config()
        void set_config_tag(string tag)
        string snapshot(const vector[string]& call_keys) except +raise_routing_error
        void restore(string_view blob, vector[string]& call_keys) except +raise_routing_error
        void start_journal(const string& path, Sync sync, uint64_t end) except +raise_routing_error
        void stop_journal()
        void sync_journal() except +raise_routing_error
        bool journaling()
        size_t replay(const JournalContents& journal, vector[string]& call_keys, size_t start) except +raise_routing_error
        void set_skills(AgentRef, optional[int] site, const optional[vector[SkillLevel]]& skills, double now,
                        vector[Offer]& out) except +raise_routing_error
        void remove_agent(AgentRef, double now, vector[Offer]& out) except +raise_routing_error
        vector[SkillRef] skills_in_use()
        void transfer(CallRef, int plan, double now, vector[Offer]& out) except +raise_routing_error
        void reprioritize(CallRef, optional[double] value, optional[double] priority, double now,
                          vector[Offer]& out) except +raise_routing_error
        void reconfigure(Config config, const vector[int]& plans, const vector[int]& sites, const vector[int]& regions,
                         double now, vector[Offer]& out, string_view document) except +raise_routing_error
        uint64_t events()
        Explanation explain(CallRef call, double now, size_t n_agents) except +raise_routing_error
        optional[double] expected_wait(const CallSpec& call, double now) except +raise_routing_error
        void log_decisions(bool on)
        const vector[Decision]& decisions()
        void clear_decisions()
        void check_invariants() except +


cdef extern from "sim.hpp" namespace "ccroute::sim" nogil:
    cdef cppclass Column[T]:  # a std::vector with the simulator's allocator
        T* data()
        size_t size()

    cdef cppclass Segment:
        double weight
        int region, language
        double value_low, value_high

    cdef cppclass Demand:
        Demand()
        vector[double] rates
        vector[Segment] segments
        double repeat_share, handle_mean, handle_cv
        bool lognormal
        double patience_mean, preferred_share, preferred_wait

    cdef cppclass Shift:
        double start, end

    cdef cppclass AgentGroup:
        AgentGroup()
        int site
        vector[SkillLevel] skills
        int count
        vector[Shift] shifts
        optional[double] wrapup
        double no_answer

    cdef cppclass Scenario:
        Config routing
        double interval
        int n_intervals
        vector[Demand] demand
        vector[AgentGroup] groups
        double answer_delay, no_answer_pause
        bool record_events, predict_waits

    cdef cppclass Result:
        Column[double] arrival, wait, handle, value
        Column[int32_t] plan, region, language, repeats, preferred_agent, agent
        Column[int8_t] outcome
        Column[double] predicted_wait
        Column[int32_t] site
        Column[uint8_t] home, in_language
        Column[double] busy, logged_in
        Column[int8_t] op
        Column[double] op_time
        Column[int32_t] op_call, op_agent
        Column[int32_t] offer_op, offer_call, offer_agent
        Column[double] offer_time
        uint64_t events
        int32_t n_agents
        Column[int32_t] agent_group


cdef extern from "_callback.hpp":
    cdef cppclass ProgressFunction "std::function<void(double)>":
        pass
    ProgressFunction python_callback(object callable)
    Namer python_namer(object router)


cdef extern from "sim.hpp":
    Result simulate_day "ccroute::sim::simulate"(const Scenario&, uint64_t seed,
                                                  const ProgressFunction& progress) except +raise_routing_error nogil
