#pragma once
// Readers: the logical log files behind a list of paths, and a streaming
// reader for each (plain, .gz, .zst, .zip entries), so memory stays bounded
// whatever the file size.
//
// A *logical file* is what framing and storage see as one file: a plain or
// compressed file on disk, or one entry of a .zip archive, named
// "dir/archive.zip/entry.log". Entry names are names only: they are never used
// to build output paths.
//
// The format is recognised by its leading bytes (gzip 1F 8B, zstd 28 B5 2F FD,
// zip "PK\3\4" or an empty "PK\5\6" archive), not by the extension, so
// "FE01.log.gz", "FE01.gz" and a mis-named file all work.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sipdex {

enum class Compression : std::uint8_t { kNone = 0, kGzip = 1, kZstd = 2, kZip = 3 };
std::string_view CompressionName(Compression c);  // "none", "gzip", "zstd", "zip"

// Sniffs the format from the first bytes of a file (at least 4 when available).
Compression DetectCompression(std::string_view head);

struct LogicalFile {
  std::string name;        // shown to people and stored: "dir/FE01.log.gz", "dir/a.zip/FE01.log"
  std::string path;        // the file on disk
  std::string entry;       // the zip entry's name, "" unless compression == kZip
  long entry_index = -1;   // position of the entry in the archive (entry names may repeat)
  Compression compression = Compression::kNone;
  std::uint64_t disk_size = 0;  // bytes on disk (of the archive, for zip entries)
  // Set when the file was found in a folder but cannot be read (no
  // permission, a dangling symlink, a zip that cannot be listed): the file is
  // still listed so that it is counted and named like any unreadable input,
  // and OpenLogicalFile fails with this message.
  std::string open_error;
};

// Expands files and folders (recursively, in byte order of the names, so the
// result is deterministic) into logical files; zip archives are opened and
// listed, one LogicalFile per regular entry. Directories inside zips, and
// symlinks to directories, are skipped. A path named in `paths` that does not
// exist or cannot be read is an error naming it (IoError / NotFound); an
// unreadable zip is a Corruption naming it. Inside folders, when `warnings`
// is non-null, a log file that cannot be read (no permission, a dangling
// symlink, a zip that cannot be listed) does not stop the expansion: it is
// listed with LogicalFile::open_error set; a subfolder that cannot be listed
// is named in *warnings. With `warnings` null, the first such error is
// returned.
// Inside folders, only files named like trace logs are taken (see
// LooksLikeLogName); the others are named in one warning per folder. A file
// named on the command line is always taken.
Result<std::vector<LogicalFile>> ExpandInputs(const std::vector<std::string>& paths,
                                              std::vector<std::string>* warnings = nullptr);

// True for names ending in .log .txt .gz .zst .zip (any case), or without an
// extension ("FE01_20140716_1.log.gz", "trace"), false for "ground-truth.json".
bool LooksLikeLogName(std::string_view path);

// A stream of the decompressed bytes of one logical file.
class LogReader {
 public:
  virtual ~LogReader() = default;

  // Reads up to `n` bytes into `buf`. Returns the number of bytes read, 0 at
  // the end. When the input turns out to be truncated or corrupt, the bytes
  // that could be decoded are returned first; the next call returns a
  // Corruption status naming the file and the compressed offset, e.g.
  // "FE01.log.gz: truncated gzip stream (at compressed byte 1234)". After an
  // error the reader stays at the end (further calls return 0).
  // REQUIRES: buf != nullptr || n == 0.
  virtual Result<std::size_t> Read(char* buf, std::size_t n) = 0;

  // Compressed bytes consumed so far (equals the bytes read for plain files).
  virtual std::uint64_t compressed_bytes() const = 0;

  const std::string& name() const { return name_; }

 protected:
  explicit LogReader(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// Opens a logical file from ExpandInputs(). Errors name the file.
Result<std::unique_ptr<LogReader>> OpenLogicalFile(const LogicalFile& file);

// Opens compressed or plain bytes held in memory (tests, fuzzing). For
// kZip, the entries' contents are read one after the other (as if
// concatenated). `data` must outlive the reader.
Result<std::unique_ptr<LogReader>> OpenMemory(std::string_view data, Compression compression, std::string name);

// Reads a whole logical stream into *out (tests and small files). Returns the
// first error; *out then holds what was read before it.
Status ReadAll(LogReader* reader, std::string* out);

}  // namespace sipdex
