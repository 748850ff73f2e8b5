// STATE's request path; see state_service.hpp.
#include "services/state/state_service.hpp"

#include <algorithm>
#include <memory>

#include "redis/idempotent_call.hpp"
#include "services/state/state_keys.hpp"
#include "services/unanswered.hpp"

namespace baton::state {

using protocol::error_code;
using protocol::fail;
using protocol::failure;
using protocol::result;
using redis_link::redis_reply;
using redis_link::reply_kind;

namespace {

/// The envelope binds a sealed value to its namespace and key: a ciphertext copied to another
/// key fails to open rather than reading as that key's value.
std::string sealed_name(const state_namespace& ns, const std::string& key) {
  return "state:" + ns.name + ":" + key;
}

/// One script call per slot group, all at once; `on_reply` takes each group's reply (and says
/// what went wrong with it, if anything), and `finish` runs once, after the last, with the
/// worst failure. A write that failed in some slots and not others may be partly done: the
/// caller's `partial` advice says so.
struct slot_calls {
  std::size_t left = 0;
  std::size_t answered = 0;
  std::optional<failure> failed;
  bool maybe_ran = false; ///< a group's change may have been applied
};

using group_reply = std::function<std::optional<failure>(std::size_t group, redis_reply& reply)>;

void run_groups(redis_link::redis_pool& redis, const std::string& script, bool idempotent,
                std::vector<std::vector<std::string>> keys,
                std::vector<std::vector<std::string>> args, group_reply on_reply,
                std::function<void(std::optional<failure>, bool maybe_ran)> finish) {
  auto calls = std::make_shared<slot_calls>();
  calls->left = keys.size();
  if (calls->left == 0) return finish(std::nullopt, false);
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  auto shared_reply = std::make_shared<group_reply>(std::move(on_reply));
  for (std::size_t g = 0; g < keys.size(); ++g) {
    auto handle = [calls, g, shared_finish, shared_reply](redis_reply reply) {
      if (!reply.is_error() || reply.outcome_unknown()) calls->maybe_ran = true;
      auto problem = (*shared_reply)(g, reply);
      if (!reply.is_error() && !problem) ++calls->answered;
      // The worst failure wins: an unknown outcome over an unavailable one over the rest.
      if (problem && (!calls->failed || problem->code == error_code::unknown ||
                      (problem->code == error_code::unavailable &&
                       calls->failed->code != error_code::unknown)))
        calls->failed = std::move(problem);
      if (--calls->left == 0) (*shared_finish)(std::move(calls->failed), calls->maybe_ran);
    };
    if (idempotent)
      redis_link::run_idempotent(
          redis, script, std::move(keys[g]), std::move(args[g]),
          [handle](redis_reply r, bool retried) {
            // A resent write that meets a conflict may follow its own first attempt, which
            // landed and was written over since: the outcome is not known, not refused.
            if (retried && r.kind == reply_kind::array && !r.elements.empty() &&
                r.elements[0].str == "conflict")
              r = redis_reply::unanswered(
                  "its answer was lost, and when sent again the key had changed");
            handle(std::move(r));
          });
    else
      redis.run_script(script, std::move(keys[g]), std::move(args[g]), handle);
  }
}

/// A change's failure in one slot of several: it may have been applied in others.
failure partly(failure f, bool maybe_ran, std::size_t groups) {
  if (groups > 1 && maybe_ran && f.code != error_code::unknown)
    return fail(error_code::unknown, f.why + "; the keys span " + std::to_string(groups) +
                                         " slots, and the others' part may be done: read them "
                                         "to learn which");
  return f;
}

/// Each slot group's Redis keys, in the group's order: the KEYS of its call.
std::vector<std::vector<std::string>> keys_of_groups(
    const std::vector<std::string>& redis_keys, const std::vector<std::vector<std::size_t>>& groups) {
  std::vector<std::vector<std::string>> out;
  out.reserve(groups.size());
  for (const auto& g : groups) {
    auto& keys = out.emplace_back();
    keys.reserve(g.size());
    for (auto i : g)
      keys.push_back(redis_keys[i]);
  }
  return out;
}

std::vector<std::string> redis_keys_of(const state_namespace& ns,
                                       const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  out.reserve(keys.size());
  for (const auto& k : keys)
    out.push_back(entry_key(ns, k));
  return out;
}

} // namespace

state_service::state_service(redis_link::redis_pool& redis, const secret::keyring& keys,
                             std::string node_id, std::string run_id)
    : redis_(redis), keys_(keys), writer_(node_id + ":" + run_id + ":") {}

bool state_service::seal_value(const state_namespace& ns, const std::string& key,
                               const std::string& value, std::vector<std::string>& args,
                               std::string& error) const {
  if (!ns.encrypt) {
    args.push_back(value);
    args.insert(args.end(), 3, std::string());
    return true;
  }
  secret::sealed_version sealed;
  if (!secret::seal(keys_, sealed_name(ns, key), "0", secret::secure_bytes(value), sealed, error))
    return false;
  args.push_back(std::string());
  args.push_back(std::move(sealed.kek_id));
  args.push_back(std::move(sealed.wrapped_key));
  args.push_back(std::move(sealed.ciphertext));
  return true;
}

result<maybe_entry> state_service::decode_entry(const state_namespace& ns, const std::string& key,
                                                const redis_reply& r) const {
  if (r.kind != reply_kind::array) return unexpected_reply(r);
  if (r.elements.empty()) return maybe_entry();
  if (r.elements.size() != 6 || r.elements[0].kind != reply_kind::integer ||
      r.elements[1].kind != reply_kind::integer)
    return unexpected_reply(r);
  entry e;
  e.version = r.elements[0].integer;
  e.ttl_ms = r.elements[1].integer;
  const auto& kek = r.elements[3].str;
  if (kek.empty()) {
    // Plain, also in a namespace sealed since it was written: it reads as it was stored.
    e.value = r.elements[2].str;
    return maybe_entry(std::move(e));
  }
  secret::sealed_version sealed{kek, r.elements[4].str, r.elements[5].str};
  secret::secure_bytes plain;
  std::string error;
  if (!secret::open(keys_, sealed_name(ns, key), "0", sealed, plain, error))
    return fail(error_code::err, "the value of '" + key + "' cannot be opened: " + error);
  e.value = std::string(plain.view());
  return maybe_entry(std::move(e));
}

void state_service::read(const state_namespace& ns, std::vector<std::string> keys,
                         bool and_delete, state_callback<std::vector<maybe_entry>> done) {
  auto redis_keys = redis_keys_of(ns, keys);
  auto groups = group_by_slot(redis_keys, redis_.clustered());
  auto call_keys = keys_of_groups(redis_keys, groups);
  std::vector<std::vector<std::string>> call_args(
      groups.size(), and_delete ? std::vector<std::string>{} : std::vector<std::string>{"get"});
  auto out = std::make_shared<std::vector<maybe_entry>>(keys.size());
  auto sealed = std::make_shared<std::vector<bool>>(keys.size());
  auto shared_keys = std::make_shared<std::vector<std::string>>(std::move(keys));
  auto count = groups.size();
  run_groups(
      redis_, and_delete ? "state_getdel" : "state_read", !and_delete, std::move(call_keys),
      std::move(call_args),
      [this, ns, groups = std::move(groups), out, sealed, shared_keys, and_delete](
          std::size_t g, redis_reply& reply) -> std::optional<failure> {
        if (reply.is_unavailable())
          return and_delete ? unanswered(reply, "the entry may have been deleted: GET it to see")
                            : unexpected_reply(reply);
        if (reply.kind != reply_kind::array || reply.elements.size() != groups[g].size())
          return unexpected_reply(reply);
        for (std::size_t j = 0; j < groups[g].size(); ++j) {
          auto at = groups[g][j];
          auto e = decode_entry(ns, (*shared_keys)[at], reply.elements[j]);
          if (!e) return std::move(e).error();
          (*out)[at] = std::move(*e);
          (*sealed)[at] = reply.elements[j].elements.size() == 6 &&
                          !reply.elements[j].elements[3].str.empty();
        }
        return std::nullopt;
      },
      [this, ns, out, sealed, shared_keys, count, and_delete,
       done = std::move(done)](std::optional<failure> f, bool ran) mutable {
        if (f) {
          // A read that failed is plainly unavailable; only GETDEL changes anything.
          if (!and_delete && f->code == error_code::unknown) f->code = error_code::unavailable;
          return done(and_delete ? partly(std::move(*f), ran, count) : std::move(*f));
        }
        // GETDEL of a sealed entry: the script left it, and it is deleted now that it opened,
        // by the version read (a write in between wins, and nothing is deleted).
        if (!and_delete || out->empty() || !(*out)[0] || !(*sealed)[0])
          return done(std::move(*out));
        remove(ns, {(*shared_keys)[0]}, (*out)[0]->version,
               [out, done = std::move(done)](result<tally> deleted) {
                 if (!deleted) {
                   auto why = deleted.error();
                   if (why.code == error_code::conflict)
                     why.why = "the entry changed between its read and its delete (" + why.why +
                               "); nothing was deleted";
                   return done(std::move(why));
                 }
                 done(std::move(*out));
               });
      });
}

void state_service::write(const state_namespace& ns,
                          std::vector<std::pair<std::string, std::string>> items,
                          write_condition condition, std::int64_t expected_version,
                          milliseconds ttl, state_callback<written> done) {
  std::vector<std::string> redis_keys;
  redis_keys.reserve(items.size());
  for (const auto& [k, v] : items)
    redis_keys.push_back(entry_key(ns, k));
  auto groups = group_by_slot(redis_keys, redis_.clustered());
  auto id = writer_ + std::to_string(++sequence_);
  const char* cond = condition == write_condition::absent    ? "absent"
                     : condition == write_condition::version ? "version"
                                                             : "";
  std::vector<std::vector<std::string>> call_keys, call_args;
  for (const auto& g : groups) {
    call_keys.emplace_back();
    auto& args = call_args.emplace_back();
    args = {cond, std::to_string(expected_version), std::to_string(ttl.count()), id};
    args.reserve(4 + 4 * g.size());
    for (auto i : g) {
      call_keys.back().push_back(redis_keys[i]);
      std::string error;
      if (!seal_value(ns, items[i].first, items[i].second, args, error))
        return done(fail(error_code::err, "cannot encrypt the value: " + error));
    }
  }
  auto out = std::make_shared<written>();
  out->versions.resize(items.size());
  auto count = groups.size();
  // A plain write may be sent again: the two attempts lie within the request, as one slow
  // attempt would. A conditional one may not: its condition would be judged again later
  // (after a delete in between, IFABSENT would write a second time).
  run_groups(
      redis_, "state_write", condition == write_condition::none, std::move(call_keys),
      std::move(call_args),
      [groups = std::move(groups), out](std::size_t g, redis_reply& reply) -> std::optional<failure> {
        if (reply.is_unavailable())
          return unanswered(reply, "the write may or may not be done: GET the key, whose "
                                   "version says");
        if (reply.kind != reply_kind::array || reply.elements.size() < 2)
          return unexpected_reply(reply);
        if (reply.elements[0].str == "conflict") {
          auto current = reply.elements[1].integer;
          return fail(error_code::conflict,
                      current == 0 ? "the key has no value (IFVERSION expected one)"
                                   : "the key is at version " + std::to_string(current),
                      current);
        }
        if (reply.elements[0].str != "ok" || reply.elements.size() != groups[g].size() + 1)
          return unexpected_reply(reply);
        for (std::size_t j = 0; j < groups[g].size(); ++j)
          out->versions[groups[g][j]] = reply.elements[j + 1].integer;
        return std::nullopt;
      },
      [out, count, done = std::move(done)](std::optional<failure> f, bool ran) {
        if (f) return done(partly(std::move(*f), ran, count));
        done(std::move(*out));
      });
}

void state_service::remove(const state_namespace& ns, std::vector<std::string> keys,
                           std::optional<std::int64_t> expected_version,
                           state_callback<tally> done) {
  auto redis_keys = redis_keys_of(ns, keys);
  auto groups = group_by_slot(redis_keys, redis_.clustered());
  auto call_keys = keys_of_groups(redis_keys, groups);
  std::vector<std::vector<std::string>> call_args(
      groups.size(), {expected_version ? std::to_string(*expected_version) : ""});
  auto deleted = std::make_shared<std::int64_t>(0);
  auto count = groups.size();
  // A plain delete may be sent again (deleting twice deletes the same); one on a version may
  // not: its first attempt may be what made the version gone.
  run_groups(
      redis_, "state_delete", !expected_version, std::move(call_keys), std::move(call_args),
      [deleted](std::size_t, redis_reply& reply) -> std::optional<failure> {
        if (reply.is_unavailable())
          return unanswered(reply, "the entry may or may not be deleted: EXISTS says");
        if (reply.kind != reply_kind::array || reply.elements.size() != 2)
          return unexpected_reply(reply);
        if (reply.elements[0].str == "conflict") {
          auto current = reply.elements[1].integer;
          return fail(error_code::conflict,
                      current == 0 ? "the key has no value"
                                   : "the key is at version " + std::to_string(current),
                      current);
        }
        *deleted += reply.elements[1].integer;
        return std::nullopt;
      },
      [deleted, count, done = std::move(done)](std::optional<failure> f, bool ran) {
        if (f) return done(partly(std::move(*f), ran, count));
        done(tally{*deleted});
      });
}

void state_service::exists(const state_namespace& ns, const std::string& key,
                           state_callback<bool> done) {
  redis_.call({"EXISTS", entry_key(ns, key)}, [done = std::move(done)](redis_reply reply) {
    if (reply.kind != reply_kind::integer) return done(unexpected_reply(reply));
    done(reply.integer > 0);
  });
}

void state_service::ttl(const state_namespace& ns, const std::string& key,
                        state_callback<std::int64_t> done) {
  redis_.call({"PTTL", entry_key(ns, key)}, [done = std::move(done)](redis_reply reply) {
    if (reply.kind != reply_kind::integer) return done(unexpected_reply(reply));
    done(reply.integer);
  });
}

void state_service::scan(const state_namespace& ns, const std::string& prefix,
                         const std::string& cursor, std::size_t count,
                         state_callback<scan_page> done) {
  redis_.scan_page(
      cursor, entry_pattern(ns, prefix), count,
      [ns, done = std::move(done)](redis_link::scan_page_result r) {
        using status = redis_link::scan_page_result::status;
        if (r.outcome == status::bad_cursor) return done(fail(error_code::err, r.error));
        if (r.outcome == status::stale_cursor) return done(fail(error_code::refused, r.error));
        if (r.outcome == status::failed)
          return done(fail(r.unavailable ? error_code::unavailable : error_code::err, r.error));
        scan_page page{std::move(r.cursor), {}};
        for (const auto& k : r.keys)
          if (auto key = app_key(ns, k)) page.keys.push_back(std::move(*key));
        done(std::move(page));
      });
}

void state_service::count(const state_namespace& ns, state_callback<tally> done) {
  // Hashes of the keys seen, not the keys: SCAN may return a key twice (while Redis resizes
  // its table), and 8 bytes a key keeps a count of millions small.
  auto seen = std::make_shared<std::vector<std::size_t>>();
  redis_.scan(
      entry_pattern(ns, ""),
      [seen, ns](std::vector<std::string>& keys) {
        for (const auto& k : keys)
          if (app_key(ns, k)) seen->push_back(std::hash<std::string>()(k));
        return true;
      },
      [seen, done = std::move(done)](std::optional<std::string> error) {
        if (error) return done(fail(error_code::unavailable, "cannot count: " + *error));
        std::sort(seen->begin(), seen->end());
        auto unique = std::unique(seen->begin(), seen->end()) - seen->begin();
        done(tally{static_cast<std::int64_t>(unique)});
      });
}

void state_service::clear(const state_namespace& ns, state_callback<tally> done) {
  struct clearing {
    std::int64_t deleted = 0;
    std::size_t pending = 0; ///< delete calls on their way
    bool scanned = false;
    std::optional<failure> failed;
    state_callback<tally> done;
    void maybe_finish() {
      if (!scanned || pending > 0 || !done) return;
      auto d = std::move(done);
      done = nullptr;
      if (failed) return d(std::move(*failed));
      d(tally{deleted});
    }
  };
  auto c = std::make_shared<clearing>();
  c->done = std::move(done);
  auto clustered = redis_.clustered();
  redis_.scan(
      entry_pattern(ns, ""),
      [this, c, clustered, ns](std::vector<std::string>& found) {
        // Only what SCAN would list: a key under the prefix not shaped as an entry is not
        // the namespace's to delete.
        std::vector<std::string> keys;
        for (auto& k : found)
          if (app_key(ns, k)) keys.push_back(std::move(k));
        for (auto& g : group_by_slot(keys, clustered)) {
          std::vector<std::string> batch;
          for (auto i : g)
            batch.push_back(keys[i]);
          ++c->pending;
          redis_link::run_idempotent(redis_, "state_delete", std::move(batch), {""},
                                     [c](redis_reply reply, bool) {
                                       --c->pending;
                                       if (reply.kind == reply_kind::array &&
                                           reply.elements.size() == 2)
                                         c->deleted += reply.elements[1].integer;
                                       else if (!c->failed)
                                         c->failed = unanswered(
                                             reply, "CLEAR stopped part way: run it again");
                                       c->maybe_finish();
                                     });
        }
        return !c->failed;
      },
      [c](std::optional<std::string> error) {
        c->scanned = true;
        if (error && !c->failed)
          c->failed = fail(error_code::unavailable,
                           "CLEAR stopped part way (" + *error + "): run it again");
        c->maybe_finish();
      });
}

void state_service::restore(const state_namespace& ns, std::vector<restore_item> items,
                            state_callback<tally> done) {
  std::vector<std::string> redis_keys;
  redis_keys.reserve(items.size());
  for (const auto& item : items)
    redis_keys.push_back(entry_key(ns, item.key));
  auto groups = group_by_slot(redis_keys, redis_.clustered());
  std::vector<std::vector<std::string>> call_keys, call_args;
  for (const auto& g : groups) {
    call_keys.emplace_back();
    auto& args = call_args.emplace_back();
    for (auto i : g) {
      call_keys.back().push_back(redis_keys[i]);
      args.push_back(std::to_string(items[i].version));
      args.push_back(std::to_string(items[i].ttl_ms));
      std::string error;
      if (!seal_value(ns, items[i].key, items[i].value, args, error))
        return done(fail(error_code::err, "cannot encrypt the value: " + error));
    }
  }
  auto written_count = std::make_shared<std::int64_t>(0);
  run_groups(
      redis_, "state_restore", true, std::move(call_keys), std::move(call_args),
      [written_count](std::size_t, redis_reply& reply) -> std::optional<failure> {
        if (reply.is_unavailable())
          return unanswered(reply, "this batch may be partly written: import it again");
        if (reply.kind != reply_kind::integer) return unexpected_reply(reply);
        *written_count += reply.integer;
        return std::nullopt;
      },
      [written_count, done = std::move(done)](std::optional<failure> f, bool) {
        if (f) return done(std::move(*f));
        done(tally{*written_count});
      });
}

} // namespace baton::state
