// The secrets audit trail; see secret_audit.hpp.
#include "services/secret/secret_audit.hpp"

#include "common/log.hpp"

namespace baton::secret {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::size_t batch_limit = 10000; ///< distinct records before an early flush

} // namespace

secret_audit::secret_audit(boost::asio::io_context& io, redis_link::redis_pool& redis,
                           std::string node_id, std::string stream, std::size_t max_entries,
                           std::chrono::milliseconds flush)
    : redis_(redis), node_id_(std::move(node_id)), stream_(std::move(stream)),
      max_entries_(std::to_string(max_entries)), interval_(flush), timer_(io) {}

void secret_audit::record(audit_entry entry) {
  ++recorded_;
  auto identity = std::to_string(entry.uid) + '\0' + std::to_string(entry.pid) + '\0' +
                  entry.command + '\0' + entry.name + '\0' + std::to_string(entry.version) + '\0' +
                  entry.result;
  auto& slot = batch_[identity];
  if (slot.count++ == 0) {
    slot.entry = std::move(entry);
    slot.first_ms = unix_ms();
  }
  if (batch_.size() >= batch_limit) flush();
}

void secret_audit::start() {
  arm();
}

void secret_audit::arm() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    flush();
    arm();
  });
}

void secret_audit::flush() {
  if (batch_.empty()) return;
  std::vector<std::string> args = {max_entries_, "9"};
  args.reserve(2 + batch_.size() * 18);
  for (const auto& [identity, b] : batch_) {
    const auto& e = b.entry;
    log::info("audit", "secret access",
              {{"node", node_id_},
               {"uid", std::to_string(e.uid)},
               {"pid", std::to_string(e.pid)},
               {"command", e.command},
               {"secret", e.name},
               {"version", std::to_string(e.version)},
               {"result", e.result},
               {"count", std::to_string(b.count)}});
    for (auto* text : {"node", node_id_.c_str(), "uid"})
      args.emplace_back(text);
    args.push_back(std::to_string(e.uid));
    args.emplace_back("pid");
    args.push_back(std::to_string(e.pid));
    args.emplace_back("command");
    args.push_back(e.command);
    args.emplace_back("secret");
    args.push_back(e.name);
    args.emplace_back("version");
    args.push_back(std::to_string(e.version));
    args.emplace_back("result");
    args.push_back(e.result);
    args.emplace_back("time_ms");
    args.push_back(std::to_string(b.first_ms));
    args.emplace_back("count");
    args.push_back(std::to_string(b.count));
  }
  auto records = batch_.size();
  batch_.clear();
  redis_.run_script("secret_audit", {stream_}, args, [records](redis_link::redis_reply reply) {
    if (reply.is_error())
      log::warn("audit", "could not write secret audit records to redis; the log has them",
                {{"records", std::to_string(records)}, {"why", reply.str}});
  });
}

} // namespace baton::secret
