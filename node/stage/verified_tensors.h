// A node's own model copy is checked tensor by tensor against the coordinator's manifest
// before use. Hashing a multi-GB file takes seconds, so the tensors found good are
// remembered on disk, keyed by the file's identity (device, inode, size, modification and
// status-change times): a restarted node with the same file does not hash it again, and
// any change to the file (which moves its change time) forgets them.
#pragma once

#include <string>

#include "node/stage/manifest_check.h"

namespace baton {

class VerifiedTensors {
 public:
  // What the cache under `cache_dir` remembers for the file at `model_path` (nothing when
  // the file changed, the record is missing or unreadable). Throws when the model file
  // cannot be stat'ed.
  static VerifiedTensors load(const std::string& cache_dir, const std::string& model_path);

  KnownTensorHashes& known() { return known_; }
  // Writes the record atomically; a failure only costs hashing again next time (logged).
  void save() const;

 private:
  std::string record_path_;
  KnownTensorHashes known_;
};

}  // namespace baton
