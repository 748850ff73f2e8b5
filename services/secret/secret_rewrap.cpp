// SECRET REWRAP: every data key (of one secret, or of all) wrapped again under the active KEK; part
// of secret_service (see secret_service.hpp).
#include <algorithm>
#include <memory>

#include "common/log.hpp"
#include "model/secret/secret_keys.hpp"
#include "services/secret/secret_service.hpp"
#include "services/secret/secret_service_internal.hpp"

namespace baton::secret {

using redis_link::redis_reply;
using redis_link::reply_kind;

void secret_service::scan_names(std::shared_ptr<std::vector<std::string>> names,
                                std::function<void(bool)> done) {
  // On a Cluster, every primary in turn: a secret's keys live on its name's slot.
  redis_.scan(
      settings_.prefix + ":secret:{*",
      [this, names](std::vector<std::string>& keys) {
        for (const auto& key : keys) {
          auto name = name_of_record(settings_.prefix, key);
          if (!name.empty()) names->push_back(name);
        }
        return true;
      },
      [done](std::optional<std::string> error) { done(!error); });
}

void secret_service::rewrap(const std::optional<std::string>& name, secret_caller who,
                            secret_callback<rewrap_totals> done) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto total = std::make_shared<rewrap_totals>();
  if (name) {
    names->push_back(*name);
    return rewrap_names(names, 0, total, who, std::move(done));
  }
  scan_names(names, [this, names, total, who, done](bool ok) {
    if (!ok) return done(fail(error_code::unavailable, "could not list the secrets"));
    std::sort(names->begin(), names->end());
    names->erase(std::unique(names->begin(), names->end()), names->end());
    rewrap_names(names, 0, total, who, done);
  });
}

void secret_service::rewrap_names(std::shared_ptr<std::vector<std::string>> names, std::size_t next,
                                  std::shared_ptr<rewrap_totals> total, secret_caller who,
                                  secret_callback<rewrap_totals> done) {
  if (next >= names->size()) {
    audit(who, "rewrap", names->size() == 1 ? names->front() : "*",
          "ok: " + std::to_string(total->rewrapped) + " rewrapped, " +
              std::to_string(total->skipped) + " failed");
    return done(std::move(*total));
  }
  const auto name = (*names)[next];
  auto keys = keys_for(settings_.prefix, name);
  redis_.run_script("secret_read", {keys.record}, {}, [=](redis_reply r) {
    secret_record record;
    if (r.is_error() || !parse_record(r, record)) return done(fail(error_code::unavailable, r.str));
    const auto* active = keys_.active();
    auto left = std::make_shared<std::size_t>(1); // one for this loop
    auto one_done = [=] {
      if (--*left == 0) rewrap_names(names, next + 1, total, who, done);
    };
    for (auto& [version, v] : record.versions) {
      if (v.sealed.wrapped_key.empty()) continue; // retired: nothing to wrap
      if (v.sealed.kek_id == active->id) {
        ++total->already;
        continue;
      }
      auto sealed = v.sealed;
      std::string error;
      if (!secret::rewrap(keys_, name, std::to_string(version), sealed, error)) {
        ++total->skipped;
        log::error("secret", "cannot rewrap a version",
                   {{"secret", name}, {"version", std::to_string(version)}, {"why", error}});
        continue;
      }
      ++*left;
      redis_.run_script(
          "secret_rewrap", {keys.record},
          {std::to_string(version), v.sealed.wrapped_key, sealed.kek_id, sealed.wrapped_key},
          [=](redis_reply w) {
            if (w.kind == reply_kind::integer && w.integer == 1)
              ++total->rewrapped;
            else
              ++total->skipped;
            one_done();
          });
    }
    one_done();
  });
}

} // namespace baton::secret
