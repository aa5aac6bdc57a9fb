// The centre the C++ benchmarks route in: the shape of bench/centre.py (5 sites, 34 regions,
// 24 skills, 60 plans of three steps, agents from 20 skill templates), built from a fixed seed.
// Shared by bench_decisions.cpp and bench_memory.cpp.
#pragma once

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "router.hpp"

namespace ccroute::bench {

inline constexpr int kSites = 5, kRegions = 34, kProducts = 20;
inline constexpr SkillRef kCmn = 20, kYue = 21, kEn = 22, kVip = 23;
inline constexpr int kSkills = 24;
inline constexpr double kSpan = 60.0;  // waiting calls arrived evenly over the last minute

inline Config centre_config() {
  Config c;
  c.n_sites = kSites;
  c.n_regions = kRegions;
  c.n_skills = kSkills;
  c.distance.assign(kRegions * kSites, 2);
  for (int r = 0; r < kRegions; ++r) {
    c.distance[r * kSites + r % kSites] = 0;          // home site
    c.distance[r * kSites + (r + 1) % kSites] = 1;    // a neighbour
  }
  for (int p = 0; p < kProducts; ++p)
    for (int kind = 0; kind < 3; ++kind) {  // standard, vip, english
      const bool vip = kind == 1, english = kind == 2;
      PlanConfig plan;
      plan.name = std::to_string(p) + "/" + std::to_string(kind);
      plan.base_priority = vip ? 60 : english ? 10 : 0;
      plan.value_weight = vip ? 40 : 20;
      plan.repeat_weight = 10;
      StepConfig first, second, last;
      const auto product = static_cast<SkillRef>(p);
      first.require.push_back({product, 5});
      second.require.push_back({product, 3});
      last.require.push_back({product, 1});
      if (vip) {
        first.require.push_back({kVip, 5});
        second.require.push_back({kVip, 3});
      }
      first.language_level = 5, first.max_distance = 0;
      second.after = 15, second.language_level = 3, second.max_distance = 1;
      last.after = 40, last.language_level = english ? 1 : 0;
      first.weights = {vip ? 2.0 : 1.0, -1.0, vip ? 0.0 : -0.25, 0.0};
      second.weights = {1.0, -2.0, vip ? 0.0 : -0.25, 0.0};
      plan.steps = {first, second, last};
      c.plans.push_back(plan);
    }
  return c;
}

struct AgentSpec {
  int site;
  std::vector<SkillLevel> skills;
};

// The 20 skill templates agents are staffed from.
inline std::vector<AgentSpec> agent_templates(std::mt19937_64& rng) {
  std::vector<AgentSpec> templates;
  for (int t = 0; t < 20; ++t) {
    AgentSpec a{0, {}};
    std::vector<int> products(kProducts);
    for (int p = 0; p < kProducts; ++p) products[p] = p;
    std::shuffle(products.begin(), products.end(), rng);
    const int breadth = 3 + t % 5;
    for (int i = 0; i < breadth; ++i) a.skills.push_back({static_cast<SkillRef>(products[i]), std::uint8_t(3 + rng() % 6)});
    a.skills.push_back({kCmn, 9});
    if (t % 5 == 1) a.skills.push_back({kYue, 9});
    if (t % 5 == 2) a.skills.push_back({kEn, 8});
    if (t % 4 == 3) a.skills.push_back({kVip, 8});
    templates.push_back(a);
  }
  return templates;
}

// One agent: a template at a site.
inline AgentSpec draw_agent(const std::vector<AgentSpec>& templates, std::mt19937_64& rng) {
  AgentSpec a = templates[rng() % templates.size()];
  a.site = static_cast<int>(rng() % kSites);
  return a;
}

inline std::vector<AgentSpec> agents(int n, std::mt19937_64& rng) {
  const std::vector<AgentSpec> templates = agent_templates(rng);
  std::vector<AgentSpec> result;
  for (int i = 0; i < n; ++i) result.push_back(draw_agent(templates, rng));
  return result;
}

inline CallSpec draw_call(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  CallSpec s;
  const double lang = u(rng);
  const bool vip = u(rng) < 0.1;
  s.language = lang < 0.05 ? kEn : lang < 0.15 ? kYue : kCmn;
  s.plan = static_cast<int>(rng() % kProducts) * 3 + (vip ? 1 : s.language == kEn ? 2 : 0);
  s.region = static_cast<int>(rng() % kRegions);
  s.value = u(rng);
  s.repeats = rng() % 10 == 0;
  return s;
}

inline std::vector<CallSpec> calls(int n, std::mt19937_64& rng) {
  std::vector<CallSpec> result;
  for (int i = 0; i < n; ++i) result.push_back(draw_call(rng));
  return result;
}

struct Centre {
  Router router{centre_config()};
  std::vector<AgentRef> agents;
  double start = 0;  // when the scenario's own calls begin to arrive
  double now = 0;
};

inline void add_agents(Centre& c, int n, std::mt19937_64& rng) {
  for (const AgentSpec& a : agents(n, rng)) c.agents.push_back(c.router.add_agent(a.site, a.skills, std::nullopt));
}

}  // namespace ccroute::bench
