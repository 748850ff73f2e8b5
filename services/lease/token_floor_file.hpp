// The highest fencing token this daemon has seen, kept in a file in the state directory so that
// a restarted daemon still grants above it (model/lease/token_floor.hpp says why). One small
// file per node id, replaced atomically (write a temporary, rename): a crashed daemon leaves
// the old value or the new one, never a torn one. The writes while the daemon runs skip fsync
// (they run on the reactor thread, once a second at most, and a process crash keeps what the
// kernel was given); the one at a clean stop syncs the file and the directory, so that it also
// survives the host losing power. After a power loss the file may hold an older value or none,
// and the clock floor is what is left.
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
  /// Replaces the kept value; false with `problem` when it could not. `durable`: fsync the
  /// file and its directory before returning.
  bool save(std::int64_t value, std::string& problem, bool durable = true) const;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace baton::lease
