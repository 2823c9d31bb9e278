#include "corpus/generator.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "corpus/rng.h"
#include "corpus/unit_writer.h"

namespace sipdex::corpus {

std::optional<std::uint64_t> ParseSize(std::string_view s) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return std::nullopt;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (n > (~0ull) / 10 - 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(s[i++] - '0');
  }
  std::string unit;
  for (; i < s.size(); ++i) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB" || unit == "K") mult = 1000;
  else if (unit == "MB" || unit == "M") mult = 1000 * 1000;
  else if (unit == "GB" || unit == "G") mult = 1000ull * 1000 * 1000;
  else if (unit == "KIB") mult = 1024;
  else if (unit == "MIB") mult = 1024 * 1024;
  else if (unit == "GIB") mult = 1024ull * 1024 * 1024;
  else return std::nullopt;
  if (n > (~0ull) / mult) return std::nullopt;
  return n * mult;
}

namespace {

std::vector<UnitPlan> Plan(const GenOptions& o, const Deployment& d) {
  std::vector<UnitPlan> units;
  double total_weight = 0;
  for (int day = 0; day < o.days; ++day) {
    int dow = static_cast<int>(((d.start / kMsPerDay) + day + 3) % 7);
    double dw = dow >= 5 ? 0.3 : 1.0;
    for (std::size_t s = 0; s < d.servers.size(); ++s) total_weight += dw * d.servers[s].weight;
  }
  int index = 0;
  for (int day = 0; day < o.days; ++day) {
    int dow = static_cast<int>(((d.start / kMsPerDay) + day + 3) % 7);
    double dw = dow >= 5 ? 0.3 : 1.0;
    for (std::size_t s = 0; s < d.servers.size(); ++s) {
      UnitPlan u;
      u.index = index++;
      u.server = static_cast<int>(s);
      u.day = day;
      u.seed = DeriveSeed(o.seed, s + 1, static_cast<std::uint64_t>(day) + 1);
      u.budget = static_cast<std::uint64_t>(static_cast<double>(o.size_bytes) * dw * d.servers[s].weight /
                                            total_weight);
      u.budget = std::max<std::uint64_t>(u.budget, 4096);
      u.roll_bytes = o.roll_bytes;
      u.bad_rate = o.bad_rate;
      u.sequence_rate = o.sequence_rate;
      units.push_back(u);
    }
  }
  // Every kind of bad input appears at least once, in the first Front End's first day.
  ForcedBad& f = units[0].forced;
  f.truncated_at_end = f.header_line = f.sip_line = f.binary = f.bad_time = f.long_line = f.junk_at_start = f.empty_file = true;
  // A BOM and a gzip file in the second and third unit (any size of corpus has both).
  if (units.size() > 1) units[1].forced.bom = true;
  if (units.size() > 2) units[2].forced.gz = true;
  // One foreign look-alike file, on a day drawn from the seed.
  UnitPlan foreign;
  foreign.index = index++;
  foreign.server = -1;
  Rng rng(DeriveSeed(o.seed, 0x666f726569676eull));
  foreign.day = static_cast<int>(rng.Below(static_cast<std::uint32_t>(o.days)));
  foreign.seed = DeriveSeed(o.seed, 0, static_cast<std::uint64_t>(foreign.day) + 1, 7);
  units.push_back(foreign);
  return units;
}

}  // namespace

Result<GenResult> GenerateCorpus(const GenOptions& o) {
  if (o.days < 1 || o.days > 62) return Status::InvalidArgument("--days must be between 1 and 62");
  if (o.size_bytes < 64 * 1024) return Status::InvalidArgument("--size must be at least 64KB");
  if (o.roll_bytes < 64 * 1024) return Status::InvalidArgument("--roll-size must be at least 64KB");
  if (o.bad_rate < 0 || o.bad_rate > 1000) return Status::InvalidArgument("--bad-rate must be between 0 and 1000");
  if (o.sequence_rate < 0 || o.sequence_rate > 10) {
    return Status::InvalidArgument("--sequence-rate must be between 0 and 10");
  }
  if (o.out_dir.empty()) return Status::InvalidArgument("--out is required");
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Status::IoError("cannot create " + o.out_dir + ": " + ec.message());

  GenResult result;
  result.deployment = BuildDeployment(o.seed, o.start, o.days);
  std::vector<UnitPlan> plan = Plan(o, result.deployment);
  std::vector<GroundTruth> truths(plan.size());
  std::vector<Status> statuses(plan.size());

  // Largest units first, so the threads finish together; output does not depend on this order.
  std::vector<int> order(plan.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return plan[a].budget > plan[b].budget; });
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (;;) {
      std::size_t i = next.fetch_add(1);
      if (i >= order.size()) return;
      int u = order[i];
      statuses[u] = WriteUnit(result.deployment, plan[u], o.out_dir, &truths[u]);
    }
  };
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(plan.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const Status& s : statuses) {
    if (!s.ok()) return s;
  }
  for (const GroundTruth& t : truths) result.truth.Merge(t);

  std::string path = o.out_dir + "/ground-truth.json";
  nlohmann::json j = result.truth.ToJson(result.deployment);
  j["generator"] = {{"seed", o.seed},
                    {"size_requested", o.size_bytes},
                    {"days", o.days},
                    {"start", FormatDate(o.start)},
                    {"roll_bytes", o.roll_bytes},
                    {"bad_rate", o.bad_rate},
                    {"sequence_rate", o.sequence_rate}};
  std::string text = j.dump(1);
  text += '\n';
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IoError("cannot create " + path);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return Status::IoError("cannot write " + path);
  return result;
}

}  // namespace sipdex::corpus
