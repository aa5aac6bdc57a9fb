// The router's pending timers, earliest first by (due, creation number): the order in which
// they fire is part of the decisions.
//
// Most timers are created in the order they fall due: a step of a plan falls due a fixed
// time after arrival, for calls entering the step before it in arrival order; an offer times
// out a fixed time after it was made. Such timers go to a lane, a FIFO that stays sorted as
// long as each push falls due no earlier than the lane's last timer. The rest (a call back
// from a rejected offer or a transfer keeps its older arrival; preferred-agent waits and
// wrap-ups are per call or per agent) go to one binary heap. A tournament tree over the
// lanes' fronts and the heap's top gives the earliest of all in O(log lanes), lanes being few
// (one per plan step): an escalation among 100k waiting calls then touches a lane's front
// instead of sifting through a heap of 100k.
//
// Cancelled timers are not removed: the owner's current timer number differs from the
// entry's, and the router drops the entry when it comes to the front.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace ccroute {

struct Timer {
  double due;
  std::uint64_t seq;  // creation number, unique as the router makes them: breaks ties of due times
  std::uint32_t ref;  // the agent or call it belongs to
  bool for_agent;
  bool operator<(const Timer& o) const { return due != o.due ? due < o.due : seq < o.seq; }
};

class Timers {
 public:
  static constexpr int kNoLane = -1;

  Timers() { reset(0); }

  // Empties the timers and makes `n_lanes` lanes.
  void reset(std::size_t n_lanes) {
    lanes_.clear();
    lanes_.resize(n_lanes);
    heap_.clear();
    leaves_ = 1;
    while (leaves_ < n_lanes + 1) leaves_ *= 2;
    fronts_.assign(leaves_, kEmpty);
    tree_.assign(2 * leaves_, Match{kEmpty.due, kEmpty.seq, 0});
    for (std::size_t i = 0; i < leaves_; ++i) tree_[leaves_ + i].leaf = static_cast<std::uint32_t>(i);
    for (std::size_t i = leaves_ - 1; i >= 1; --i) tree_[i] = tree_[2 * i];
  }

  // Adds a timer to `lane` if it keeps the lane sorted, else to the heap.
  void push(const Timer& timer, int lane) {
    if (lane != kNoLane) {
      Lane& l = lanes_[lane];
      if (l.count == 0 || !(timer < l.back())) {
        l.push(timer);
        if (l.count == 1) update(static_cast<std::size_t>(lane), timer);
        return;
      }
    }
    // Whether it is the heap's new front, by the whole order: a restored snapshot may give
    // two timers one creation number, and a number alone would then mistake one for the other.
    const bool earliest = heap_.empty() || timer < heap_.front();
    heap_.push_back(timer);
    std::push_heap(heap_.begin(), heap_.end(), later);
    if (earliest) update(heap_leaf(), timer);
  }

  bool empty() const { return tree_[1].seq == kEmpty.seq; }
  // The earliest timer; only when not empty.
  const Timer& top() const { return fronts_[tree_[1].leaf]; }
  // Removes the earliest timer. Returns the one kLookahead places behind it in its lane, if
  // the lane holds one in the same block: a timer that will fire soon (unless cancelled), whose
  // owner the router asks for ahead (a record out of cache among 100k waiting calls).
  static constexpr std::size_t kLookahead = 4;
  const Timer* pop() {
    const std::size_t leaf = tree_[1].leaf;
    if (leaf == heap_leaf()) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
      update(leaf, heap_.empty() ? kEmpty : heap_.front());
      return nullptr;
    }
    Lane& l = lanes_[leaf];
    l.pop();
    update(leaf, l.count ? l.front() : kEmpty);
    return l.count >= kLookahead && l.head + kLookahead - 1 < Lane::kBlock ? &l.blocks[l.first][l.head + kLookahead - 1]
                                                                           : nullptr;
  }

  // Timers held, cancelled ones included.
  std::size_t size() const {
    std::size_t n = heap_.size();
    for (const Lane& l : lanes_) n += l.count;
    return n;
  }
  // Calls f(timer) for every timer held, cancelled ones included, in no order.
  template <class F>
  void for_each(F&& f) const {
    for (const Lane& l : lanes_)
      for (std::size_t i = 0; i < l.count; ++i) f(l.at(i));
    for (const Timer& timer : heap_) f(timer);
  }
  // Bytes allocated, for memory accounting: `block(n)` is what an allocation of n bytes takes.
  template <class Block>
  std::size_t memory_bytes(Block&& block) const {
    std::size_t bytes = block(heap_.capacity() * sizeof(Timer)) + block(lanes_.capacity() * sizeof(Lane)) +
                        block(fronts_.capacity() * sizeof(Timer)) + block(tree_.capacity() * sizeof(Match));
    for (const Lane& l : lanes_) {
      const std::size_t blocks = l.blocks.size() - l.first + (l.spare ? 1 : 0);
      bytes += block(l.blocks.capacity() * sizeof(l.blocks[0])) + blocks * block(Lane::kBlock * sizeof(Timer));
    }
    return bytes;
  }

 private:
  static constexpr Timer kEmpty{std::numeric_limits<double>::infinity(), std::numeric_limits<std::uint64_t>::max(), 0, false};
  static bool later(const Timer& a, const Timer& b) { return b < a; }

  // A FIFO in blocks of kBlock timers: its memory follows the timers it holds (a ring
  // buffer's would stay at its largest count, rounded up to a power of two), and a block
  // the front leaves is kept as the spare for the next one the back needs.
  struct Lane {
    static constexpr std::size_t kBlock = 256;              // timers per block (6 KiB)
    std::vector<std::unique_ptr<Timer[]>> blocks;           // blocks[first..]: the timers, head onwards
    std::unique_ptr<Timer[]> spare;
    std::size_t first = 0, head = 0, count = 0;             // head: the front's index in blocks[first]
    const Timer& at(std::size_t i) const {                  // i-th from the front
      const std::size_t k = head + i;
      return blocks[first + k / kBlock][k % kBlock];
    }
    const Timer& front() const { return blocks[first][head]; }
    const Timer& back() const { return at(count - 1); }
    void push(const Timer& timer) {
      const std::size_t k = head + count;
      if (first + k / kBlock == blocks.size())
        blocks.push_back(spare ? std::move(spare) : std::unique_ptr<Timer[]>(new Timer[kBlock]));  // uninitialised
      blocks[first + k / kBlock][k % kBlock] = timer;
      count += 1;
    }
    void pop() {
      count -= 1;
      if (++head < kBlock) return;
      spare = std::move(blocks[first++]);
      head = 0;
      if (2 * first >= blocks.size()) {  // drop the emptied slots at the front: O(1) amortised
        blocks.erase(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(first));
        first = 0;
      }
    }
  };

  std::size_t heap_leaf() const { return lanes_.size(); }

  // A leaf's front changed: replay the matches on its way to the root.
  void update(std::size_t leaf, const Timer& front) {
    fronts_[leaf] = front;
    std::size_t i = leaves_ + leaf;
    tree_[i] = Match{front.due, front.seq, static_cast<std::uint32_t>(leaf)};
    for (i /= 2; i >= 1; i /= 2) {
      const Match& a = tree_[2 * i];
      const Match& b = tree_[2 * i + 1];
      tree_[i] = (b.due < a.due || (b.due == a.due && b.seq < a.seq)) ? b : a;
    }
  }

  std::vector<Lane> lanes_;
  std::vector<Timer> heap_;       // min-heap by (due, seq)
  std::size_t leaves_ = 1;        // a power of two > lanes: one leaf per lane, then the heap's
  struct Match {  // the earliest front under a node of the tree: its (due, seq), and its leaf
    double due;
    std::uint64_t seq;
    std::uint32_t leaf;
  };
  std::vector<Timer> fronts_;  // per leaf: its earliest timer, or kEmpty
  std::vector<Match> tree_;    // tree_[1] the root, node i's children 2i and 2i + 1, leaves at [leaves_, 2 leaves_)
};

}  // namespace ccroute
