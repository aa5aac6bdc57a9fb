/* ccroute C API: the routing engine for switches written in C.
 *
 * Everything is a dense integer: sites, regions, skills and plans are numbered from 0 in
 * the order the configuration gives them; agents are numbered in the order they are added;
 * a call gets a handle when it arrives, valid until it leaves (answered and hung up, or
 * abandoned), after which the handle may be given to a new call.
 *
 * Every function returns a ccr_status. On an error nothing changed, except that an
 * impossible transition (CCR_INVALID_TRANSITION) is reported after the timers due by `now`
 * fired: their offers are then readable as usual. ccr_last_error() names the bad value.
 *
 * After every mutating call, ccr_offers() lists the offers it caused: ring that agent's
 * phone with that call. The list stays valid until the next call on the same router.
 * A router is not thread-safe; use one per thread or lock around it.
 */
#ifndef CCROUTE_H
#define CCROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CCR_API __declspec(dllexport)
#else
#define CCR_API __attribute__((visibility("default")))
#endif

typedef enum ccr_status {
    CCR_OK = 0,
    CCR_CONFIG_ERROR,        /* malformed configuration */
    CCR_UNKNOWN_ID,          /* no such agent, call, plan, site, region or skill */
    CCR_DUPLICATE_ID,
    CCR_INVALID_ARGUMENT,    /* a value out of range: a level outside 1-10, a negative wait... */
    CCR_TIME_ORDER,          /* time went backwards */
    CCR_INVALID_TRANSITION,  /* e.g. accepting a call that was not offered */
    CCR_NO_MEMORY,
    CCR_INTERNAL_ERROR,
    CCR_RESTORE_ERROR        /* a snapshot that is truncated, corrupt, of another version or configuration */
} ccr_status;

typedef enum ccr_agent_state {
    CCR_AGENT_OFFLINE, CCR_AGENT_READY, CCR_AGENT_RESERVED,
    CCR_AGENT_BUSY, CCR_AGENT_WRAPUP, CCR_AGENT_NOT_READY, CCR_AGENT_REMOVED
} ccr_agent_state;

typedef enum ccr_call_state { CCR_CALL_WAITING, CCR_CALL_OFFERED, CCR_CALL_CONNECTED } ccr_call_state;

#define CCR_NONE (-1) /* no region, no language, no distance limit, no preferred agent */

typedef struct ccr_skill_level { uint16_t skill; uint8_t level; } ccr_skill_level;

typedef struct ccr_weights { double proficiency, distance, breadth, idle; } ccr_weights;

typedef struct ccr_step {
    double after;                    /* seconds since arrival when this step starts */
    const ccr_skill_level *require;  /* minimum levels; n_require entries */
    size_t n_require;
    int language_level;              /* 0: the caller's language is not required */
    int max_distance;                /* CCR_NONE: any site */
    ccr_weights weights;
} ccr_step;

typedef struct ccr_plan {
    double base_priority, value_weight, repeat_weight, aging;
    double sl_threshold, sl_target, wrapup;
} ccr_plan;

typedef struct ccr_call {
    int plan;
    int region;             /* CCR_NONE: unknown, at the default distance from every site */
    int language;           /* a skill, or CCR_NONE */
    double value, priority;
    int64_t repeats;        /* 0 .. 4294967295 (kept in 32 bits) */
    int64_t preferred_agent; /* an agent, or CCR_NONE */
    double preferred_wait;
} ccr_call;

typedef struct ccr_offer { uint32_t call; uint32_t agent; double time; } ccr_offer;

typedef struct ccr_plan_stats {
    int64_t arrived, answered, abandoned, answered_within, waiting;
    double wait_sum;
    double oldest_wait;      /* negative when no call waits */
    double handle_time;      /* recent average talk + wrap-up; negative before the first call ends */
    double answer_time;      /* recent average offer -> accept; negative before the first answer */
} ccr_plan_stats;

/* A site as a multi-site wallboard shows it. Agents by state (those of the site now; removed
 * ones not counted); calls answered (accepted) and handled (hung up) by the site's agents, the
 * site being the agent's at that moment. */
typedef struct ccr_site_stats {
    int64_t offline, ready, reserved, busy, wrapup, not_ready;
    int64_t answered, answered_within; /* within: accept - arrival <= the call's plan's sl_threshold */
    double wait_sum;                   /* sum of accept - arrival over the calls answered */
    int64_t handled;
    double handle_sum;                 /* sum of hang-up - accept + wrap-up seconds over the calls handled */
} ccr_site_stats;

typedef struct ccr_config ccr_config;
typedef struct ccr_router ccr_router;

CCR_API const char *ccr_version(void);

/* Defaults: Weights{1, -1, 0, 0}; a plan with aging 1, sl_threshold 20, sl_target 0.85;
 * a call of plan 0 with no region, language or preferred agent. */
CCR_API ccr_weights ccr_default_weights(void);
CCR_API ccr_plan ccr_default_plan(void);
CCR_API ccr_call ccr_default_call(void);

/* --- configuration: sites, regions and skills are counts; distances default to
 *     default_distance until set. */
CCR_API ccr_status ccr_config_new(int n_sites, int n_regions, int n_skills, int default_distance,
                                  ccr_config **out);
CCR_API void ccr_config_free(ccr_config *config);
CCR_API ccr_status ccr_config_set_distance(ccr_config *config, int region, int site, int tier);
CCR_API ccr_status ccr_config_set_offer_timeout(ccr_config *config, double seconds); /* <= 0: none */
/* Adds a plan with its steps (the first must start at 0; at most 32767); *plan_out gets its number. */
CCR_API ccr_status ccr_config_add_plan(ccr_config *config, const char *name, const ccr_plan *plan,
                                       const ccr_step *steps, size_t n_steps, int *plan_out);

/* --- the router */
CCR_API ccr_status ccr_router_new(const ccr_config *config, ccr_router **out);
CCR_API void ccr_router_free(ccr_router *router);
/* "" after success. With NULL: the message of this thread's last failed ccr_config_new,
 * ccr_config_add_plan, ccr_router_new or ccr_router_restore. */
CCR_API const char *ccr_last_error(const ccr_router *router);

/* wrapup < 0: the plan's wrap-up time applies. */
CCR_API ccr_status ccr_add_agent(ccr_router *router, int site, const ccr_skill_level *skills,
                                 size_t n_skills, double wrapup, uint32_t *agent_out);

CCR_API ccr_status ccr_arrive(ccr_router *router, const ccr_call *call, double now, uint32_t *call_out);
CCR_API ccr_status ccr_ready(ccr_router *router, uint32_t agent, double now);
CCR_API ccr_status ccr_not_ready(ccr_router *router, uint32_t agent, double now, const char *reason);
CCR_API ccr_status ccr_logout(ccr_router *router, uint32_t agent, double now);
/* Accept and reject name the agent who answered: only the agent holding the call's current
 * offer may. A late answer (the offer timed out and the call went to another agent, or the
 * caller left) is refused with CCR_INVALID_TRANSITION, naming the call, the agent and the
 * current holder, and changes nothing. */
CCR_API ccr_status ccr_accept(ccr_router *router, uint32_t call, uint32_t agent, double now);
CCR_API ccr_status ccr_reject(ccr_router *router, uint32_t call, uint32_t agent, double now);
CCR_API ccr_status ccr_abandon(ccr_router *router, uint32_t call, double now);
CCR_API ccr_status ccr_hangup(ccr_router *router, uint32_t call, double now);
CCR_API ccr_status ccr_advance(ccr_router *router, double now);

/* --- live changes: what supervisors do during the day, without a restart.
 * Skills (all of them: a replacement; skills NULL and n_skills 0 keep them) and/or site
 * (CCR_NONE keeps it). A ready agent is then routed as if it had just become ready. */
CCR_API ccr_status ccr_set_skills(ccr_router *router, uint32_t agent, int site, const ccr_skill_level *skills,
                                  size_t n_skills, double now);
/* Takes an agent out for good; CCR_INVALID_TRANSITION while it holds a call. */
CCR_API ccr_status ccr_remove_agent(ccr_router *router, uint32_t agent, double now);
/* Moves a waiting call to another plan, keeping its arrival; CCR_INVALID_TRANSITION unless waiting. */
CCR_API ccr_status ccr_transfer(ccr_router *router, uint32_t call, int plan, double now);
/* A waiting or offered call's value and/or extra priority (NULL keeps it). */
CCR_API ccr_status ccr_reprioritize(ccr_router *router, uint32_t call, const double *value, const double *priority,
                                    double now);
/* Replaces the configuration. The maps give, for each old plan, site and region, its number
 * in the new configuration or CCR_NONE (gone): a live call whose plan or region is gone, or an
 * agent whose site is gone, refuses the change (CCR_CONFIG_ERROR) before anything changes.
 * A plan's and a site's tallies follow the map (a site gone takes its own; sites mapped to
 * one site add theirs up).
 * Then waiting calls re-enter under their new plans, the most urgent first. The new config
 * must keep every skill of the old one (it may add some). */
CCR_API ccr_status ccr_reconfigure(ccr_router *router, const ccr_config *config, const int *plan_map,
                                   const int *site_map, const int *region_map, double now);

/* --- snapshots: the router's whole state as bytes (versioned, checksummed, tagged with the
 *     configuration). ccr_snapshot's bytes stay valid until the next call on the router.
 *     ccr_router_restore builds a router from the same configuration and the bytes: it
 *     continues exactly as the original would, with the same call handles. */
CCR_API ccr_status ccr_snapshot(ccr_router *router, const void **data, size_t *size);
CCR_API ccr_status ccr_router_restore(const ccr_config *config, const void *data, size_t size,
                                      ccr_router **out);

/* The offers caused by the last mutating call. */
CCR_API const ccr_offer *ccr_offers(const ccr_router *router, size_t *n_offers);

/* 1 and *due when a timer is pending, 0 otherwise: call ccr_advance(due) then. */
CCR_API int ccr_next_due(const ccr_router *router, double *due);
CCR_API ccr_status ccr_agent_state_of(const ccr_router *router, uint32_t agent, ccr_agent_state *out);
CCR_API ccr_status ccr_call_state_of(const ccr_router *router, uint32_t call, ccr_call_state *out);
/* stats of every plan, in plan order: out must hold as many entries as there are plans. */
CCR_API ccr_status ccr_stats(const ccr_router *router, double now, ccr_plan_stats *out, size_t n_plans);
/* stats of every site, in site order: out must hold as many entries as there are sites.
   A read-out, O(agents + sites): the agents are counted by a scan. */
CCR_API ccr_status ccr_stats_by_site(const ccr_router *router, ccr_site_stats *out, size_t n_sites);
/* How long a caller like `call` (its preferred agent ignored) joining at `now` would wait, in
   seconds, into *wait; negative when the router cannot tell yet (README, "Expected wait"). */
CCR_API ccr_status ccr_expected_wait(const ccr_router *router, const ccr_call *call, double now, double *wait);

#ifdef __cplusplus
}
#endif

#endif /* CCROUTE_H */
