// lib/base/status.h — expected failures as values.
//
// Status says whether an operation worked and, if not, what failed and why,
// in words an administrator can act on. Result<T> carries either a value or
// the Status explaining its absence. Used on every data path instead of
// exceptions; exceptions are kept for start-up and the CLI.
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace postern {

class Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // A failure for want of space (disk full, LMDB map full) rather than a
  // fault: callers answer "try again later" (452 4.3.1) instead of failing.
  static Status ResourceExhausted(std::string message) {
    Status status(std::move(message));
    status.resource_exhausted_ = true;
    return status;
  }

  // A failed system call: "what: strerror(error)"; running out of space
  // (ENOSPC, EDQUOT) is resource-exhausted.
  static Status FromErrno(std::string what, int error);

  bool ok() const { return !message_.has_value(); }
  bool is_resource_exhausted() const { return resource_exhausted_; }
  // The explanation of a failure; empty for an ok status.
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
  bool resource_exhausted_ = false;
};

inline Status Status::FromErrno(std::string what, int error) {
  Status status(what + ": " + std::strerror(error));
  status.resource_exhausted_ = error == ENOSPC || error == EDQUOT;
  return status;
}

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  // A failed system call: "what: strerror(error)"; running out of space
  // (ENOSPC, EDQUOT) is resource-exhausted.
  static Status FromErrno(std::string what, int error);

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace postern
