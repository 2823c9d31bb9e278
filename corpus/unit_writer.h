#pragma once
// Writes one server-day of traces (one "unit": SERVER_YYYYMMDD_1.log, _2, ...)
// from its own random stream, and accumulates that unit's ground truth. Units
// share nothing but the read-only Deployment, so they run on any thread in any
// order and still give identical bytes.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "corpus/ground_truth.h"
#include "corpus/model.h"

namespace sipdex::corpus {

// Bad input placed in a unit at fixed positions (on top of the random rate).
struct ForcedBad {
  bool truncated_at_end = false;
  bool header_line = false;
  bool sip_line = false;
  bool binary = false;
  bool bad_time = false;
  bool long_line = false;
  bool junk_at_start = false;
  bool empty_file = false;
  bool bom = false;   // not bad input: the format allows it; forced so small corpora have one
  bool gz = false;    // likewise, a gzip-compressed first part
};

struct UnitPlan {
  int index = 0;                 // position in the plan: merge order of ground truths
  int server = 0;                // index into Deployment::servers; -1 for the foreign look-alike file
  int day = 0;                   // day index from Deployment::start
  std::uint64_t seed = 0;        // derived from (corpus seed, server, day)
  std::uint64_t budget = 0;      // decompressed bytes to write (the last record may pass it)
  std::uint64_t roll_bytes = 0;  // start the next _N file after this many bytes
  double bad_rate = 1.0;         // multiplier of the per-record bad-input probabilities
  double sequence_rate = 0.0;    // multiplier of the injected sequence patterns (0: none, the default bytes)
  ForcedBad forced;
};

// Generates the unit's files into `out_dir` and adds its ground truth to
// `truth` (which must start empty for this unit). Returns IoError when a file
// cannot be written.
Status WriteUnit(const Deployment& d, const UnitPlan& plan, const std::string& out_dir, GroundTruth* truth);

}  // namespace sipdex::corpus
