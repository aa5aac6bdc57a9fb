// C++ tests of the B+-tree set (csrc/btree.hpp), run by ctest: random operations against
// std::set, with the tree's structure checked after each, over patterns that split and merge
// nodes at every level (random keys, keys in order, keys taken from the front).
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "btree.hpp"
#include "check.h"
#include "pool.hpp"

using namespace ccroute;

namespace {

// A key of 32 bytes (the router's queue entries are 24), ordered best first like them.
struct Entry {
  double rank, arrival;
  std::uint64_t order;
  std::uint32_t payload;
  bool operator<(const Entry& o) const {
    if (rank != o.rank) return rank > o.rank;
    if (arrival != o.arrival) return arrival < o.arrival;
    return order < o.order;
  }
  bool operator==(const Entry& o) const { return rank == o.rank && arrival == o.arrival && order == o.order; }
};

std::string broken;  // the first rule the tree broke, if any
void note(const char* what) {
  if (broken.empty()) broken = what;
}

template <class Key>
bool same(const BTreeSet<Key>& tree, const std::set<Key>& model) {
  tree.check(note);
  if (!broken.empty()) return false;
  if (tree.size() != model.size() || tree.empty() != model.empty()) return false;
  if (!std::equal(tree.begin(), tree.end(), model.begin(), model.end())) return false;
  // backwards too, from end()
  auto t = tree.end();
  for (auto m = model.rbegin(); m != model.rend(); ++m)
    if (!(*--t == *m)) return false;
  if (t != tree.begin()) return false;
  if (!model.empty() && !(tree.front() == *model.begin() && tree.back() == *model.rbegin())) return false;
  return true;
}

// `steps` random operations on keys drawn by `draw`: insert with probability `grow`, else erase
// (of a present key with probability 3/4, else of any); each result compared with std::set.
template <class Key, class Draw>
void random_operations(NodePool* pool, int steps, double grow, std::uint64_t seed, Draw draw) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  BTreeSet<Key> tree(pool);
  std::set<Key> model;
  std::vector<Key> present;  // keys of the model, unordered, for picking one to erase
  bool agreed = true;
  std::size_t largest = 0;
  for (int step = 0; step < steps && agreed; ++step) {
    if (u(rng) < grow || model.empty()) {
      const Key key = draw(rng, step);
      const auto [it, added] = tree.insert(key);
      const bool model_added = model.insert(key).second;
      agreed &= added == model_added && *it == key;
      agreed &= (it == tree.begin()) == (key == *model.begin());
      if (added) present.push_back(key);
    } else {
      Key key;
      if (u(rng) < 0.75) {
        const std::size_t i = rng() % present.size();
        key = present[i];
        present[i] = present.back();
        present.pop_back();
      } else {
        key = draw(rng, step);
        if (model.count(key))
          for (std::size_t i = 0; i < present.size(); ++i)
            if (present[i] == key) {
              present[i] = present.back();
              present.pop_back();
              break;
            }
      }
      agreed &= tree.erase(key) == model.erase(key);
    }
    largest = std::max(largest, model.size());
    // the whole tree every so often, and always while small (where roots split and collapse)
    if (model.size() < 200 || step % 97 == 0) agreed &= same(tree, model);
    // lookups: a present key, and the lower bound of a random one
    if (!model.empty()) {
      const Key probe = draw(rng, step);
      const auto m = model.lower_bound(probe);
      const auto t = tree.lower_bound(probe);
      agreed &= m == model.end() ? t == tree.end() : t != tree.end() && *t == *m;
      agreed &= tree.count(probe) == model.count(probe);
      agreed &= tree.count(*model.begin()) == 1 && tree.find(*model.rbegin()) != tree.end();
    }
  }
  agreed &= same(tree, model);
  CHECK(agreed);
  CHECK(broken.empty());
  if (!broken.empty()) std::printf("  broken: %s\n", broken.c_str());
  CHECK(largest > static_cast<std::size_t>(BTreeSet<Key>::kLeafCapacity * BTreeSet<Key>::kInnerCapacity));  // 3 levels reached
  // emptied key by key, the tree gives its nodes back
  for (const Key& key : present) tree.erase(key);
  CHECK(tree.empty() && tree.begin() == tree.end() && tree.leaves() == 0 && tree.inners() == 0);
}

Entry random_entry(std::mt19937_64& rng, int) {
  // few ranks, so that arrival and order decide too
  return Entry{static_cast<double>(rng() % 5), static_cast<double>(rng() % 1000), rng() % 4000, 0};
}

void random_keys_agree_with_std_set(NodePool* pool) {
  random_operations<Entry>(pool, 60000, 0.6, 1, random_entry);
  random_operations<Entry>(pool, 40000, 0.5, 2, random_entry);  // grows and shrinks around its size
}

void keys_in_order_agree_with_std_set(NodePool* pool) {
  // the ready agents' pattern: (ready time, agent), times ascending, erased anywhere
  using Ready = std::pair<double, std::uint32_t>;
  random_operations<Ready>(pool, 60000, 0.7, 3, [](std::mt19937_64& rng, int step) {
    return Ready{static_cast<double>(step / 3), static_cast<std::uint32_t>(rng() % 3)};
  });
}

void front_taken_agrees_with_std_set() {
  // a queue served from its head: inserted anywhere, erased from the front
  BTreeSet<Entry> tree;
  std::set<Entry> model;
  std::mt19937_64 rng(4);
  bool agreed = true;
  for (int step = 0; step < 50000 && agreed; ++step) {
    if (step % 3 != 2 || model.empty()) {
      const Entry e = random_entry(rng, step);
      agreed &= tree.insert(e).second == model.insert(e).second;
    } else {
      const Entry head = *model.begin();
      agreed &= tree.front() == head;
      if (step % 2)  // by its key, or as the router takes a queue's best call
        agreed &= tree.erase(head) == 1;
      else
        tree.pop_front();
      model.erase(model.begin());
    }
    if (step % 101 == 0) agreed &= same(tree, model);
  }
  CHECK(agreed && same(tree, model));
}

void keys_moved_at_located_places_agree_with_std_set() {
  // A call reaching its next step (Router::reach_next_phase): both places are found first
  // (locate), then the key leaves one tree and enters the other at them. The trees share a
  // pool, so a node the erase frees may be the one the insert's split takes.
  NodePool pool;
  BTreeSet<Entry> trees[2] = {BTreeSet<Entry>(&pool), BTreeSet<Entry>(&pool)};
  std::set<Entry> models[2];
  std::vector<Entry> present[2];
  std::mt19937_64 rng(6);
  bool agreed = true;
  std::size_t largest = 0;
  for (int step = 0; step < 60000 && agreed; ++step) {
    const int from = static_cast<int>(rng() % 2), to = 1 - from;
    if (present[from].empty() || rng() % 8 == 0) {  // a new key, or one already there (refused at its place)
      const Entry key = rng() % 4 || present[from].empty() ? random_entry(rng, step) : present[from][rng() % present[from].size()];
      BTreeSet<Entry>::Place place;
      trees[from].locate(key, place);
      const bool added = trees[from].insert(key, place).second;
      agreed &= added == models[from].insert(key).second;
      if (added) present[from].push_back(key);
    } else {
      const std::size_t i = rng() % present[from].size();
      const Entry key = present[from][i];
      BTreeSet<Entry>::Place leaving, entering;
      trees[from].locate(key, leaving);
      trees[to].locate(key, entering);  // (an empty tree too: the insert starts it)
      agreed &= trees[from].erase(key, leaving) == 1;
      agreed &= trees[from].erase(key) == 0;  // gone: an erase at its new place finds nothing either
      BTreeSet<Entry>::Place gone;
      trees[from].locate(key, gone);
      agreed &= trees[from].erase(key, gone) == 0;
      const bool added = trees[to].insert(key, entering).second;
      agreed &= added == models[to].insert(key).second;
      models[from].erase(key);
      present[from][i] = present[from].back();
      present[from].pop_back();
      if (added) present[to].push_back(key);
    }
    largest = std::max(largest, models[0].size());
    if (step % 97 == 0 || models[from].size() < 100 || models[to].size() < 100)
      agreed &= same(trees[0], models[0]) && same(trees[1], models[1]);
  }
  CHECK(agreed && same(trees[0], models[0]) && same(trees[1], models[1]));
  CHECK(largest > static_cast<std::size_t>(BTreeSet<Entry>::kLeafCapacity * BTreeSet<Entry>::kInnerCapacity));  // 3 levels reached
  if (!broken.empty()) std::printf("  broken: %s\n", broken.c_str());
}

void moved_tree_keeps_its_keys() {
  NodePool pool;
  BTreeSet<Entry> a(&pool);
  for (int i = 0; i < 1000; ++i) a.insert(Entry{0, static_cast<double>(i), static_cast<std::uint64_t>(i), 0});
  const std::size_t leaves = a.leaves();
  std::vector<BTreeSet<Entry>> trees;
  trees.push_back(std::move(a));
  trees.emplace_back(&pool);  // the vector grows: the first tree moves again
  CHECK(a.empty() && a.begin() == a.end() && a.leaves() == 0);
  CHECK(trees[0].size() == 1000 && trees[0].leaves() == leaves && trees[0].front().order == 0 && trees[0].back().order == 999);
  CHECK(trees[0].erase(Entry{0, 500, 500, 0}) == 1 && trees[0].count(Entry{0, 500, 500, 0}) == 0);
  a = std::move(trees[0]);
  CHECK(a.size() == 999 && trees[0].empty());
}

void in_order_keys_fill_their_leaves() {
  // keys appended in order leave every leaf but the last full: memory near one key's size each
  BTreeSet<Entry> tree;
  const int n = 100000;
  for (int i = 0; i < n; ++i) tree.insert(Entry{0, static_cast<double>(i), static_cast<std::uint64_t>(i), 0});
  CHECK(tree.leaves() == static_cast<std::size_t>((n + BTreeSet<Entry>::kLeafCapacity - 1) / BTreeSet<Entry>::kLeafCapacity));
}

void random_keys_fill_their_leaves() {
  // keys arriving anywhere: a full leaf gives keys to a sibling with room before it splits,
  // so leaves end up fuller than the two thirds of splitting alone
  BTreeSet<Entry> tree;
  std::mt19937_64 rng(5);
  const int n = 100000;
  for (int i = 0; i < n; ++i) tree.insert(Entry{static_cast<double>(rng() % 1000), 0, static_cast<std::uint64_t>(i), 0});
  const double fill = static_cast<double>(n) / static_cast<double>(tree.leaves() * BTreeSet<Entry>::kLeafCapacity);
  std::printf("  leaves %.0f%% full after random inserts\n", 100 * fill);
  CHECK(tree.size() == static_cast<std::size_t>(n) && fill > 0.75);
  tree.check(note);
  CHECK(broken.empty());
}

}  // namespace

int main() {
  NodePool pool;
  random_keys_agree_with_std_set(&pool);
  random_keys_agree_with_std_set(nullptr);
  keys_in_order_agree_with_std_set(&pool);
  front_taken_agrees_with_std_set();
  keys_moved_at_located_places_agree_with_std_set();
  moved_tree_keeps_its_keys();
  in_order_keys_fill_their_leaves();
  random_keys_fill_their_leaves();
  return check_report("btree");
}
