// Per-site read-outs for multi-site wallboards. Off the decision path: the tallies are
// counted where calls are answered and end (Router::accept, Router::hangup); this file
// only reads them, with the agents' states.
#include "router.hpp"

namespace ccroute {

std::vector<SiteStats> Router::site_stats() const {
  std::vector<SiteStats> result(site_tallies_.size());
  for (std::size_t s = 0; s < result.size(); ++s) result[s].tally = site_tallies_[s];
  // A scan rather than counts kept at every state change: those would add a store to each
  // offer, ready and wrap-up end, for a read-out a wallboard makes once a second or so.
  for (const Agent& agent : agents_)
    if (agent.state != AgentState::Removed)
      result[profiles_[agent.profile].site].agents[static_cast<int>(agent.state)] += 1;
  return result;
}

}  // namespace ccroute
