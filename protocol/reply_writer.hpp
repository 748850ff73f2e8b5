// Encodes replies of the local API in RESP2 or RESP3 (after HELLO 3). Shapes that RESP2
// lacks degrade the way Redis degrades them: maps become flat arrays, null becomes $-1,
// booleans become integers, doubles become bulk strings, pushes become arrays.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/error_code.hpp"
#include "protocol/result.hpp"

namespace baton::protocol {

class reply_writer {
public:
  reply_writer(std::string& out, int protocol_version) : out_(out), resp3_(protocol_version >= 3) {}

  /// HELLO answers in the protocol it just chose.
  void set_protocol(int protocol_version) { resp3_ = protocol_version >= 3; }

  void simple(std::string_view text);
  /// `text` starts with the upper-case error code, e.g. "UNAVAILABLE redis is down".
  void error(std::string_view text);
  /// "CODE why": an error of the vocabulary (protocol/error_code.hpp).
  void error(error_code code, std::string_view why);
  /// A call's failure as its error reply: the one place failures become replies.
  void error(const failure& f) { error(f.code, f.why); }
  void integer(std::int64_t value);
  void bulk(std::string_view data);
  void null();
  void boolean(bool value);
  void floating(double value);
  void array(std::size_t count);
  /// `count` is the number of key/value pairs.
  void map(std::size_t count);
  void push(std::size_t count);

private:
  void header(char type, std::int64_t count);

  std::string& out_;
  bool resp3_;
};

/// One reply from a call's result: its failure as an error reply, else what
/// `write(out, value)` writes.
template <class T, class Write>
std::string encode_result(const result<T>& r, int protocol_version, Write&& write) {
  std::string bytes;
  reply_writer out(bytes, protocol_version);
  if (r)
    write(out, *r);
  else
    out.error(r.error());
  return bytes;
}

/// Strips CR and LF from one-line texts (simple strings and errors must not contain them).
std::string one_line(std::string_view text);

} // namespace baton::protocol
