#pragma once
// sipdex-gen's engine: plans a corpus (one unit per server and day, sized by
// server role and weekday), writes the units on a pool of threads, merges
// their ground truths in plan order and writes DIR/ground-truth.json.
//
// Determinism: the plan and every unit depend only on (seed, size, days,
// start, roll size, bad rate); the thread count changes nothing in the output.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "corpus/ground_truth.h"
#include "corpus/model.h"

namespace sipdex::corpus {

struct GenOptions {
  std::uint64_t size_bytes = 64ull << 20;  // approximate decompressed size of the corpus
  std::uint64_t seed = 1;
  int days = 14;                           // 1..62
  TimeMs start = 0;                        // first day, 00:00 UTC (2014-07-07 by default)
  std::uint64_t roll_bytes = 10ull << 20;  // roll SERVER_YYYYMMDD_n.log to _n+1 past this size
  double bad_rate = 1.0;                   // multiplier of the bad-input rates (0 = only the forced ones)
  double sequence_rate = 0.0;              // multiplier of the injected sequence patterns (README); 0 = none
  int threads = 0;                         // 0 = hardware concurrency
  std::string out_dir;
};

struct GenResult {
  GroundTruth truth;
  Deployment deployment;
};

// Writes the corpus and DIR/ground-truth.json. REQUIRES: out_dir exists or can
// be created. Returns InvalidArgument for bad options, IoError when writing fails.
Result<GenResult> GenerateCorpus(const GenOptions& options);

// "2GB", "200MB", "512KiB", "1000000" (bytes); decimal units are powers of 1000,
// binary units (KiB, MiB, GiB) of 1024. nullopt when unreadable.
std::optional<std::uint64_t> ParseSize(std::string_view s);

}  // namespace sipdex::corpus
