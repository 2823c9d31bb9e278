// sipdex-gen: writes a realistic Lync / Skype for Business trace corpus with its
// ground truth. Exit codes: 0 ok, 1 write failure, 2 usage error.
//
//   sipdex-gen --size 2GB --seed 7 --out DIR [--days 14] [--start 2014-07-07]

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "corpus/generator.h"

int main(int argc, char** argv) {
  using sipdex::corpus::GenOptions;
  CLI::App app{"sipdex-gen: generate a Lync / Skype for Business SIP trace corpus with exact ground truth"};
  std::string size = "200MB", start = "2014-07-07", roll = "10MB", out;
  GenOptions o;
  app.add_option("--size", size, "approximate decompressed size (200MB, 2GB, 1GiB)")->capture_default_str();
  app.add_option("--seed", o.seed, "random seed: same seed and options, same bytes")->capture_default_str();
  app.add_option("--out", out, "output folder (created if missing)")->required();
  app.add_option("--days", o.days, "number of days (1-62)")->capture_default_str();
  app.add_option("--start", start, "first day (UTC), YYYY-MM-DD")->capture_default_str();
  app.add_option("--roll-size", roll, "roll a server's daily file to _2, _3 past this size")->capture_default_str();
  app.add_option("--bad-rate", o.bad_rate, "multiplier of the bad-input rates (0: only one of each kind)")
      ->capture_default_str();
  app.add_option("--sequence-rate", o.sequence_rate,
                 "multiplier of the injected sequence patterns (retries, unanswered INVITEs, REGISTER 401 only)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "worker threads (0: one per core); never changes the output")
      ->capture_default_str();
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  auto bytes = sipdex::corpus::ParseSize(size);
  auto roll_bytes = sipdex::corpus::ParseSize(roll);
  auto start_time = sipdex::ParseIsoTime(start);
  if (!bytes || !roll_bytes) {
    std::fprintf(stderr, "error: cannot read size '%s'\n", (!bytes ? size : roll).c_str());
    return 2;
  }
  if (!start_time || *start_time % sipdex::kMsPerDay != 0) {
    std::fprintf(stderr, "error: --start takes a date like 2014-07-07, got '%s'\n", start.c_str());
    return 2;
  }
  o.size_bytes = *bytes;
  o.roll_bytes = *roll_bytes;
  o.start = *start_time;
  o.out_dir = out;
  auto t0 = std::chrono::steady_clock::now();
  auto result = sipdex::corpus::GenerateCorpus(o);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().ToString().c_str());
    return result.status().code() == sipdex::Status::Code::kInvalidArgument ? 2 : 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& t = result->truth;
  if (!quiet) {
    std::uint64_t total = t.TotalBytes();
    auto refused = t.TotalRefusals();
    std::printf("wrote %zu files, %llu bytes, %llu records in %.2f s (%.0f MB/s)\n", t.files.size(),
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(t.TotalRecords()), secs,
                static_cast<double>(total) / 1e6 / secs);
    std::printf("refusals: %llu single, %llu batch, %llu notify; %zu stuck; %zu malformed; ground truth in %s/ground-truth.json\n",
                static_cast<unsigned long long>(refused.single), static_cast<unsigned long long>(refused.batch),
                static_cast<unsigned long long>(refused.notify), t.stuck_call_ids.size(), t.bad_records.size(),
                out.c_str());
  }
  return 0;
}
