// The audit trail of secrets: who (node, uid, pid) did what (command) to which secret and
// version, with what result, and when. Never a value. Records go to the local log and, in
// batches, to a capped Redis stream; within one batch, repeats of the same record (a server
// calling VERIFY thousands of times a second) are counted instead of written again, so that
// auditing every call costs Redis one write per distinct caller and result per interval.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "redis/redis_pool.hpp"

namespace baton::secret {

struct audit_entry {
  std::int64_t uid = -1;
  std::int64_t pid = 0;
  std::string command; ///< get, verify, info, put, rotate, rewrap, watch, or the schedule
  std::string name;
  std::int64_t version = 0;
  std::string result; ///< ok, current, previous, no-match, absent, refused, error: ...
};

class secret_audit {
public:
  secret_audit(boost::asio::io_context& io, redis_link::redis_pool& redis, std::string node_id,
               std::string stream, std::size_t max_entries, std::chrono::milliseconds flush);

  void record(audit_entry entry);
  void start();
  /// Writes what is buffered now (at shutdown and in tests).
  void flush();
  std::uint64_t recorded() const { return recorded_; }

private:
  void arm();

  redis_link::redis_pool& redis_;
  std::string node_id_;
  std::string stream_;
  std::string max_entries_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  struct batch_entry {
    audit_entry entry;
    std::int64_t first_ms = 0;
    std::int64_t count = 0;
  };
  std::map<std::string, batch_entry> batch_; ///< by the entry's identity
  std::uint64_t recorded_ = 0;
};

} // namespace baton::secret
