// libFuzzer target: the gzip, zstd and zip readers over arbitrary bytes held
// in memory. The first byte picks the format (so the fuzzer can reach each
// decoder with well-formed headers from the seed corpus); the rest is the
// compressed stream. Reads use small, varying buffer sizes. A reader must
// never crash, never return more bytes than asked, and must stay at the end
// after it reported an error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "indexer/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  sipdex::Compression c;
  switch (data[0] % 4) {
    case 0: c = sipdex::Compression::kGzip; break;
    case 1: c = sipdex::Compression::kZstd; break;
    case 2: c = sipdex::Compression::kZip; break;
    default: c = sipdex::DetectCompression(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1)); break;
  }
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  sipdex::Result<std::unique_ptr<sipdex::LogReader>> reader = sipdex::OpenMemory(body, c, "fuzz");
  if (!reader.ok()) return 0;
  char buf[4096];
  std::size_t ask = 1;
  std::uint64_t total = 0;
  for (int i = 0; i < 1 << 16; ++i) {
    sipdex::Result<std::size_t> got = (*reader)->Read(buf, ask);
    if (!got.ok()) {
      if ((*reader)->name() != "fuzz") std::abort();
      sipdex::Result<std::size_t> after = (*reader)->Read(buf, sizeof(buf));
      if (!after.ok() || *after != 0) std::abort();
      break;
    }
    if (*got > ask) std::abort();
    if (*got == 0) break;
    total += *got;
    if (total > (64u << 20)) break;  // decompression bombs: stop, bounded
    ask = ask * 3 % sizeof(buf) + 1;
  }
  return 0;
}
