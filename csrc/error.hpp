// The one exception the core throws: a kind the embedder maps to its own errors, and a message
// that names the bad value.
#pragma once

#include <stdexcept>
#include <string>

namespace ccroute {

// Restore: a snapshot or journal that cannot be read back (truncated, corrupt, another format
// version, another configuration).
enum class ErrorKind { Config, UnknownId, DuplicateId, InvalidArgument, TimeOrder, InvalidTransition, Restore };
inline constexpr int kErrorKinds = static_cast<int>(ErrorKind::Restore) + 1;

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace ccroute
