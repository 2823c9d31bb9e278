// facts_bench INDEX: the facts of every segment of an index against reading
// and parsing the records (what a query needing only fact fields did before
// format 3), and what each facts column costs.
//
// Prints, for all segments: CPU and wall time of ReadSegmentFacts, and of
// ReadSegment + Parse; per facts column its bytes and the bytes of its own
// zstd frame (level 9), largest first; the whole facts at zstd levels 3, 9,
// 19; and the Call-ID references as they are stored (dictionary ids) against
// a distance back to the previous record with the same Call-ID.

#include <sys/resource.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "indexer/ingest.h"
#include "storage/coding.h"
#include "storage/facts.h"
#include "storage/index.h"

using namespace sipdex;
using namespace sipdex::storage;

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::size_t ZstdSize(std::string_view in, int level) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  return ZSTD_isError(n) ? 0 : n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: facts_bench INDEX\n");
    return 2;
  }
  IndexOptions io;
  io.read_only = true;
  io.parser = MakeRecordParser();
  auto index = Index::Open(argv[1], io);
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().message().c_str());
    return 1;
  }
  auto snap = (*index)->Snapshot();
  if (!snap.ok()) {
    std::fprintf(stderr, "%s\n", snap.status().message().c_str());
    return 1;
  }
  const IndexSnapshot& s = **snap;
  std::uint64_t records = 0, sum = 0;
  double c0 = CpuSeconds(), w0 = WallSeconds();
  for (const SegmentInfo& seg : s.time_map()) {
    Status st = s.ReadSegmentFacts(seg.first_id, [&](const StoredRecord&, const Record& r) {
      ++records;
      sum += static_cast<std::uint64_t>(r.status + 1) + r.diagnostics.size() + r.call_id.size();
    });
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
  }
  double facts_cpu = CpuSeconds() - c0, facts_wall = WallSeconds() - w0;
  std::printf("ReadSegmentFacts, %zu segments, %llu records: %.3f s CPU, %.3f s wall (checksum %llu)\n",
              s.time_map().size(), static_cast<unsigned long long>(records), facts_cpu, facts_wall,
              static_cast<unsigned long long>(sum));

  Record parsed;
  records = 0;
  sum = 0;
  c0 = CpuSeconds();
  w0 = WallSeconds();
  for (const SegmentInfo& seg : s.time_map()) {
    Status st = s.ReadSegment(seg.first_id, [&](const StoredRecord& r) {
      (void)s.Parse(r, &parsed);
      ++records;
      sum += static_cast<std::uint64_t>(parsed.status + 1) + parsed.diagnostics.size() + parsed.call_id.size();
    });
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
  }
  double parse_cpu = CpuSeconds() - c0, parse_wall = WallSeconds() - w0;
  std::printf("ReadSegment + Parse, same records:      %.3f s CPU, %.3f s wall (checksum %llu)\n", parse_cpu,
              parse_wall, static_cast<unsigned long long>(sum));
  std::printf("ratio: %.1fx CPU, %.1fx wall\n", parse_cpu / facts_cpu, parse_wall / facts_wall);

  // Column costs: the facts re-encoded from the parsed records (the same bytes
  // ingest stored), each column alone at level 9.
  FactsEncoder encoder;
  std::vector<FactsColumnSize> sizes;
  std::uint64_t raw = 0, z3 = 0, z9 = 0, z19 = 0, dict_refs = 0, distance_refs = 0;
  std::string facts;
  for (const SegmentInfo& seg : s.time_map()) {
    std::string refs_dict, refs_distance;
    std::unordered_map<std::string, std::pair<std::uint32_t, std::uint32_t>> seen;  // id, last record
    std::uint32_t i = 0;
    Status st = s.ReadSegment(seg.first_id, [&](const StoredRecord& r) {
      (void)s.Parse(r, &parsed);
      encoder.Add(parsed);
      std::string_view call = parsed.call_id.empty() ? parsed.sip_call_id : parsed.call_id;
      if (call.empty()) {
        refs_dict.push_back('\0');
        refs_distance.push_back('\0');
      } else {
        auto [it, fresh] = seen.try_emplace(std::string(call), static_cast<std::uint32_t>(seen.size() + 1), i);
        PutVarint64(&refs_dict, it->second.first);
        PutVarint64(&refs_distance, fresh ? 1 : 2 + (i - it->second.second));
        it->second.second = i;
      }
      ++i;
    });
    if (!st.ok()) return 1;
    facts.clear();
    encoder.Finish(&facts);
    raw += facts.size();
    z3 += ZstdSize(facts, 3);
    z9 += ZstdSize(facts, 9);
    z19 += ZstdSize(facts, 19);
    dict_refs += ZstdSize(refs_dict, 9);
    distance_refs += ZstdSize(refs_distance, 9);
    if (!AddFactsColumnSizes(facts, 9, &sizes).ok()) return 1;
  }
  std::printf("facts: %llu bytes raw; zstd -3 %llu, -9 %llu (stored), -19 %llu\n",
              static_cast<unsigned long long>(raw), static_cast<unsigned long long>(z3),
              static_cast<unsigned long long>(z9), static_cast<unsigned long long>(z19));
  std::sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.zstd_bytes > b.zstd_bytes; });
  std::printf("%-16s %12s %12s %12s\n", "column", "raw", "dictionary", "zstd -9 alone");
  for (const FactsColumnSize& c : sizes) {
    std::printf("%-16s %12llu %12llu %12llu\n", std::string(c.name).c_str(),
                static_cast<unsigned long long>(c.raw_bytes), static_cast<unsigned long long>(c.dictionary_bytes),
                static_cast<unsigned long long>(c.zstd_bytes));
  }
  std::printf("call_id references, zstd -9: dictionary ids %llu, distance to the previous same value %llu\n",
              static_cast<unsigned long long>(dict_refs), static_cast<unsigned long long>(distance_refs));
  return 0;
}
