#include "indexer/reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/indexer/fixture_util.h"

using namespace sipdex;
namespace fs = std::filesystem;

namespace {

// A fresh temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sipdex-reader-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const std::string& path, std::string_view bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string Gzip(std::string_view bytes) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(std::string_view bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  std::string out(1 << 22, '\0');
  std::size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  for (const auto& [name, body] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a, body.data(), body.size()) == static_cast<la_ssize_t>(body.size()));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

std::string ReadLogical(const LogicalFile& f, Status* status) {
  Result<std::unique_ptr<LogReader>> r = OpenLogicalFile(f);
  if (!r.ok()) {
    *status = r.status();
    return "";
  }
  std::string out;
  *status = ReadAll(r->get(), &out);
  return out;
}

std::string Seed() { return sipdex::testing::ReadFixture("seed_records.log"); }

}  // namespace

TEST_CASE("Compression is recognised from the leading bytes", "[indexer][reader]") {
  REQUIRE(DetectCompression("\x1f\x8b\x08") == Compression::kGzip);
  REQUIRE(DetectCompression(std::string_view("\x28\xb5\x2f\xfd", 4)) == Compression::kZstd);
  REQUIRE(DetectCompression(std::string_view("PK\x03\x04", 4)) == Compression::kZip);
  REQUIRE(DetectCompression("TL_INFO") == Compression::kNone);
  REQUIRE(DetectCompression("") == Compression::kNone);
  REQUIRE(CompressionName(Compression::kZstd) == "zstd");
}

TEST_CASE("Plain, gzip, multi-member gzip, zstd and zip entries read back the same bytes", "[indexer][reader]") {
  TempDir dir;
  std::string seed = Seed();
  std::string half = seed.substr(0, 500);
  WriteFile(dir.Path("a/plain.log"), seed);
  WriteFile(dir.Path("a/one.log.gz"), Gzip(seed));
  WriteFile(dir.Path("a/multi.gz"), Gzip(half) + Gzip(seed.substr(500)));
  WriteFile(dir.Path("b/FE01.log.zst"), Zstd(seed));
  WriteFile(dir.Path("b/night.zip"), Zip({{"FE01_20140716_1.log", seed}, {"dir/", ""}, {"FE02_20140716_1.log", half}}));

  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir.path().string()}, &warnings);
  REQUIRE(files.ok());
  REQUIRE(warnings.empty());
  std::vector<std::string> names;
  for (const LogicalFile& f : *files) names.push_back(fs::path(f.name).lexically_relative(dir.path()).string());
  REQUIRE(names == std::vector<std::string>{"a/multi.gz", "a/one.log.gz", "a/plain.log", "b/FE01.log.zst",
                                            "b/night.zip/FE01_20140716_1.log", "b/night.zip/FE02_20140716_1.log"});
  REQUIRE((*files)[0].compression == Compression::kGzip);
  REQUIRE((*files)[3].compression == Compression::kZstd);
  REQUIRE((*files)[4].compression == Compression::kZip);
  REQUIRE((*files)[4].entry == "FE01_20140716_1.log");
  const std::vector<std::string> expect = {seed, seed, seed, seed, seed, half};
  for (std::size_t i = 0; i < files->size(); ++i) {
    INFO(names[i]);
    Status s;
    REQUIRE(ReadLogical((*files)[i], &s) == expect[i]);
    REQUIRE(s.ok());
  }
}

TEST_CASE("Small reads stream a gzip file without losing bytes", "[indexer][reader]") {
  std::string seed = Seed();
  std::string gz = Gzip(seed);
  Result<std::unique_ptr<LogReader>> r = OpenMemory(gz, Compression::kGzip, "mem.gz");
  REQUIRE(r.ok());
  std::string out;
  char buf[7];
  for (;;) {
    Result<std::size_t> got = (*r)->Read(buf, sizeof(buf));
    REQUIRE(got.ok());
    if (*got == 0) break;
    out.append(buf, *got);
  }
  REQUIRE(out == seed);
  REQUIRE((*r)->compressed_bytes() == gz.size());
}

TEST_CASE("A truncated gzip file yields what could be read, then a named error", "[indexer][reader]") {
  std::string seed = Seed();
  std::string gz = Gzip(seed + seed + seed);
  std::string cut = gz.substr(0, gz.size() * 2 / 3);
  Result<std::unique_ptr<LogReader>> r = OpenMemory(cut, Compression::kGzip, "FE01.log.gz");
  REQUIRE(r.ok());
  std::string out;
  Status s = ReadAll(r->get(), &out);
  REQUIRE(s.code() == Status::Code::kCorruption);
  REQUIRE(s.message().rfind("FE01.log.gz: truncated gzip stream (at compressed byte ", 0) == 0);
  REQUIRE(out.size() > 0);
  REQUIRE(out == (seed + seed + seed).substr(0, out.size()));
  Result<std::size_t> again = (*r)->Read(&out[0], 1);
  REQUIRE(again.ok());
  REQUIRE(*again == 0);
}

TEST_CASE("A corrupt gzip file yields the bytes before the damage and a corruption error", "[indexer][reader]") {
  std::string seed = Seed();
  std::string gz = Gzip(seed);
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0x55;
  Result<std::unique_ptr<LogReader>> r = OpenMemory(gz, Compression::kGzip, "bad.gz");
  REQUIRE(r.ok());
  std::string out;
  Status s = ReadAll(r->get(), &out);
  REQUIRE_FALSE(s.ok());
  // Deflate has no per-block checksum: bytes before the detected damage may
  // already be wrong; what matters is that the damage is reported, named.
  REQUIRE(s.message().rfind("bad.gz: corrupt gzip data (", 0) == 0);
}

TEST_CASE("A truncated zstd file is reported with its name", "[indexer][reader]") {
  std::string seed = Seed();
  std::string zst = Zstd(seed);
  std::string cut = zst.substr(0, zst.size() - 10);
  Result<std::unique_ptr<LogReader>> r = OpenMemory(cut, Compression::kZstd, "FE01.log.zst");
  REQUIRE(r.ok());
  std::string out;
  Status s = ReadAll(r->get(), &out);
  REQUIRE(s.code() == Status::Code::kCorruption);
  REQUIRE(s.message().rfind("FE01.log.zst: truncated zstd stream", 0) == 0);
}

TEST_CASE("Garbage that claims to be zstd is a corruption error, not a crash", "[indexer][reader]") {
  std::string bad("\x28\xb5\x2f\xfd\xff\xff\xff\xff\xff\xff\xff\xff", 12);
  Result<std::unique_ptr<LogReader>> r = OpenMemory(bad, Compression::kZstd, "x.zst");
  REQUIRE(r.ok());
  std::string out;
  Status s = ReadAll(r->get(), &out);
  REQUIRE(s.code() == Status::Code::kCorruption);
  REQUIRE(s.message().rfind("x.zst: ", 0) == 0);
}

TEST_CASE("Zip entries read from memory come one after the other", "[indexer][reader]") {
  std::string zip = Zip({{"a.log", "first\n"}, {"b.log", "second\n"}});
  Result<std::unique_ptr<LogReader>> r = OpenMemory(zip, Compression::kZip, "mem.zip");
  REQUIRE(r.ok());
  std::string out;
  REQUIRE(ReadAll(r->get(), &out).ok());
  REQUIRE(out == "first\nsecond\n");
}

TEST_CASE("A corrupt zip archive is a named error", "[indexer][reader]") {
  TempDir dir;
  std::string zip = Zip({{"a.log", std::string(5000, 'a')}});
  WriteFile(dir.Path("broken.zip"), zip.substr(0, 40));
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir.Path("broken.zip")});
  if (files.ok()) {
    // libarchive may list the entry from its local header; reading it must fail.
    REQUIRE(files->size() == 1);
    Status s;
    ReadLogical(files->front(), &s);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("broken.zip") != std::string::npos);
  } else {
    REQUIRE(files.status().message().find("broken.zip") != std::string::npos);
  }
}

TEST_CASE("A missing path is an error naming it", "[indexer][reader]") {
  Result<std::vector<LogicalFile>> files = ExpandInputs({"/nonexistent/sipdex/FE01.log"});
  REQUIRE_FALSE(files.ok());
  REQUIRE(files.status().code() == Status::Code::kNotFound);
  REQUIRE(files.status().message() == "/nonexistent/sipdex/FE01.log: no such file or directory");
}

TEST_CASE("Folders are expanded recursively in sorted order", "[indexer][reader]") {
  TempDir dir;
  for (const char* name : {"z.log", "a/b/c.log", "a/a.log", "m.txt"}) WriteFile(dir.Path(name), "x\n");
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir.path().string()});
  REQUIRE(files.ok());
  std::vector<std::string> names;
  for (const LogicalFile& f : *files) names.push_back(fs::path(f.name).lexically_relative(dir.path()).string());
  REQUIRE(names == std::vector<std::string>{"a/a.log", "a/b/c.log", "m.txt", "z.log"});
}

TEST_CASE("A folder walk takes trace logs and names the other files it skipped", "[indexer][reader]") {
  TempDir dir;
  WriteFile(dir.Path("FE01_20140716_1.log"), "x");
  WriteFile(dir.Path("FE01_20140716_2.LOG.GZ"), Gzip("x"));
  WriteFile(dir.Path("trace"), "x");
  WriteFile(dir.Path("ground-truth.json"), "{}");
  WriteFile(dir.Path("notes.md"), "#");
  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs({dir.path().string()}, &warnings);
  REQUIRE(files.ok());
  std::vector<std::string> names;
  for (const LogicalFile& f : *files) names.push_back(fs::path(f.name).filename().string());
  REQUIRE(names == std::vector<std::string>{"FE01_20140716_1.log", "FE01_20140716_2.LOG.GZ", "trace"});
  REQUIRE(warnings.size() == 1);
  REQUIRE(warnings[0] == dir.path().string() + ": skipped 2 file(s) that are not trace logs (.log .txt .gz .zst "
                                               ".zip, or no extension), e.g. " + dir.Path("ground-truth.json"));
  // Named on the command line, any file is read.
  Result<std::vector<LogicalFile>> one = ExpandInputs({dir.Path("ground-truth.json")});
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
}
