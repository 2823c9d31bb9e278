#pragma once
// Status and Result<T>: errors as values across module boundaries.
//
// A Status is either ok or carries a code and a message meant for a person
// ("index/blocks: checksum mismatch in block 12 of file FE01_20140716_1.log").
// No exceptions cross a module boundary; PEGTL and RocksDB errors are converted
// where they arise.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sipdex {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument,  // bad usage or a bad query: exit status 2
    kNotFound,
    kCorruption,       // damaged index or input: exit status 1
    kIoError,
    kBusy,             // another process holds the index
    kResourceExhausted,
    kAborted,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status ResourceExhausted(std::string msg) { return Status(Code::kResourceExhausted, std::move(msg)); }
  static Status Aborted(std::string msg) { return Status(Code::kAborted, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "corruption: <message>", or "ok".
  std::string ToString() const;

  // Explicitly and greppably drop a status that does not matter here.
  void IgnoreError() const {}

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}           // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {    // NOLINT: implicit on purpose
    assert(!status_.ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

// Returns early from the enclosing function when `expr` is not ok.
#define SIPDEX_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::sipdex::Status sipdex_status_ = (expr);   \
    if (!sipdex_status_.ok()) return sipdex_status_; \
  } while (0)

}  // namespace sipdex
