/* The C API as a switch written in C uses it: configure, add agents, route calls, read
 * offers and errors. Compiled as C (not C++) so the header is proven to be plain C. */
#include <stdio.h>
#include <string.h>

#include "ccroute.h"
#include "check.h"

enum { SHANGHAI, NANNING, N_SITES };
enum { GUANGDONG, N_REGIONS };
enum { VIP, YUE, CARD, N_SKILLS };

/* A VIP plan: Cantonese speakers at the home site first, any VIP agent after 15 s. */
static ccr_router *bank(double offer_timeout) {
    ccr_config *config = NULL;
    CHECK(ccr_config_new(N_SITES, N_REGIONS, N_SKILLS, 3, &config) == CCR_OK);
    CHECK(ccr_config_set_distance(config, GUANGDONG, NANNING, 0) == CCR_OK);
    CHECK(ccr_config_set_distance(config, GUANGDONG, SHANGHAI, 1) == CCR_OK);
    CHECK(ccr_config_set_distance(config, 7, SHANGHAI, 1) == CCR_UNKNOWN_ID);
    CHECK(ccr_config_set_offer_timeout(config, offer_timeout) == CCR_OK);

    ccr_skill_level vip5 = {VIP, 5}, vip1 = {VIP, 1};
    ccr_step steps[2];
    memset(steps, 0, sizeof steps);
    steps[0].after = 0; steps[0].require = &vip5; steps[0].n_require = 1;
    steps[0].language_level = 5; steps[0].max_distance = 0; steps[0].weights = ccr_default_weights();
    steps[1].after = 15; steps[1].require = &vip1; steps[1].n_require = 1;
    steps[1].language_level = 0; steps[1].max_distance = CCR_NONE; steps[1].weights = ccr_default_weights();
    ccr_plan plan = ccr_default_plan();
    plan.base_priority = 100;
    plan.wrapup = 5;
    int vip_plan = -1;
    CHECK(ccr_config_add_plan(config, "vip", &plan, steps, 2, &vip_plan) == CCR_OK);
    CHECK(vip_plan == 0);

    ccr_router *router = NULL;
    CHECK(ccr_router_new(config, &router) == CCR_OK);
    ccr_config_free(config);
    return router;
}

static void routes_a_cantonese_vip_caller(void) {
    ccr_router *r = bank(0);
    ccr_skill_level local[] = {{VIP, 6}, {YUE, 9}}, remote[] = {{VIP, 9}};
    uint32_t a_nanning, a_shanghai;
    CHECK(ccr_add_agent(r, NANNING, local, 2, -1, &a_nanning) == CCR_OK);
    CHECK(ccr_add_agent(r, SHANGHAI, remote, 1, -1, &a_shanghai) == CCR_OK);
    CHECK(ccr_ready(r, a_shanghai, 0) == CCR_OK);
    CHECK(ccr_ready(r, a_nanning, 0) == CCR_OK);

    ccr_call call = ccr_default_call();
    call.region = GUANGDONG;
    call.language = YUE;
    uint32_t c;
    CHECK(ccr_arrive(r, &call, 1.0, &c) == CCR_OK);
    size_t n = 0;
    const ccr_offer *offers = ccr_offers(r, &n);
    CHECK(n == 1);
    CHECK(n == 1 && offers[0].call == c && offers[0].agent == a_nanning && offers[0].time == 1.0);

    ccr_call_state cs;
    ccr_agent_state as;
    CHECK(ccr_call_state_of(r, c, &cs) == CCR_OK && cs == CCR_CALL_OFFERED);
    CHECK(ccr_accept(r, c, a_nanning, 3.0) == CCR_OK);
    CHECK(ccr_agent_state_of(r, a_nanning, &as) == CCR_OK && as == CCR_AGENT_BUSY);
    CHECK(ccr_hangup(r, c, 100.0) == CCR_OK);
    CHECK(ccr_agent_state_of(r, a_nanning, &as) == CCR_OK && as == CCR_AGENT_WRAPUP);

    double due = 0;
    CHECK(ccr_next_due(r, &due) == 1 && due == 105.0);
    CHECK(ccr_advance(r, due) == CCR_OK);
    CHECK(ccr_agent_state_of(r, a_nanning, &as) == CCR_OK && as == CCR_AGENT_READY);
    CHECK(ccr_next_due(r, &due) == 0);

    ccr_plan_stats stats[1];
    CHECK(ccr_stats(r, 105.0, stats, 1) == CCR_OK);
    CHECK(stats[0].arrived == 1 && stats[0].answered == 1 && stats[0].answered_within == 1);
    CHECK(stats[0].waiting == 0 && stats[0].oldest_wait < 0);
    CHECK(stats[0].handle_time == 97.0 + 5.0 && stats[0].answer_time == 2.0);  /* talk + wrap-up; ring */

    /* A caller like the first: an admitted agent is ready, so it waits only for the ring. */
    double wait = -1;
    CHECK(ccr_expected_wait(r, &call, 105.0, &wait) == CCR_OK && wait == 2.0);
    CHECK(ccr_not_ready(r, a_nanning, 106.0, "break") == CCR_OK);
    CHECK(ccr_not_ready(r, a_shanghai, 106.0, "break") == CCR_OK);
    CHECK(ccr_expected_wait(r, &call, 106.0, &wait) == CCR_OK && wait < 0);  /* nobody staffed */
    call.plan = 7;
    CHECK(ccr_expected_wait(r, &call, 106.0, &wait) == CCR_UNKNOWN_ID);
    ccr_router_free(r);
}

static void escalation_offers_at_the_step_time(void) {
    ccr_router *r = bank(0);
    ccr_skill_level remote[] = {{VIP, 9}};
    uint32_t a, c;
    CHECK(ccr_add_agent(r, SHANGHAI, remote, 1, -1, &a) == CCR_OK);
    CHECK(ccr_ready(r, a, 0) == CCR_OK);
    ccr_call call = ccr_default_call();
    call.region = GUANGDONG;
    call.language = YUE;
    CHECK(ccr_arrive(r, &call, 10.0, &c) == CCR_OK);
    size_t n = 99;
    ccr_offers(r, &n);
    CHECK(n == 0);
    CHECK(ccr_advance(r, 40.0) == CCR_OK);
    const ccr_offer *offers = ccr_offers(r, &n);
    CHECK(n == 1 && offers[0].agent == a && offers[0].time == 25.0);
    ccr_router_free(r);
}

static void errors_name_the_value_and_change_nothing(void) {
    ccr_router *r = bank(10);
    ccr_skill_level bad_level[] = {{VIP, 11}}, good[] = {{VIP, 5}};
    uint32_t a = 12345, c;
    CHECK(ccr_add_agent(r, NANNING, bad_level, 1, -1, &a) == CCR_INVALID_ARGUMENT);
    CHECK(a == 12345);
    CHECK(strstr(ccr_last_error(r), "11") != NULL);
    CHECK(ccr_add_agent(r, 9, good, 1, -1, &a) == CCR_UNKNOWN_ID);
    CHECK(ccr_add_agent(r, SHANGHAI, good, 1, -1, &a) == CCR_OK && a == 0);
    CHECK(strcmp(ccr_last_error(r), "") == 0);

    CHECK(ccr_ready(r, 7, 0) == CCR_UNKNOWN_ID);
    CHECK(strstr(ccr_last_error(r), "7") != NULL);
    ccr_call call = ccr_default_call();
    call.plan = 3;
    CHECK(ccr_arrive(r, &call, 1.0, &c) == CCR_UNKNOWN_ID);
    call.plan = 0;
    CHECK(ccr_arrive(r, &call, 1.0, &c) == CCR_OK);
    CHECK(ccr_accept(r, c, a, 2.0) == CCR_INVALID_TRANSITION); /* never offered */
    CHECK(ccr_advance(r, 0.5) == CCR_TIME_ORDER);

    ccr_call_state cs;
    CHECK(ccr_call_state_of(r, c, &cs) == CCR_OK && cs == CCR_CALL_WAITING);
    ccr_plan_stats too_few[1];
    CHECK(ccr_stats(r, 2.0, too_few, 0) == CCR_INVALID_ARGUMENT);

    ccr_config *config = NULL;
    CHECK(ccr_config_new(0, 0, 0, 3, &config) == CCR_CONFIG_ERROR && config == NULL);
    CHECK(ccr_config_new(1, 0, 0, 3, &config) == CCR_OK);
    ccr_router *empty = NULL;
    CHECK(ccr_router_new(config, &empty) == CCR_CONFIG_ERROR && empty == NULL); /* no plan */
    ccr_config_free(config);
    ccr_router_free(r);
}

static void offer_timeout_reoffers_and_the_agent_goes_not_ready(void) {
    ccr_router *r = bank(10);
    ccr_skill_level vip[] = {{VIP, 9}};
    uint32_t a1, a2, c;
    CHECK(ccr_add_agent(r, SHANGHAI, vip, 1, -1, &a1) == CCR_OK);
    CHECK(ccr_add_agent(r, SHANGHAI, vip, 1, -1, &a2) == CCR_OK);
    CHECK(ccr_ready(r, a1, 0) == CCR_OK);
    CHECK(ccr_ready(r, a2, 1) == CCR_OK);
    ccr_call call = ccr_default_call();
    CHECK(ccr_arrive(r, &call, 20.0, &c) == CCR_OK);
    size_t n;
    const ccr_offer *offers = ccr_offers(r, &n);
    CHECK(n == 1 && offers[0].agent == a1); /* longest idle */
    CHECK(ccr_advance(r, 30.0) == CCR_OK);   /* ring, no answer */
    offers = ccr_offers(r, &n);
    CHECK(n == 1 && offers[0].agent == a2 && offers[0].time == 30.0);
    ccr_agent_state as;
    CHECK(ccr_agent_state_of(r, a1, &as) == CCR_OK && as == CCR_AGENT_NOT_READY);

    /* a1's phone answers late: refused, naming both agents, and nothing changes */
    CHECK(ccr_accept(r, c, a1, 30.5) == CCR_INVALID_TRANSITION);
    CHECK(strstr(ccr_last_error(r), "agent #0") != NULL && strstr(ccr_last_error(r), "offered to agent #1") != NULL);
    CHECK(ccr_reject(r, c, a1, 30.5) == CCR_INVALID_TRANSITION);
    ccr_call_state cs;
    CHECK(ccr_call_state_of(r, c, &cs) == CCR_OK && cs == CCR_CALL_OFFERED);
    CHECK(ccr_agent_state_of(r, a2, &as) == CCR_OK && as == CCR_AGENT_RESERVED);
    CHECK(ccr_abandon(r, c, 31.0) == CCR_OK);
    CHECK(ccr_agent_state_of(r, a2, &as) == CCR_OK && as == CCR_AGENT_READY);
    CHECK(ccr_call_state_of(r, c, NULL) == CCR_INVALID_ARGUMENT);
    CHECK(ccr_call_state_of(r, c, &cs) == CCR_UNKNOWN_ID); /* it left */
    CHECK(ccr_accept(r, c, a2, 32.0) == CCR_INVALID_TRANSITION); /* answered after the caller hung up */
    CHECK(strstr(ccr_last_error(r), "not in the router") != NULL);
    CHECK(ccr_agent_state_of(r, a2, &as) == CCR_OK && as == CCR_AGENT_READY);
    ccr_router_free(r);
}

/* The same events after a snapshot give the same offers on the original and the restored router. */
static void a_restored_router_continues_identically(void) {
    ccr_router *r = bank(10);
    ccr_skill_level vip[] = {{VIP, 9}}, yue[] = {{VIP, 6}, {YUE, 9}};
    uint32_t a1, a2, c1, c2, c3;
    CHECK(ccr_add_agent(r, SHANGHAI, vip, 1, -1, &a1) == CCR_OK);
    CHECK(ccr_add_agent(r, NANNING, yue, 2, 3.0, &a2) == CCR_OK);
    CHECK(ccr_ready(r, a1, 0) == CCR_OK);
    ccr_call call = ccr_default_call();
    call.region = GUANGDONG;
    call.language = YUE;
    CHECK(ccr_arrive(r, &call, 1.0, &c1) == CCR_OK);  /* waits for a Cantonese speaker at home */
    CHECK(ccr_arrive(r, &call, 2.0, &c2) == CCR_OK);
    CHECK(ccr_abandon(r, c1, 3.0) == CCR_OK);           /* frees a handle: reused next */

    const void *blob;
    size_t size;
    CHECK(ccr_snapshot(r, &blob, &size) == CCR_OK && size > 24);
    ccr_config *config = NULL;
    ccr_router *twin = NULL;
    /* a configuration it was not taken under is refused, naming why */
    CHECK(ccr_config_new(N_SITES, N_REGIONS, N_SKILLS, 2, &config) == CCR_OK);
    ccr_plan plan = ccr_default_plan();
    ccr_step step;
    memset(&step, 0, sizeof step);
    step.max_distance = CCR_NONE;
    step.weights = ccr_default_weights();
    CHECK(ccr_config_add_plan(config, "vip", &plan, &step, 1, NULL) == CCR_OK);
    CHECK(ccr_router_restore(config, blob, size, &twin) == CCR_RESTORE_ERROR && twin == NULL);
    CHECK(strstr(ccr_last_error(NULL), "another configuration") != NULL);
    ccr_config_free(config);

    /* corrupt, truncated and empty bytes are refused, never read */
    char copy[4096];
    CHECK(size <= sizeof copy);
    memcpy(copy, blob, size);
    copy[size / 2] ^= 0x40;
    CHECK(ccr_config_new(N_SITES, N_REGIONS, N_SKILLS, 3, &config) == CCR_OK);
    CHECK(ccr_config_set_distance(config, GUANGDONG, NANNING, 0) == CCR_OK);
    CHECK(ccr_config_set_distance(config, GUANGDONG, SHANGHAI, 1) == CCR_OK);
    CHECK(ccr_config_set_offer_timeout(config, 10) == CCR_OK);
    ccr_skill_level vip5 = {VIP, 5}, vip1 = {VIP, 1};
    ccr_step steps[2];
    memset(steps, 0, sizeof steps);
    steps[0].require = &vip5; steps[0].n_require = 1; steps[0].language_level = 5;
    steps[0].max_distance = 0; steps[0].weights = ccr_default_weights();
    steps[1].after = 15; steps[1].require = &vip1; steps[1].n_require = 1;
    steps[1].max_distance = CCR_NONE; steps[1].weights = ccr_default_weights();
    plan.base_priority = 100;
    plan.wrapup = 5;
    CHECK(ccr_config_add_plan(config, "vip", &plan, steps, 2, NULL) == CCR_OK);
    CHECK(ccr_router_restore(config, copy, size, &twin) == CCR_RESTORE_ERROR);
    CHECK(strstr(ccr_last_error(NULL), "checksum") != NULL);
    CHECK(ccr_router_restore(config, blob, size - 1, &twin) == CCR_RESTORE_ERROR);
    CHECK(ccr_router_restore(config, blob, 0, &twin) == CCR_RESTORE_ERROR);
    CHECK(strstr(ccr_last_error(NULL), "empty") != NULL);

    CHECK(ccr_router_restore(config, blob, size, &twin) == CCR_OK && twin != NULL);
    ccr_config_free(config);
    ccr_router *both[2] = {r, twin};
    for (int i = 0; i < 2; ++i) {
        size_t n;
        const ccr_offer *offers;
        CHECK(ccr_arrive(both[i], &call, 4.0, &c3) == CCR_OK && c3 == c1); /* the freed handle */
        CHECK(ccr_ready(both[i], a2, 5.0) == CCR_OK);
        offers = ccr_offers(both[i], &n);
        CHECK(n == 1 && offers[0].call == c2 && offers[0].agent == a2 && offers[0].time == 5.0);
        CHECK(ccr_accept(both[i], c2, a2, 6.0) == CCR_OK);
        CHECK(ccr_advance(both[i], 20.0) == CCR_OK); /* c3 escalates at 19 to any VIP agent: a1 */
        offers = ccr_offers(both[i], &n);
        CHECK(n == 1 && offers[0].call == c3 && offers[0].agent == a1 && offers[0].time == 19.0);
        ccr_plan_stats stats[1];
        CHECK(ccr_stats(both[i], 20.0, stats, 1) == CCR_OK);
        CHECK(stats[0].arrived == 3 && stats[0].abandoned == 1 && stats[0].waiting == 0);
    }
    ccr_site_stats sites[2][N_SITES];
    for (int i = 0; i < 2; ++i) CHECK(ccr_stats_by_site(both[i], sites[i], N_SITES) == CCR_OK);
    CHECK(memcmp(sites[0], sites[1], sizeof sites[0]) == 0); /* the tallies came with the snapshot */
    CHECK(sites[1][NANNING].answered == 1 && sites[1][SHANGHAI].answered == 0 && sites[1][SHANGHAI].reserved == 1);
    ccr_router_free(twin);
    ccr_router_free(r);
}

/* A config of n_sites sites, one region at distance 0 from all, one plan that any VIP agent takes. */
static ccr_config *any_vip_agent(int n_sites) {
    ccr_config *config = NULL;
    CHECK(ccr_config_new(n_sites, N_REGIONS, N_SKILLS, 0, &config) == CCR_OK);
    ccr_skill_level vip1 = {VIP, 1};
    ccr_step step;
    memset(&step, 0, sizeof step);
    step.require = &vip1;
    step.n_require = 1;
    step.max_distance = CCR_NONE;
    step.weights = ccr_default_weights();
    ccr_plan plan = ccr_default_plan();
    plan.wrapup = 5;
    CHECK(ccr_config_add_plan(config, "vip", &plan, &step, 1, NULL) == CCR_OK);
    return config;
}

/* Live changes through the C API: skills, removal, transfer, priority, a new configuration. */
static void live_changes(void) {
    ccr_router *r = bank(0);
    ccr_skill_level card_only[] = {{CARD, 5}}, vip_yue[] = {{VIP, 6}, {YUE, 9}};
    uint32_t a, b, c1, c2;
    size_t n;
    const ccr_offer *offers;
    CHECK(ccr_add_agent(r, SHANGHAI, card_only, 1, -1, &a) == CCR_OK);
    CHECK(ccr_add_agent(r, SHANGHAI, card_only, 1, -1, &b) == CCR_OK);
    CHECK(ccr_ready(r, a, 0) == CCR_OK);
    ccr_call call = ccr_default_call();
    call.region = GUANGDONG;
    call.language = YUE;
    CHECK(ccr_arrive(r, &call, 1.0, &c1) == CCR_OK);
    CHECK(ccr_arrive(r, &call, 2.0, &c2) == CCR_OK);
    /* a learns VIP and Cantonese and moves to Nanning: it takes the older call at once */
    CHECK(ccr_set_skills(r, a, NANNING, vip_yue, 2, 3.0) == CCR_OK);
    offers = ccr_offers(r, &n);
    CHECK(n == 1 && offers[0].call == c1 && offers[0].agent == a);
    /* a holds a call: it cannot be removed; b can */
    CHECK(ccr_remove_agent(r, a, 4.0) == CCR_INVALID_TRANSITION);
    CHECK(ccr_remove_agent(r, b, 4.0) == CCR_OK);
    ccr_agent_state as;
    CHECK(ccr_agent_state_of(r, b, &as) == CCR_OK && as == CCR_AGENT_REMOVED);
    CHECK(ccr_ready(r, b, 5.0) == CCR_UNKNOWN_ID);
    /* c2's value, then a transfer to an unknown plan (refused) */
    double value = 2.5;
    CHECK(ccr_reprioritize(r, c2, &value, NULL, 5.0) == CCR_OK);
    CHECK(ccr_transfer(r, c2, 7, 5.0) == CCR_UNKNOWN_ID);
    /* a new configuration with one plan that any VIP agent takes, and no region */
    ccr_config *config = any_vip_agent(N_SITES);
    int plan_map[] = {0}, site_map[] = {SHANGHAI, NANNING}, region_map[] = {CCR_NONE};
    CHECK(ccr_reconfigure(r, config, plan_map, site_map, region_map, 6.0) == CCR_CONFIG_ERROR); /* guangdong is gone */
    CHECK(strstr(ccr_last_error(r), "region #0 of call") != NULL);
    ccr_config_free(config);
    CHECK(ccr_accept(r, c1, a, 6.0) == CCR_OK);
    CHECK(ccr_hangup(r, c1, 7.0) == CCR_OK); /* a is in wrap-up until 12 */
    CHECK(ccr_advance(r, 12.0) == CCR_OK);   /* then, a Cantonese VIP agent at Nanning, takes c2 */
    offers = ccr_offers(r, &n);
    CHECK(n == 1 && offers[0].call == c2 && offers[0].agent == a && offers[0].time == 12.0);
    ccr_router_free(r);
}

static void stats_by_site_follow_the_agents_and_the_site_map(void) {
    ccr_router *r = bank(0);
    ccr_skill_level vip_yue[] = {{VIP, 6}, {YUE, 9}};
    uint32_t x, y, c;
    CHECK(ccr_add_agent(r, SHANGHAI, vip_yue, 2, -1, &x) == CCR_OK);
    CHECK(ccr_add_agent(r, NANNING, vip_yue, 2, -1, &y) == CCR_OK);
    CHECK(ccr_ready(r, x, 0) == CCR_OK);
    CHECK(ccr_ready(r, y, 0) == CCR_OK);
    ccr_call call = ccr_default_call();
    call.region = GUANGDONG;
    call.language = YUE;
    CHECK(ccr_arrive(r, &call, 1.0, &c) == CCR_OK); /* to y, at the caller's home site */
    CHECK(ccr_accept(r, c, y, 3.0) == CCR_OK);
    ccr_site_stats s[N_SITES];
    CHECK(ccr_stats_by_site(r, s, N_SITES) == CCR_OK);
    CHECK(s[NANNING].busy == 1 && s[NANNING].ready == 0 && s[NANNING].answered == 1);
    CHECK(s[NANNING].answered_within == 1 && s[NANNING].wait_sum == 2.0 && s[NANNING].handled == 0);
    CHECK(s[SHANGHAI].ready == 1 && s[SHANGHAI].busy == 0 && s[SHANGHAI].answered == 0);
    /* y moves to Shanghai during the call: the hang-up counts there, the answer stays in Nanning */
    CHECK(ccr_set_skills(r, y, SHANGHAI, NULL, 0, 4.0) == CCR_OK);
    CHECK(ccr_hangup(r, c, 10.0) == CCR_OK);
    CHECK(ccr_not_ready(r, x, 10.0, "lunch") == CCR_OK);
    CHECK(ccr_stats_by_site(r, s, N_SITES) == CCR_OK);
    CHECK(s[SHANGHAI].handled == 1 && s[SHANGHAI].handle_sum == 7.0 + 5.0 && s[SHANGHAI].answered == 0);
    CHECK(s[SHANGHAI].wrapup == 1 && s[SHANGHAI].not_ready == 1 && s[SHANGHAI].offline == 0);
    CHECK(s[NANNING].answered == 1 && s[NANNING].handled == 0 && s[NANNING].wrapup == 0);
    CHECK(ccr_stats_by_site(r, s, N_SITES - 1) == CCR_INVALID_ARGUMENT);
    CHECK(strstr(ccr_last_error(r), "room for 1 sites") != NULL);
    CHECK(ccr_stats_by_site(r, NULL, N_SITES) == CCR_INVALID_ARGUMENT);

    /* The sites renumbered, a third added: the tallies follow the map, the new site starts at 0 */
    ccr_config *config = any_vip_agent(3);
    int plan_map[] = {0}, site_map[] = {1, 0}, region_map[] = {GUANGDONG};
    CHECK(ccr_reconfigure(r, config, plan_map, site_map, region_map, 11.0) == CCR_OK);
    ccr_config_free(config);
    ccr_site_stats three[3];
    CHECK(ccr_stats_by_site(r, three, 3) == CCR_OK);
    CHECK(three[0].answered == 1 && three[0].handled == 0 && three[1].handled == 1 && three[1].answered == 0);
    CHECK(three[2].answered == 0 && three[2].handled == 0 && three[2].ready + three[2].not_ready == 0);
    /* Two sites merged into one add their tallies up */
    config = any_vip_agent(1);
    int into_one[] = {0, 0, 0};
    CHECK(ccr_reconfigure(r, config, plan_map, into_one, region_map, 12.0) == CCR_OK);
    ccr_config_free(config);
    CHECK(ccr_stats_by_site(r, s, 1) == CCR_OK);
    CHECK(s[0].answered == 1 && s[0].handled == 1 && s[0].handle_sum == 12.0 && s[0].not_ready == 1);
    CHECK(s[0].wrapup == 1); /* y, until 15 */
    ccr_router_free(r);
}

int main(void) {
    CHECK(strlen(ccr_version()) > 0);
    routes_a_cantonese_vip_caller();
    escalation_offers_at_the_step_time();
    errors_name_the_value_and_change_nothing();
    offer_timeout_reoffers_and_the_agent_goes_not_ready();
    a_restored_router_continues_identically();
    live_changes();
    stats_by_site_follow_the_agents_and_the_site_map();
    printf("ccroute %s\n", ccr_version());
    return check_report("C API");
}
