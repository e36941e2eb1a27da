// lib/base/status.h — expected failures as values.
//
// Status says whether an operation worked and, if not, what failed and why,
// in words an administrator can act on. Result<T> carries either a value or
// the Status explaining its absence. Used on every data path instead of
// exceptions; exceptions are kept for start-up and the CLI.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace postern {

class Status {
 public:
  // What kind of failure, for callers that act on the kind rather than on
  // the words: the message is for people, the code is for code.
  enum class Code : uint8_t {
    kOk,
    kError,              // any failure without a kind of its own
    kResourceExhausted,  // out of space (disk full, LMDB map full), not a fault
    kEndOfFile,          // the peer closed: nothing more will come
    kWouldBlock,         // a non-blocking call found nothing to do now
    kPermanent,          // repeating cannot help until a person changes something
  };

  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(Code::kError, std::move(message)); }
  // A failure for want of space (disk full, LMDB map full) rather than a
  // fault: callers answer "try again later" (452 4.3.1) instead of failing.
  static Status ResourceExhausted(std::string message) {
    return Status(Code::kResourceExhausted, std::move(message));
  }
  static Status EndOfFile(std::string message) {
    return Status(Code::kEndOfFile, std::move(message));
  }
  static Status WouldBlock(std::string message) {
    return Status(Code::kWouldBlock, std::move(message));
  }
  // A failure that trying again will not cure: a name that cannot be used,
  // permission denied, a file where a directory must be. A delivery that
  // meets one fails instead of waiting for the back-off.
  static Status Permanent(std::string message) {
    return Status(Code::kPermanent, std::move(message));
  }

  // A failed system call: "what: strerror(error)"; running out of space
  // (ENOSPC, EDQUOT) is resource-exhausted; EACCES, EPERM, ENOTDIR,
  // EISDIR, ENAMETOOLONG and ELOOP are permanent.
  static Status FromErrno(std::string what, int error);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool is_resource_exhausted() const { return code_ == Code::kResourceExhausted; }
  bool is_end_of_file() const { return code_ == Code::kEndOfFile; }
  bool is_would_block() const { return code_ == Code::kWouldBlock; }
  bool is_permanent() const { return code_ == Code::kPermanent; }
  // The explanation of a failure; empty for an ok status.
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status Status::FromErrno(std::string what, int error) {
  Code code = Code::kError;
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      code = Code::kResourceExhausted;
      break;
    case EACCES:
    case EPERM:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
      code = Code::kPermanent;
      break;
  }
  return Status(code, what + ": " + std::strerror(error));
}

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

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
