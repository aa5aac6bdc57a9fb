// An ordered set of unique keys in a B+-tree: the router's waiting calls per queue and ready
// agents per profile.
//
// Why not std::set: a red-black tree of n keys is log2(n) nodes deep, each node a cache line
// of its own somewhere in memory. With 100,000 calls waiting, inserting and erasing one (a
// step escalation) missed the cache about 30 times. Here a node holds up to a few dozen keys
// side by side in 512 bytes, the tree is 2-4 nodes deep, and its leaves are chained for
// iteration in order. Keys move within a node on insert and erase, so nothing points into the
// tree: an element is erased by its key (the router can rebuild the key of a call or agent).
//
// Nodes come from a NodePool (pool.hpp) when given one, from operator new otherwise.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <new>
#include <optional>
#include <utility>

#include "pool.hpp"

namespace ccroute {

template <class Key, class Less = std::less<Key>, std::size_t NodeBytes = 512>
class BTreeSet {
  struct Node {
    std::uint16_t count = 0;  // keys held
    bool leaf;
  };
  static constexpr std::size_t kNodeBytes = NodeBytes;
  static constexpr std::size_t kLeafHeader = 24;  // Node, prev, next
  static constexpr std::size_t kInnerHeader = 8;  // Node

 public:
  static constexpr int kLeafCapacity = static_cast<int>((kNodeBytes - kLeafHeader) / sizeof(Key));
  static constexpr int kInnerCapacity = static_cast<int>((kNodeBytes - kInnerHeader - sizeof(void*)) / (sizeof(Key) + sizeof(void*)));

 private:
  // Below these a node takes keys from a sibling, or merges with it. A third (not half) leaves a
  // node just split or merged some room either way, so that a key going and coming back does
  // not split and merge the same node each time.
  static constexpr int kLeafMinimum = kLeafCapacity / 3;
  static constexpr int kInnerMinimum = kInnerCapacity / 3;
  static_assert(kLeafMinimum >= 1 && kInnerMinimum >= 1, "keys too big for a node");
  static constexpr int kMaxHeight = 32;  // inner levels; a minimum fan-out of 2 keeps 2^32 keys below it

  struct Leaf : Node {
    Leaf* prev;
    Leaf* next;
    Key keys[kLeafCapacity];
  };
  struct Inner : Node {
    Key keys[kInnerCapacity];             // all keys under child[i] < keys[i] <= all keys under child[i + 1]
    Node* child[kInnerCapacity + 1];
  };
  static_assert(sizeof(Leaf) <= kNodeBytes && sizeof(Inner) <= kNodeBytes, "a node fits its bytes");

 public:
  using key_type = Key;
  using value_type = Key;
  using size_type = std::size_t;
  static constexpr std::size_t kLeafBytes = sizeof(Leaf);
  static constexpr std::size_t kInnerBytes = sizeof(Inner);

  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = Key;
    using difference_type = std::ptrdiff_t;
    using pointer = const Key*;
    using reference = const Key&;

    const_iterator() = default;
    reference operator*() const { return leaf_->keys[index_]; }
    pointer operator->() const { return &leaf_->keys[index_]; }
    const_iterator& operator++() {
      if (++index_ == leaf_->count) {
        leaf_ = leaf_->next;
        index_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator was = *this;
      ++*this;
      return was;
    }
    const_iterator& operator--() {  // end() steps back to the last key
      if (index_ > 0) {
        --index_;
      } else {
        leaf_ = leaf_ ? leaf_->prev : tree_->last_;
        index_ = leaf_->count - 1;
      }
      return *this;
    }
    const_iterator operator--(int) {
      const_iterator was = *this;
      --*this;
      return was;
    }
    bool operator==(const const_iterator& o) const { return leaf_ == o.leaf_ && index_ == o.index_; }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }

   private:
    friend class BTreeSet;
    const_iterator(const BTreeSet* tree, const Leaf* leaf, int index) : tree_(tree), leaf_(leaf), index_(index) {}
    const BTreeSet* tree_ = nullptr;
    const Leaf* leaf_ = nullptr;  // nullptr: end
    int index_ = 0;
  };
  using iterator = const_iterator;

  explicit BTreeSet(NodePool* pool = nullptr) : pool_(pool) {}
  BTreeSet(const BTreeSet&) = delete;
  BTreeSet& operator=(const BTreeSet&) = delete;
  BTreeSet(BTreeSet&& o) noexcept { take(o); }
  BTreeSet& operator=(BTreeSet&& o) noexcept {
    if (this != &o) {
      clear();
      take(o);
    }
    return *this;
  }
  ~BTreeSet() { clear(); }

  bool empty() const { return size_ == 0; }
  size_type size() const { return size_; }
  // Nodes held, for Router::memory_use.
  size_type leaves() const { return leaves_; }
  size_type inners() const { return inners_; }

  const_iterator begin() const { return {this, first_, 0}; }
  const_iterator end() const { return {this, nullptr, 0}; }
  const Key& front() const { return first_->keys[0]; }
  const Key& back() const { return last_->keys[last_->count - 1]; }

  const_iterator lower_bound(const Key& key) const {
    if (!root_) return end();
    const Leaf* leaf = leaf_for(key, nullptr, nullptr);
    const int i = leaf_position(leaf, key);
    return i < leaf->count ? const_iterator(this, leaf, i) : const_iterator(this, leaf->next, 0);
  }
  const_iterator find(const Key& key) const {
    const_iterator it = lower_bound(key);
    return it != end() && !less_(key, *it) ? it : end();
  }
  size_type count(const Key& key) const { return find(key) != end(); }

  // Where a key is or would go: its leaf, and the inner nodes on the way with the child taken
  // in each. Finding it asks for the leaf's cache lines without waiting for them (see
  // prefetch), so that a caller changing two trees (a call moving from one queue to another)
  // finds both places first and the two leaves, out of cache in a large tree, arrive together.
  // Valid until this tree changes.
  class Place {
    friend class BTreeSet;
    Leaf* leaf;
    Inner* path[kMaxHeight];
    int branch[kMaxHeight];
  };
  void locate(const Key& key, Place& place) const {  // (filled in place: it is a few hundred bytes)
    place.leaf = root_ ? leaf_for(key, place.path, place.branch) : nullptr;
  }

  // As std::set::insert: where the key is, and whether it was added (false: it was there).
  std::pair<const_iterator, bool> insert(const Key& key) {
    Place place;
    locate(key, place);
    return insert(key, place);
  }
  // The same, at the place locate(key) gave.
  [[gnu::always_inline]] std::pair<const_iterator, bool> insert(const Key& key, const Place& place) {
    if (!root_) {
      Leaf* leaf = new_leaf();
      leaf->keys[0] = key;
      leaf->count = 1;
      root_ = first_ = last_ = leaf;
      size_ = 1;
      return {{this, leaf, 0}, true};
    }
    Inner* const* path = place.path;
    const int* branch = place.branch;
    Leaf* leaf = place.leaf;
    const int i = leaf_position(leaf, key);
    if (i < leaf->count && !less_(key, leaf->keys[i])) return {{this, leaf, i}, false};
    ++size_;
    if (leaf->count < kLeafCapacity) return {{this, leaf, put(leaf, i, key)}, true};
    if (height_ > 0 && !(leaf == last_ && i == kLeafCapacity)) {
      // Keys arriving anywhere: a sibling with room takes some before this leaf splits, so that
      // leaves stay ~88 % full rather than ~55 % (test_btree: memory per key).
      if (std::optional<std::pair<Leaf*, int>> at = shift_to_sibling(leaf, i, key, path[height_ - 1], branch[height_ - 1]))
        return {{this, at->first, at->second}, true};
    }
    // Split the full leaf. A key past the end of the last leaf (keys mostly arriving in order)
    // starts a new leaf and leaves this one full; otherwise each half takes half the keys.
    const int stay = leaf == last_ && i == kLeafCapacity ? kLeafCapacity : (kLeafCapacity + 1) / 2;
    Leaf* right = new_leaf();
    const int from = i < stay ? stay - 1 : stay;  // old keys [from, capacity) move right
    std::copy(leaf->keys + from, leaf->keys + kLeafCapacity, right->keys);
    right->count = static_cast<std::uint16_t>(kLeafCapacity - from);
    leaf->count = static_cast<std::uint16_t>(from);
    Leaf* home = i < stay ? leaf : right;
    const int at = put(home, i < stay ? i : i - stay, key);
    right->prev = leaf;
    right->next = leaf->next;
    (leaf->next ? leaf->next->prev : last_) = right;
    leaf->next = right;
    add_child(path, branch, right->keys[0], right);
    return {{this, home, at}, true};
  }

  // As std::set::erase(key): 1 if the key was there, 0 if not.
  size_type erase(const Key& key) {
    Place place;
    locate(key, place);
    return erase(key, place);
  }
  // The same, at the place locate(key) gave.
  [[gnu::always_inline]] size_type erase(const Key& key, const Place& place) {
    if (!root_) return 0;
    Leaf* leaf = place.leaf;
    const int i = leaf_position(leaf, key);
    if (i == leaf->count || less_(key, leaf->keys[i])) return 0;
    std::copy(leaf->keys + i + 1, leaf->keys + leaf->count, leaf->keys + i);
    --leaf->count;
    --size_;
    rebalance(leaf, place.path, place.branch);
    return 1;
  }

  // Erases the first key (the best call of a queue, taken by an agent); the tree is not empty.
  void pop_front() {
    Leaf* leaf = first_;
    std::copy(leaf->keys + 1, leaf->keys + leaf->count, leaf->keys);
    --leaf->count;
    --size_;
    // (a separator left equal to the erased key still divides the keys correctly)
    if (leaf->count >= kLeafMinimum && height_ > 0) return;
    Inner* path[kMaxHeight];
    int branch[kMaxHeight];
    Node* node = root_;
    for (int level = 0; level < height_; ++level) {  // the first leaf's path: child 0 all the way
      path[level] = static_cast<Inner*>(node);
      branch[level] = 0;
      node = path[level]->child[0];
    }
    rebalance(leaf, path, branch);
  }

  void clear() {
    if (root_) free_subtree(root_);
    root_ = nullptr;
    first_ = last_ = nullptr;
    size_ = leaves_ = inners_ = 0;
    height_ = 0;
  }

  // Debug aid for tests: throws std::logic_error naming the first broken rule of the tree.
  template <class Fail>
  void check(Fail&& fail) const {
    size_type seen = 0;
    if (!root_) {
      if (size_ || first_ || last_ || leaves_ || inners_) fail("an empty tree holds nothing");
      return;
    }
    const Leaf* expected_prev = nullptr;
    const Leaf* next_leaf = first_;
    check_node(root_, 0, nullptr, nullptr, seen, expected_prev, next_leaf, fail);
    if (seen != size_) fail("size counts the keys");
    if (next_leaf != nullptr || last_ != expected_prev) fail("the leaves are chained in order");
  }

 private:
  void take(BTreeSet& o) {
    pool_ = o.pool_;
    root_ = std::exchange(o.root_, nullptr);
    first_ = std::exchange(o.first_, nullptr);
    last_ = std::exchange(o.last_, nullptr);
    size_ = std::exchange(o.size_, 0);
    leaves_ = std::exchange(o.leaves_, 0);
    inners_ = std::exchange(o.inners_, 0);
    height_ = std::exchange(o.height_, 0);
  }

  void* allocate(std::size_t bytes) { return pool_ ? pool_->allocate(bytes) : ::operator new(bytes); }
  void deallocate(void* node, std::size_t bytes) { pool_ ? pool_->deallocate(node, bytes) : ::operator delete(node); }
  Leaf* new_leaf() {
    ++leaves_;
    Leaf* leaf = new (allocate(sizeof(Leaf))) Leaf;
    leaf->leaf = true;
    leaf->prev = leaf->next = nullptr;
    return leaf;
  }
  Inner* new_inner() {
    ++inners_;
    Inner* inner = new (allocate(sizeof(Inner))) Inner;
    inner->leaf = false;
    return inner;
  }
  void free_node(Node* node) {
    if (node->leaf) {
      --leaves_;
      static_cast<Leaf*>(node)->~Leaf();
      deallocate(node, sizeof(Leaf));
    } else {
      --inners_;
      static_cast<Inner*>(node)->~Inner();
      deallocate(node, sizeof(Inner));
    }
  }
  void free_subtree(Node* node) {
    if (!node->leaf)
      for (int c = 0; c <= node->count; ++c) free_subtree(static_cast<Inner*>(node)->child[c]);
    free_node(node);
  }

  // The first position in the leaf whose key is not below `key`. (A binary search without
  // branches measured no faster here, in more instructions: std::lower_bound it is.)
  int leaf_position(const Leaf* leaf, const Key& key) const {
    return static_cast<int>(std::lower_bound(leaf->keys, leaf->keys + leaf->count, key, less_) - leaf->keys);
  }

  // Writes `key` at `i` in a leaf with room, the keys from `i` on moving up; returns `i`.
  static int put(Leaf* leaf, int i, const Key& key) {
    std::copy_backward(leaf->keys + i, leaf->keys + leaf->count, leaf->keys + leaf->count + 1);
    leaf->keys[i] = key;
    ++leaf->count;
    return i;
  }

  // A full leaf, child c of `parent`, that `key` would enter at `i`: moves keys to a sibling with
  // room for two or more (half that room) and puts `key` where it belongs now. Where it went,
  // or nullopt (nothing changed) when neither sibling has that room.
  std::optional<std::pair<Leaf*, int>> shift_to_sibling(Leaf* leaf, int i, const Key& key, Inner* parent, int c) {
    if (c > 0) {
      Leaf* left = static_cast<Leaf*>(parent->child[c - 1]);
      const int m = (kLeafCapacity - left->count) / 2;
      if (m > 0) {  // the first m keys go to the end of the left sibling
        const int joined = left->count;
        std::copy(leaf->keys, leaf->keys + m, left->keys + joined);
        std::copy(leaf->keys + m, leaf->keys + kLeafCapacity, leaf->keys);
        left->count = static_cast<std::uint16_t>(joined + m);
        leaf->count = static_cast<std::uint16_t>(kLeafCapacity - m);
        const std::pair at = i < m ? std::pair{left, put(left, joined + i, key)} : std::pair{leaf, put(leaf, i - m, key)};
        parent->keys[c - 1] = leaf->keys[0];
        return at;
      }
    }
    if (c < parent->count) {
      Leaf* right = static_cast<Leaf*>(parent->child[c + 1]);
      const int m = (kLeafCapacity - right->count) / 2;
      if (m > 0) {  // the last m keys go to the front of the right sibling
        const int stay = kLeafCapacity - m;
        std::copy_backward(right->keys, right->keys + right->count, right->keys + right->count + m);
        std::copy(leaf->keys + stay, leaf->keys + kLeafCapacity, right->keys);
        right->count = static_cast<std::uint16_t>(right->count + m);
        leaf->count = static_cast<std::uint16_t>(stay);
        const std::pair at = i <= stay ? std::pair{leaf, put(leaf, i, key)} : std::pair{right, put(right, i - stay, key)};
        parent->keys[c] = right->keys[0];
        return at;
      }
    }
    return std::nullopt;
  }
  // The leaf that holds `key` or would; with `path`, the inner nodes on the way and the child
  // taken in each.
  Leaf* leaf_for(const Key& key, Inner** path, int* branch) const {
    Node* node = root_;
    prefetch(node);
    for (int level = 0; level < height_; ++level) {
      Inner* inner = static_cast<Inner*>(node);
      const int c = static_cast<int>(std::upper_bound(inner->keys, inner->keys + inner->count, key, less_) - inner->keys);
      if (path) {
        path[level] = inner;
        branch[level] = c;
      }
      node = inner->child[c];
      prefetch(node);
    }
    return static_cast<Leaf*>(node);
  }
  // Asks for all of a node's cache lines at once. A search within a node reads a few of them,
  // each address depending on the last comparison: out of cache (a large tree, a key at a
  // random place) those would be misses one after the other; asked for together, they
  // arrive about as fast as one.
  static void prefetch(const Node* node) {
    const char* bytes = reinterpret_cast<const char*>(node);
    for (std::size_t line = 0; line < kNodeBytes; line += 64) __builtin_prefetch(bytes + line);
  }

  // After child branch[level] of path[level] split off `right` (whose keys are >= separator),
  // the parents take the new child, splitting in turn when full.
  void add_child(Inner* const* path, const int* branch, Key separator, Node* right) {
    for (int level = height_ - 1; level >= 0; --level) {
      Inner* parent = path[level];
      const int c = branch[level];
      if (parent->count < kInnerCapacity) {
        insert_separator(parent, c, separator, right);
        return;
      }
      // Full: the separators and children with the new one, split around the middle separator.
      Key keys[kInnerCapacity + 1];
      Node* children[kInnerCapacity + 2];
      std::copy(parent->keys, parent->keys + c, keys);
      keys[c] = separator;
      std::copy(parent->keys + c, parent->keys + kInnerCapacity, keys + c + 1);
      std::copy(parent->child, parent->child + c + 1, children);
      children[c + 1] = right;
      std::copy(parent->child + c + 1, parent->child + kInnerCapacity + 1, children + c + 2);
      const int middle = (kInnerCapacity + 1) / 2;
      Inner* sibling = new_inner();
      std::copy(keys, keys + middle, parent->keys);
      std::copy(children, children + middle + 1, parent->child);
      parent->count = static_cast<std::uint16_t>(middle);
      std::copy(keys + middle + 1, keys + kInnerCapacity + 1, sibling->keys);
      std::copy(children + middle + 1, children + kInnerCapacity + 2, sibling->child);
      sibling->count = static_cast<std::uint16_t>(kInnerCapacity - middle);
      separator = keys[middle];
      right = sibling;
    }
    Inner* root = new_inner();
    root->count = 1;
    root->keys[0] = separator;
    root->child[0] = root_;
    root->child[1] = right;
    root_ = root;
    ++height_;
  }
  static void insert_separator(Inner* parent, int c, const Key& separator, Node* right) {
    std::copy_backward(parent->keys + c, parent->keys + parent->count, parent->keys + parent->count + 1);
    std::copy_backward(parent->child + c + 1, parent->child + parent->count + 1, parent->child + parent->count + 2);
    parent->keys[c] = separator;
    parent->child[c + 1] = right;
    ++parent->count;
  }
  static void remove_separator(Inner* parent, int s) {  // and the child right of it
    std::copy(parent->keys + s + 1, parent->keys + parent->count, parent->keys + s);
    std::copy(parent->child + s + 2, parent->child + parent->count + 1, parent->child + s + 1);
    --parent->count;
  }

  // After an erase from `leaf`: a node below its minimum takes a key from a sibling, or merges
  // with it (the parent loses a child, and may fall below its own minimum in turn).
  void rebalance(Leaf* leaf, Inner* const* path, const int* branch) {
    Node* node = leaf;
    for (int level = height_ - 1; level >= 0; --level) {
      if (node->count >= (node->leaf ? kLeafMinimum : kInnerMinimum)) return;
      Inner* parent = path[level];
      const int c = branch[level];
      const int s = c > 0 ? c - 1 : 0;  // the separator between node and its sibling
      Node* left = parent->child[s];
      Node* right = parent->child[s + 1];
      if (node->leaf) {
        Leaf* l = static_cast<Leaf*>(left);
        Leaf* r = static_cast<Leaf*>(right);
        if (l->count + r->count <= kLeafCapacity) {
          std::copy(r->keys, r->keys + r->count, l->keys + l->count);
          l->count = static_cast<std::uint16_t>(l->count + r->count);
          l->next = r->next;
          (r->next ? r->next->prev : last_) = l;
          remove_separator(parent, s);
          free_node(r);
        } else if (node == left) {  // take the right sibling's first key
          l->keys[l->count++] = r->keys[0];
          std::copy(r->keys + 1, r->keys + r->count, r->keys);
          --r->count;
          parent->keys[s] = r->keys[0];
          return;
        } else {  // take the left sibling's last key
          std::copy_backward(r->keys, r->keys + r->count, r->keys + r->count + 1);
          r->keys[0] = l->keys[--l->count];
          ++r->count;
          parent->keys[s] = r->keys[0];
          return;
        }
      } else {
        Inner* l = static_cast<Inner*>(left);
        Inner* r = static_cast<Inner*>(right);
        if (l->count + r->count + 1 <= kInnerCapacity) {
          l->keys[l->count] = parent->keys[s];
          std::copy(r->keys, r->keys + r->count, l->keys + l->count + 1);
          std::copy(r->child, r->child + r->count + 1, l->child + l->count + 1);
          l->count = static_cast<std::uint16_t>(l->count + r->count + 1);
          remove_separator(parent, s);
          free_node(r);
        } else if (node == left) {  // rotate the right sibling's first child over the separator
          l->keys[l->count] = parent->keys[s];
          l->child[l->count + 1] = r->child[0];
          ++l->count;
          parent->keys[s] = r->keys[0];
          std::copy(r->keys + 1, r->keys + r->count, r->keys);
          std::copy(r->child + 1, r->child + r->count + 1, r->child);
          --r->count;
          return;
        } else {  // rotate the left sibling's last child over the separator
          std::copy_backward(r->keys, r->keys + r->count, r->keys + r->count + 1);
          std::copy_backward(r->child, r->child + r->count + 1, r->child + r->count + 2);
          r->keys[0] = parent->keys[s];
          r->child[0] = l->child[l->count];
          parent->keys[s] = l->keys[l->count - 1];
          --l->count;
          ++r->count;
          return;
        }
      }
      node = parent;
    }
    // The root: an inner root left with one child gives way to it; an empty leaf root goes.
    if (height_ > 0 && root_->count == 0) {
      Node* old = root_;
      root_ = static_cast<Inner*>(old)->child[0];
      free_node(old);
      --height_;
    } else if (height_ == 0 && root_->count == 0) {
      free_node(root_);
      root_ = first_ = last_ = nullptr;
    }
  }

  // Keys under `node` lie in [low, high) (nullptr: unbounded); leaves are met in chain order.
  template <class Fail>
  void check_node(const Node* node, int level, const Key* low, const Key* high, size_type& seen,
                  const Leaf*& prev, const Leaf*& next_leaf, Fail& fail) const {
    const bool is_root = node == root_;
    if (node->leaf != (level == height_)) fail("the leaves are all at one depth");
    // (the last leaf may hold fewer: keys arriving in order start it with one, see insert)
    const int minimum = is_root || node == last_ ? 1 : node->leaf ? kLeafMinimum : kInnerMinimum;
    if (node->count < minimum) fail("a node holds its minimum of keys");
    auto within = [&](const Key& k) { return (!low || !less_(k, *low)) && (!high || less_(k, *high)); };
    if (node->leaf) {
      const Leaf* leaf = static_cast<const Leaf*>(node);
      if (leaf != next_leaf || leaf->prev != prev) fail("the leaves are chained in order");
      for (int i = 0; i < leaf->count; ++i) {
        if (!within(leaf->keys[i])) fail("a key lies between its separators");
        if (i > 0 && !less_(leaf->keys[i - 1], leaf->keys[i])) fail("a leaf's keys ascend");
      }
      seen += leaf->count;
      prev = leaf;
      next_leaf = leaf->next;
      return;
    }
    const Inner* inner = static_cast<const Inner*>(node);
    for (int i = 0; i < inner->count; ++i) {
      if (!within(inner->keys[i])) fail("a separator lies between its parent's");
      if (i > 0 && !less_(inner->keys[i - 1], inner->keys[i])) fail("an inner node's separators ascend");
    }
    for (int c = 0; c <= inner->count; ++c)
      check_node(inner->child[c], level + 1, c > 0 ? &inner->keys[c - 1] : low, c < inner->count ? &inner->keys[c] : high,
                 seen, prev, next_leaf, fail);
  }

  NodePool* pool_ = nullptr;
  Node* root_ = nullptr;
  Leaf* first_ = nullptr;
  Leaf* last_ = nullptr;
  size_type size_ = 0;
  size_type leaves_ = 0;
  size_type inners_ = 0;
  int height_ = 0;  // inner levels above the leaves
  Less less_;
};

}  // namespace ccroute
