#include "indexer/reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sipdex {
namespace {

constexpr std::size_t kInputChunk = 1u << 20;  // compressed bytes read at a time

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// The compressed side of a reader: a file descriptor or a memory buffer.
class Input {
 public:
  static Result<Input> OpenFile(const std::string& path, const std::string& name) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return Status::NotFound(name + ": no such file");
      return Status::IoError(name + ": cannot open: " + ErrnoText(err));
    }
    Input in;
    in.fd_ = fd;
    return in;
  }
  // Bytes worth reading at a time: the whole buffer for small memory inputs.
  std::size_t ChunkSize() const { return fd_ >= 0 ? kInputChunk : std::max<std::size_t>(1, std::min(kInputChunk, mem_.size())); }
  static Input FromMemory(std::string_view data) {
    Input in;
    in.mem_ = data;
    return in;
  }
  Input() = default;
  Input(Input&& o) noexcept : fd_(o.fd_), mem_(o.mem_), mem_pos_(o.mem_pos_) { o.fd_ = -1; }
  Input& operator=(Input&& o) noexcept {
    std::swap(fd_, o.fd_);
    mem_ = o.mem_;
    mem_pos_ = o.mem_pos_;
    return *this;
  }
  ~Input() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Reads up to n bytes; 0 at the end.
  Result<std::size_t> Read(char* buf, std::size_t n, const std::string& name) {
    if (fd_ < 0) {
      std::size_t k = std::min(n, mem_.size() - mem_pos_);
      if (k > 0) std::memcpy(buf, mem_.data() + mem_pos_, k);
      mem_pos_ += k;
      return k;
    }
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno == EINTR) continue;
      return Status::IoError(name + ": read error: " + ErrnoText(errno));
    }
  }

 private:
  int fd_ = -1;
  std::string_view mem_;
  std::size_t mem_pos_ = 0;
};

class PlainReader final : public LogReader {
 public:
  PlainReader(std::string name, Input in) : LogReader(std::move(name)), in_(std::move(in)) {}
  Result<std::size_t> Read(char* buf, std::size_t n) override {
    if (done_ || n == 0) return std::size_t{0};
    Result<std::size_t> got = in_.Read(buf, n, name());
    if (!got.ok()) {
      done_ = true;
      return got.status();
    }
    if (*got == 0) done_ = true;
    consumed_ += *got;
    return *got;
  }
  std::uint64_t compressed_bytes() const override { return consumed_; }

 private:
  Input in_;
  std::uint64_t consumed_ = 0;
  bool done_ = false;
};

// Common shape of the streaming decoders: refill compressed input, decode,
// report an error only after the bytes decoded before it.
class StreamReader : public LogReader {
 public:
  Result<std::size_t> Read(char* buf, std::size_t n) override {
    if (!pending_error_.ok()) {
      Status s = std::move(pending_error_);
      pending_error_ = Status::Ok();
      done_ = true;
      return s;
    }
    if (done_ || n == 0) return std::size_t{0};
    std::size_t produced = 0;
    while (produced == 0) {
      if (in_pos_ == in_len_ && !in_eof_) {
        Result<std::size_t> got = in_.Read(in_buf_.data(), in_buf_.size(), name());
        if (!got.ok()) {
          done_ = true;
          return got.status();
        }
        in_pos_ = 0;
        in_len_ = *got;
        consumed_ += *got;
        if (*got == 0) in_eof_ = true;
      }
      Status s = Decode(buf, n, &produced);
      if (!s.ok()) {
        if (produced > 0) {
          pending_error_ = std::move(s);
          return produced;
        }
        done_ = true;
        return s;
      }
      if (produced == 0 && in_eof_ && in_pos_ == in_len_) {
        done_ = true;
        Status end = AtEnd();
        if (!end.ok()) return end;
        return std::size_t{0};
      }
    }
    return produced;
  }
  std::uint64_t compressed_bytes() const override { return consumed_; }

 protected:
  StreamReader(std::string name, Input in)
      : LogReader(std::move(name)), in_(std::move(in)), in_buf_(in_.ChunkSize()) {}
  // Decodes from in_buf_[in_pos_, in_len_) into buf; advances in_pos_.
  virtual Status Decode(char* buf, std::size_t n, std::size_t* produced) = 0;
  // Called once all input is consumed and nothing more comes out.
  virtual Status AtEnd() = 0;
  // Compressed offset of the next unread input byte.
  std::uint64_t InputOffset() const { return consumed_ - (in_len_ - in_pos_); }

  Input in_;
  std::vector<char> in_buf_;
  std::size_t in_pos_ = 0;
  std::size_t in_len_ = 0;
  bool in_eof_ = false;

 private:
  std::uint64_t consumed_ = 0;
  bool done_ = false;
  Status pending_error_;
};

class GzipReader final : public StreamReader {
 public:
  GzipReader(std::string name, Input in) : StreamReader(std::move(name), std::move(in)) {
    std::memset(&z_, 0, sizeof(z_));
    ok_ = inflateInit2(&z_, 15 + 32) == Z_OK;  // gzip or zlib header, detected
  }
  ~GzipReader() override {
    if (ok_) inflateEnd(&z_);
  }

 protected:
  Status Decode(char* buf, std::size_t n, std::size_t* produced) override {
    if (!ok_) return Status::ResourceExhausted(name() + ": cannot initialise zlib");
    while (*produced == 0 && in_pos_ < in_len_) {
      if (member_done_) {
        // Another gzip member follows (multi-member files, e.g. cat a.gz b.gz).
        if (inflateReset(&z_) != Z_OK) return Status::Corruption(name() + ": cannot restart zlib");
        member_done_ = false;
        in_member_ = false;
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_buf_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(std::min<std::size_t>(in_len_ - in_pos_, 1u << 30));
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
      uInt before_in = z_.avail_in;
      int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ += before_in - z_.avail_in;
      *produced = static_cast<std::size_t>(reinterpret_cast<char*>(z_.next_out) - buf);
      if (before_in != z_.avail_in) in_member_ = true;
      if (rc == Z_STREAM_END) {
        member_done_ = true;
        in_member_ = false;
      } else if (rc == Z_BUF_ERROR) {
        if (*produced == 0 && z_.avail_in != 0) break;
      } else if (rc != Z_OK) {
        const char* msg = z_.msg ? z_.msg : "invalid data";
        return Status::Corruption(name() + ": corrupt gzip data (" + msg + ", at compressed byte " +
                                  std::to_string(InputOffset()) + ")");
      }
    }
    return Status::Ok();
  }
  Status AtEnd() override {
    if (in_member_) {
      return Status::Corruption(name() + ": truncated gzip stream (at compressed byte " +
                                std::to_string(InputOffset()) + ")");
    }
    return Status::Ok();
  }

 private:
  z_stream z_;
  bool ok_ = false;
  bool member_done_ = false;
  bool in_member_ = false;
};

class ZstdReader final : public StreamReader {
 public:
  ZstdReader(std::string name, Input in) : StreamReader(std::move(name), std::move(in)), ds_(ZSTD_createDStream()) {
    if (ds_) ZSTD_initDStream(ds_);
  }
  ~ZstdReader() override { ZSTD_freeDStream(ds_); }

 protected:
  Status Decode(char* buf, std::size_t n, std::size_t* produced) override {
    if (ds_ == nullptr) return Status::ResourceExhausted(name() + ": cannot create a zstd stream");
    while (*produced == 0 && in_pos_ < in_len_) {
      ZSTD_inBuffer in{in_buf_.data() + in_pos_, in_len_ - in_pos_, 0};
      ZSTD_outBuffer out{buf, n, 0};
      std::size_t rc = ZSTD_decompressStream(ds_, &out, &in);
      in_pos_ += in.pos;
      *produced = out.pos;
      if (ZSTD_isError(rc)) {
        return Status::Corruption(name() + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ", at compressed byte " +
                                  std::to_string(InputOffset()) + ")");
      }
      last_hint_ = rc;
      if (in.pos == 0 && out.pos == 0) break;
    }
    // Flush what the decoder still holds without new input.
    if (*produced == 0 && in_eof_ && in_pos_ == in_len_ && last_hint_ != 0) {
      ZSTD_inBuffer in{nullptr, 0, 0};
      ZSTD_outBuffer out{buf, n, 0};
      std::size_t rc = ZSTD_decompressStream(ds_, &out, &in);
      if (ZSTD_isError(rc)) {
        return Status::Corruption(name() + ": corrupt zstd data (" + ZSTD_getErrorName(rc) + ")");
      }
      *produced = out.pos;
      if (out.pos > 0) last_hint_ = rc;
    }
    return Status::Ok();
  }
  Status AtEnd() override {
    if (last_hint_ != 0) {
      return Status::Corruption(name() + ": truncated zstd stream (at compressed byte " +
                                std::to_string(InputOffset()) + ")");
    }
    return Status::Ok();
  }

 private:
  ZSTD_DStream* ds_;
  std::size_t last_hint_ = 0;  // 0 when the last frame was complete
};

// Zip entries through libarchive. From a file: one named entry (by index).
// From memory: every regular entry, one after the other.
class ZipReader final : public LogReader {
 public:
  explicit ZipReader(std::string name) : LogReader(std::move(name)) {}
  ~ZipReader() override {
    if (a_) archive_read_free(a_);
  }

  Status OpenFile(const std::string& path, long entry_index) {
    a_ = archive_read_new();
    if (!a_) return Status::ResourceExhausted(name() + ": cannot create an archive reader");
    archive_read_support_format_zip(a_);
    if (archive_read_open_filename(a_, path.c_str(), 1 << 16) != ARCHIVE_OK) return ArchiveError("cannot open");
    all_entries_ = false;
    return SeekEntry(entry_index);
  }
  Status OpenMemory(std::string_view data) {
    a_ = archive_read_new();
    if (!a_) return Status::ResourceExhausted(name() + ": cannot create an archive reader");
    archive_read_support_format_zip(a_);
    if (archive_read_open_memory(a_, data.data(), data.size()) != ARCHIVE_OK) return ArchiveError("cannot open");
    all_entries_ = true;
    return NextRegularEntry();
  }

  Result<std::size_t> Read(char* buf, std::size_t n) override {
    while (!done_ && n > 0) {
      la_ssize_t got = archive_read_data(a_, buf, n);
      if (got < 0) {
        done_ = true;
        return ArchiveError("corrupt zip entry");
      }
      if (got > 0) return static_cast<std::size_t>(got);
      if (!all_entries_) {
        done_ = true;
        break;
      }
      Status s = NextRegularEntry();
      if (!s.ok()) {
        done_ = true;
        return s;
      }
    }
    return std::size_t{0};
  }
  std::uint64_t compressed_bytes() const override {
    return a_ ? static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_filter_bytes(a_, -1))) : 0;
  }

 private:
  Status ArchiveError(const char* what) {
    const char* msg = a_ ? archive_error_string(a_) : nullptr;
    return Status::Corruption(name() + ": " + what + (msg ? std::string(" (") + msg + ")" : std::string()));
  }
  Status SeekEntry(long index) {
    archive_entry* e = nullptr;
    for (long i = 0;; ++i) {
      int rc = archive_read_next_header(a_, &e);
      if (rc == ARCHIVE_EOF) return Status::NotFound(name() + ": entry not found in the archive");
      if (rc < ARCHIVE_WARN) return ArchiveError("corrupt zip archive");
      if (i == index) return Status::Ok();
    }
  }
  Status NextRegularEntry() {
    archive_entry* e = nullptr;
    for (;;) {
      int rc = archive_read_next_header(a_, &e);
      if (rc == ARCHIVE_EOF) {
        done_ = true;
        return Status::Ok();
      }
      if (rc < ARCHIVE_WARN) return ArchiveError("corrupt zip archive");
      if (archive_entry_filetype(e) == AE_IFREG) return Status::Ok();
    }
  }

  archive* a_ = nullptr;
  bool all_entries_ = false;
  bool done_ = false;
};

Result<std::unique_ptr<LogReader>> MakeReader(Input in, Compression c, std::string name) {
  switch (c) {
    case Compression::kNone: return std::unique_ptr<LogReader>(new PlainReader(std::move(name), std::move(in)));
    case Compression::kGzip: return std::unique_ptr<LogReader>(new GzipReader(std::move(name), std::move(in)));
    case Compression::kZstd: return std::unique_ptr<LogReader>(new ZstdReader(std::move(name), std::move(in)));
    case Compression::kZip: break;
  }
  return Status::InvalidArgument(name + ": zip archives are opened entry by entry");
}

// First bytes of a file, for DetectCompression.
Result<std::string> ReadHead(const std::string& path) {
  Result<Input> in = Input::OpenFile(path, path);
  if (!in.ok()) return in.status();
  std::string head(8, '\0');
  std::size_t have = 0;
  while (have < head.size()) {
    Result<std::size_t> got = in->Read(head.data() + have, head.size() - have, path);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    have += *got;
  }
  head.resize(have);
  return head;
}

Status ListZip(const std::string& path, std::uint64_t disk_size, std::vector<LogicalFile>* out) {
  archive* a = archive_read_new();
  if (!a) return Status::ResourceExhausted(path + ": cannot create an archive reader");
  archive_read_support_format_zip(a);
  Status status;
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* msg = archive_error_string(a);
    status = Status::Corruption(path + ": cannot open zip archive" + (msg ? std::string(" (") + msg + ")" : ""));
  } else {
    archive_entry* e = nullptr;
    for (long index = 0;; ++index) {
      int rc = archive_read_next_header(a, &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {
        const char* msg = archive_error_string(a);
        status = Status::Corruption(path + ": corrupt zip archive" + (msg ? std::string(" (") + msg + ")" : ""));
        break;
      }
      if (archive_entry_filetype(e) != AE_IFREG) continue;
      const char* entry = archive_entry_pathname(e);
      LogicalFile f;
      f.entry = entry ? entry : "";
      f.entry_index = index;
      f.name = path + "/" + f.entry;
      f.path = path;
      f.compression = Compression::kZip;
      f.disk_size = disk_size;
      out->push_back(std::move(f));
    }
  }
  archive_read_free(a);
  return status;
}

Status AddFile(const std::string& path, std::vector<LogicalFile>* out) {
  std::error_code ec;
  std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IoError(path + ": cannot read size: " + ec.message());
  Result<std::string> head = ReadHead(path);
  if (!head.ok()) return head.status();
  Compression c = DetectCompression(*head);
  if (c == Compression::kZip) return ListZip(path, size, out);
  LogicalFile f;
  f.name = path;
  f.path = path;
  f.compression = c;
  f.disk_size = size;
  out->push_back(std::move(f));
  return Status::Ok();
}

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kZip: return "zip";
  }
  return "unknown";
}

Compression DetectCompression(std::string_view head) {
  if (head.size() >= 2 && head[0] == '\x1f' && head[1] == '\x8b') return Compression::kGzip;
  if (head.size() >= 4 && head.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  if (head.size() >= 4 && (head.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
                           head.substr(0, 4) == std::string_view("PK\x05\x06", 4))) {
    return Compression::kZip;
  }
  return Compression::kNone;
}

bool LooksLikeLogName(std::string_view path) {
  std::string_view name = path.substr(path.find_last_of('/') + 1);
  size_t dot = name.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return true;
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext == "log" || ext == "txt" || ext == "gz" || ext == "zst" || ext == "zip";
}

Result<std::vector<LogicalFile>> ExpandInputs(const std::vector<std::string>& paths,
                                              std::vector<std::string>* warnings) {
  namespace fs = std::filesystem;
  std::vector<LogicalFile> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      if (ec && ec != std::errc::no_such_file_or_directory) {
        return Status::IoError(path + ": cannot access: " + ec.message());
      }
      return Status::NotFound(path + ": no such file or directory");
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> files;
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
      if (ec) return Status::IoError(path + ": cannot list folder: " + ec.message());
      for (fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) {
          if (warnings) warnings->push_back(path + ": cannot list part of the folder: " + ec.message());
          ec.clear();
          break;
        }
        std::error_code fec;
        if (it->is_directory(fec)) {
          // skip_permission_denied would skip an unreadable subfolder silently.
          if (::access(it->path().c_str(), R_OK | X_OK) != 0) {
            int err = errno;
            if (warnings) warnings->push_back(it->path().string() + ": cannot list folder: " + ErrnoText(err));
            it.disable_recursion_pending();
          }
          continue;
        }
        fec.clear();
        // Regular files, and symlinks whose target cannot be reached (they
        // fail when opened, so they are counted and named, not dropped).
        if (it->is_regular_file(fec) || (it->is_symlink() && !it->exists(fec))) files.push_back(it->path().string());
      }
      std::sort(files.begin(), files.end());
      // In a folder, only trace logs: other files (a ground-truth.json, a
      // README) are named in a warning, not read as junk records.
      std::vector<std::string> skipped;
      std::erase_if(files, [&](const std::string& f) {
        if (LooksLikeLogName(f)) return false;
        skipped.push_back(f);
        return true;
      });
      if (!skipped.empty() && warnings) {
        warnings->push_back(path + ": skipped " + std::to_string(skipped.size()) +
                            " file(s) that are not trace logs (.log .txt .gz .zst .zip, or no extension), e.g. " +
                            skipped.front());
      }
      for (const std::string& f : files) {
        Status s = AddFile(f, &out);
        if (!s.ok()) {
          if (!warnings) return s;
          LogicalFile bad;
          bad.name = f;
          bad.path = f;
          bad.open_error = s.message();
          out.push_back(std::move(bad));
        }
      }
    } else {
      SIPDEX_RETURN_IF_ERROR(AddFile(path, &out));
    }
  }
  return out;
}

Result<std::unique_ptr<LogReader>> OpenLogicalFile(const LogicalFile& file) {
  if (!file.open_error.empty()) return Status::IoError(file.open_error);
  if (file.compression == Compression::kZip) {
    auto zip = std::make_unique<ZipReader>(file.name);
    SIPDEX_RETURN_IF_ERROR(zip->OpenFile(file.path, file.entry_index));
    return std::unique_ptr<LogReader>(std::move(zip));
  }
  Result<Input> in = Input::OpenFile(file.path, file.name);
  if (!in.ok()) return in.status();
  return MakeReader(std::move(*in), file.compression, file.name);
}

Result<std::unique_ptr<LogReader>> OpenMemory(std::string_view data, Compression compression, std::string name) {
  if (compression == Compression::kZip) {
    auto zip = std::make_unique<ZipReader>(name);
    SIPDEX_RETURN_IF_ERROR(zip->OpenMemory(data));
    return std::unique_ptr<LogReader>(std::move(zip));
  }
  return MakeReader(Input::FromMemory(data), compression, std::move(name));
}

Status ReadAll(LogReader* reader, std::string* out) {
  std::size_t chunk = 1u << 16;
  for (;;) {
    std::size_t old = out->size();
    out->resize(old + chunk);
    Result<std::size_t> got = reader->Read(out->data() + old, chunk);
    if (!got.ok()) {
      out->resize(old);
      return got.status();
    }
    out->resize(old + *got);
    if (*got == 0) return Status::Ok();
    if (chunk < (1u << 22)) chunk *= 2;
  }
}

}  // namespace sipdex
