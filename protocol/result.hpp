// What a call of a service answers: its success value, or a failure in the one error
// vocabulary (protocol/error_code.hpp). A failure carries what its error reply says ("CODE
// why") and, as caf::error does, a type-erased context with the structured detail behind it
// (a lease's holder for DENIED, a session's new owner for MOVED), for callers that phrase the
// reply their own way or decide on the detail (who may see a holder). One place turns a
// failure into an error reply: reply_writer::error(const failure&).
#pragma once

#include <any>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "protocol/error_code.hpp"

namespace baton::protocol {

/// Why a call did not succeed.
struct failure {
  error_code code = error_code::err;
  std::string why;  ///< the sentence after the code in the error reply
  std::any context; ///< structured detail, or empty

  /// The context if it holds a T, else nullptr.
  template <class T>
  const T* context_as() const {
    return std::any_cast<T>(&context);
  }
};

/// A failure with `code`, `why` and optional detail.
inline failure fail(error_code code, std::string why, std::any context = {}) {
  return failure{code, std::move(why), std::move(context)};
}

/// A success of type T, or a failure. Calls that succeed with nothing to say use a named
/// empty struct (`released`, `stored`), not a `result<void>`: the name says what happened.
template <class T>
class result {
public:
  static_assert(!std::is_same_v<T, failure>, "a failure is not a success value");
  static_assert(!std::is_reference_v<T>, "result holds values");

  using value_type = T;

  /// A success, from anything T is implicitly made from (a variant's alternative, an
  /// optional's value, a string literal).
  template <class U = T, std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                              !std::is_same_v<std::decay_t<U>, result> &&
                                              !std::is_same_v<std::decay_t<U>, failure>,
                                          int> = 0>
  result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  result(failure error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The success value; calling it on a failure is a bug and aborts with the failure.
  T& value() & { return *checked(); }
  const T& value() const& { return *checked(); }
  T&& value() && { return std::move(*checked()); }
  T* operator->() { return checked(); }
  const T* operator->() const { return checked(); }
  T& operator*() & { return *checked(); }
  const T& operator*() const& { return *checked(); }

  /// The failure; calling it on a success is a bug and aborts.
  const failure& error() const& {
    if (ok()) misuse("error() on a success");
    return std::get<1>(state_);
  }
  failure&& error() && {
    if (ok()) misuse("error() on a success");
    return std::get<1>(std::move(state_));
  }

private:
  T* checked() {
    if (!ok()) misuse(std::get<1>(state_));
    return &std::get<0>(state_);
  }
  const T* checked() const {
    if (!ok()) misuse(std::get<1>(state_));
    return &std::get<0>(state_);
  }
  [[noreturn]] static void misuse(const failure& f) {
    misuse(("value() on a failure: " + error_text(f.code, f.why)).c_str());
  }
  [[noreturn]] static void misuse(const char* what) {
    std::fprintf(stderr, "baton: result<T> misused: %s\n", what);
    std::abort();
  }

  std::variant<T, failure> state_;
};

} // namespace baton::protocol
