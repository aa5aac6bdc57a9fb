// Router::memory_use: the router's heap by part, counted from its containers.
//
// The counts are exact (capacities, node counts); what each allocation costs the allocator is
// modelled, for libstdc++ on glibc, x86-64/aarch64 (the build the README measures):
//  * malloc: a block of n bytes takes n + 8 (its size field) rounded up to 16, at least 32;
//  * std::map node: 32 bytes (colour and three links) before the value;
//  * the B+-trees of waiting calls and ready agents (csrc/btree.hpp): their leaf and inner
//    nodes, taken from the router's NodePool (csrc/pool.hpp): no malloc header, rounded to
//    8 bytes; what the pool holds beyond them counts as other;
//  * std::string: on the heap only past its in-place capacity (15 characters on libstdc++).
// The allocator's free lists, fragmentation and page rounding are not counted: peak and
// resident memory (bench/cpp/bench_memory.cpp) are the truth this is compared with.
//
// Whoever changes the router's containers changes the part here that counts them.
#include <algorithm>

#include "btree.hpp"
#include "pool.hpp"
#include "router.hpp"

namespace ccroute {
namespace {

constexpr std::size_t kTreeNodeHeader = 32;  // libstdc++ _Rb_tree_node_base

// What malloc takes for a request of n bytes (glibc, 64-bit).
std::size_t heap_block(std::size_t n) {
  if (n == 0) return 0;
  return std::max<std::size_t>(32, (n + sizeof(std::size_t) + 15) & ~std::size_t{15});
}

template <class T>
std::size_t vector_bytes(const std::vector<T>& v) {
  return heap_block(v.capacity() * sizeof(T));
}

std::size_t string_bytes(const std::string& s) {
  static const std::size_t in_place = std::string().capacity();
  return s.capacity() > in_place ? heap_block(s.capacity() + 1) : 0;
}

// An ordered map: one node per element (the elements' own heap is the caller's).
template <class Tree>
std::size_t tree_bytes(const Tree& tree) {
  return tree.size() * heap_block(kTreeNodeHeader + sizeof(typename Tree::value_type));
}

// A B+-tree's nodes, from the NodePool (from malloc in a build without it).
template <class Tree>
std::size_t btree_bytes(const Tree& tree) {
  auto block = [](std::size_t n) {
    return CCROUTE_NODE_POOL ? (n + NodePool::kGrain - 1) / NodePool::kGrain * NodePool::kGrain : heap_block(n);
  };
  return tree.leaves() * block(Tree::kLeafBytes) + tree.inners() * block(Tree::kInnerBytes);
}

std::size_t config_bytes(const Config& config) {
  std::size_t bytes = vector_bytes(config.distance) + vector_bytes(config.plans) + vector_bytes(config.skill_names);
  for (const std::string& name : config.skill_names) bytes += string_bytes(name);
  for (const PlanConfig& plan : config.plans) {
    bytes += string_bytes(plan.name) + vector_bytes(plan.steps);
    for (const StepConfig& step : plan.steps) bytes += vector_bytes(step.require);
  }
  return bytes;
}

}  // namespace

MemoryUse Router::memory_use() const {
  MemoryUse use;
  use.calls = vector_bytes(calls_) + vector_bytes(free_calls_);  // a Call holds no heap of its own

  use.queues = vector_bytes(queues_) + vector_bytes(heads_) + vector_bytes(queue_slots_) +
               vector_bytes(step_queues_);
  std::size_t pooled = 0;  // bytes of the pool's nodes in use
  for (const Queue& queue : queues_) {
    const std::size_t entries = btree_bytes(queue.calls);
    use.queues += vector_bytes(queue.profiles) + entries;
    pooled += entries;
  }

  use.agents = vector_bytes(agents_);
  for (const Agent& agent : agents_)
    use.agents += string_bytes(agent.key) + string_bytes(agent.reason) + vector_bytes(agent.preferred_queues);

  use.profiles = vector_bytes(profiles_) + tree_bytes(profile_index_);
  for (const Profile& profile : profiles_) {
    const std::size_t ready = btree_bytes(profile.ready);
    use.profiles += vector_bytes(profile.levels) + vector_bytes(profile.queues) + ready;
    pooled += ready;
  }
  for (const auto& [key, profile] : profile_index_) use.profiles += vector_bytes(key.second);  // a copy of the levels

  use.timers = timers_.memory_bytes(heap_block);

  use.other = sizeof(Router) + config_bytes(config_) + vector_bytes(tallies_) + vector_bytes(site_tallies_) +
              vector_bytes(skill_names_) + vector_bytes(plans_) + vector_bytes(steps_) + vector_bytes(tiers_) +
              vector_bytes(tier_start_) +
              string_bytes(config_tag_) + string_bytes(config_document_) + string_bytes(record_) +
              vector_bytes(decisions_);
  for (const std::string& name : skill_names_) use.other += string_bytes(name);
  if (CCROUTE_NODE_POOL) use.other += pool_->memory_bytes() - std::min(pooled, pool_->memory_bytes());  // nodes free
  if (journal_) use.other += heap_block(sizeof(Journal)) + string_bytes(journal_->path());  // its file map is page cache
  return use;
}

}  // namespace ccroute
