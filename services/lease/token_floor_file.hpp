// The highest fencing token this daemon has seen, kept in a file in the state directory so that
// a restarted daemon still grants above it (model/lease/token_floor.hpp says why). One small
// file per node id, replaced atomically (write a temporary, fsync, rename, fsync the directory):
// a crash leaves the old value or the new one, never a torn one.
#pragma once

#include <cstdint>
#include <string>

namespace baton::lease {

class token_floor_file {
public:
  /// `path` empty: nothing is kept (load gives 0, save does nothing).
  explicit token_floor_file(std::string path) : path_(std::move(path)) {}

  /// The state directory's file for `node_id`: "<dir>/token-floor.<node_id>"; empty if `dir` is.
  static std::string path_in(const std::string& dir, const std::string& node_id);

  /// The kept value; 0 when there is none yet. A file that cannot be read or holds no number
  /// gives 0 and says why in `problem` (the daemon warns and goes on with its clock as floor).
  std::int64_t load(std::string& problem) const;
  /// Replaces the kept value; false with `problem` when it could not be made durable.
  bool save(std::int64_t value, std::string& problem) const;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace baton::lease
