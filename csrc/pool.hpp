// Node memory for the router's B+-trees (btree.hpp: waiting calls by priority, ready agents by
// idle time). Nodes split and merge as keys come and go: from a pool that costs a free-list
// pop and push instead of malloc and free, a node freed is the next one used (still in
// cache), and nodes carry no allocator header. Memory is kept until the router goes.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

// Under AddressSanitizer every node comes from operator new, so that a node used after its
// erase is still reported (a pool would hand it out again unnoticed).
#if defined(__SANITIZE_ADDRESS__)
#define CCROUTE_NODE_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CCROUTE_NODE_POOL 0
#endif
#endif
#ifndef CCROUTE_NODE_POOL
#define CCROUTE_NODE_POOL 1
#endif

namespace ccroute {

class NodePool {
 public:
  NodePool() = default;
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  static constexpr std::size_t kGrain = 8;                  // sizes are rounded up to this, and aligned to it
  static constexpr std::size_t kLargest = 512;              // larger blocks go to operator new
  static constexpr std::size_t kChunk = 64 * 1024;

  void* allocate(std::size_t bytes) {
    if (!CCROUTE_NODE_POOL || bytes > kLargest) return ::operator new(bytes);
    const std::size_t size_class = (bytes + kGrain - 1) / kGrain;
    if (Free* block = free_[size_class]) {
      free_[size_class] = block->next;
      return block;
    }
    const std::size_t size = size_class * kGrain;
    if (left_ < size) {
      chunks_.emplace_back(new std::byte[kChunk]);
      cursor_ = chunks_.back().get();
      left_ = kChunk;  // what remained of the last chunk is not used: at most kLargest bytes
    }
    void* block = cursor_;
    cursor_ += size;
    left_ -= size;
    return block;
  }

  void deallocate(void* block, std::size_t bytes) {
    if (!CCROUTE_NODE_POOL || bytes > kLargest) return ::operator delete(block);
    const std::size_t size_class = (bytes + kGrain - 1) / kGrain;
    free_[size_class] = new (block) Free{free_[size_class]};
  }

  std::size_t memory_bytes() const { return chunks_.size() * kChunk; }

 private:
  struct Free {
    Free* next;
  };
  Free* free_[kLargest / kGrain + 1] = {};
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::byte* cursor_ = nullptr;
  std::size_t left_ = 0;
};

}  // namespace ccroute
