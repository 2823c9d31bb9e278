#include "indexer/ingest.h"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"

namespace sipdex {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadChunk = 1u << 20;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Runs jobs on worker threads; results are collected by sequence number.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> l(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

struct SegmentResult {
  storage::EncodedSegment segment;
  std::vector<std::pair<int, std::uint32_t>> examples;  // (malformed bit, line)
};

// Ordered hand-back of finished segments.
class ResultQueue {
 public:
  void Put(std::uint64_t seq, SegmentResult r) {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_.emplace(seq, std::move(r));
    }
    cv_.notify_all();
  }
  // Blocks until result `seq` is ready.
  SegmentResult Take(std::uint64_t seq) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_.count(seq) > 0; });
    SegmentResult r = std::move(done_[seq]);
    done_.erase(seq);
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, SegmentResult> done_;
};

class Progress {
 public:
  Progress(bool on, std::uint64_t total) : on_(on), total_(total), start_(Clock::now()) {}
  void Update(std::uint64_t done, std::string_view name) {
    if (!on_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double secs = Since(start_);
    double mbps = secs > 0 ? static_cast<double>(done) / 1e6 / secs : 0;
    double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 0;
    int width = 30;
    int fill = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(fill), '=');
    bar.resize(static_cast<std::size_t>(width), ' ');
    double eta = mbps > 0 && total_ > done ? static_cast<double>(total_ - done) / 1e6 / mbps : 0;
    std::string shown(name.substr(name.size() > 40 ? name.size() - 40 : 0));
    std::fprintf(stderr, "\r[%s] %3d%% %7.1f MB/s ETA %2d:%02d %-40s", bar.c_str(), static_cast<int>(frac * 100), mbps,
                 static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, shown.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void Done() {
    if (on_ && drawn_) std::fprintf(stderr, "\r%100s\r", "");
  }

 private:
  bool on_;
  std::uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
  bool drawn_ = false;
};

class Ingester {
 public:
  Ingester(storage::IndexWriter* writer, const IngestOptions& options, IngestSummary* summary)
      : writer_(writer), options_(options), summary_(summary), pool_(Threads(options)) {}

  static int Threads(const IngestOptions& o) {
    if (o.threads > 0) return o.threads;
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }

  // Ingests one logical file. Errors returned here stop the whole run (index
  // writes); problems with the file itself go into the summary.
  Status File(const LogicalFile& file, Progress* progress, std::uint64_t* progress_base);

 private:
  void AddExample(int bit, const std::string& file, std::uint32_t line) {
    auto& v = summary_->examples[static_cast<std::size_t>(bit)];
    if (v.size() < 3) v.push_back(MalformedExample{file, line});
  }

  storage::IndexWriter* writer_;
  IngestOptions options_;
  IngestSummary* summary_;
  WorkerPool pool_;
};

Status Ingester::File(const LogicalFile& file, Progress* progress, std::uint64_t* progress_base) {
  Result<storage::FileState> state = writer_->GetFileState(file.name);
  if (!state.ok()) return state.status();
  Result<std::unique_ptr<LogReader>> opened = OpenLogicalFile(file);
  if (!opened.ok()) {
    ++summary_->files_failed;
    summary_->problems.push_back(file.name + ": " + opened.status().message());
    return Status::Ok();
  }
  LogReader* reader = opened->get();
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(hash.get());
  std::string chunk(kReadChunk, '\0');
  std::uint64_t total = 0;
  Status read_error;

  // A known file: hash its ingested prefix first.
  std::uint64_t prefix = state->known ? state->size : 0;
  std::uint32_t base_line = 1;
  std::string carry_over;  // bytes read past the prefix in the last chunk
  while (total < prefix) {
    Result<std::size_t> n = reader->Read(chunk.data(), chunk.size());
    if (!n.ok()) {
      read_error = n.status();
      break;
    }
    if (*n == 0) break;
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(*n, prefix - total));
    XXH3_64bits_update(hash.get(), chunk.data(), take);
    base_line += static_cast<std::uint32_t>(std::count(chunk.data(), chunk.data() + take, '\n'));
    if (take < *n) carry_over.assign(chunk.data() + take, *n - take);
    total += *n;
    summary_->bytes_read += *n;
    progress->Update(*progress_base + reader->compressed_bytes(), file.name);
  }
  if (state->known) {
    if (total < prefix) {
      ++summary_->files_refused;
      summary_->problems.push_back(file.name + ": refused: the file is shorter than when it was ingested (" +
                                   std::to_string(total) + " bytes now, " + std::to_string(prefix) +
                                   " then); it was replaced or truncated");
      *progress_base += file.disk_size;
      return Status::Ok();
    }
    if (XXH3_64bits_digest(hash.get()) != state->prefix_hash) {
      ++summary_->files_refused;
      summary_->problems.push_back(file.name + ": refused: its first " + std::to_string(prefix) +
                                   " bytes changed since they were ingested (only appends can be added)");
      *progress_base += file.disk_size;
      return Status::Ok();
    }
  }

  storage::FileHeader header;
  header.name = file.name;
  header.source_path = file.path;
  header.start_offset = prefix;
  SIPDEX_RETURN_IF_ERROR(writer_->BeginFile(header));

  FramerOptions fo;
  fo.batch_bytes = options_.segment_bytes;
  RecordFramer framer(fo);
  ResultQueue results;
  std::uint64_t submitted = 0;
  std::uint64_t written = 0;
  TimeMs carry_time = 0;
  Record probe;
  const std::uint64_t max_in_flight = static_cast<std::uint64_t>(2 * Threads(options_) + 2);
  const std::uint32_t line_delta = base_line - 1;
  const std::string name = file.name;
  const storage::SegmentBuilderOptions seg_options = options_.segment;

  auto write_one = [&]() -> Status {
    SegmentResult r = results.Take(written++);
    for (auto [bit, line] : r.examples) AddExample(bit, name, line);
    summary_->counts.Add(r.segment.counts);
    summary_->bytes_stored += r.segment.payload.size();
    return writer_->AppendSegment(std::move(r.segment));
  };
  // Every submitted job must finish before this frame goes away.
  auto drain = [&]() {
    while (written < submitted) results.Take(written++);
  };
  auto submit = [&](RecordBatch&& batch) -> Status {
    if (submitted - written >= max_in_flight) SIPDEX_RETURN_IF_ERROR(write_one());
    TimeMs carry_in = carry_time;
    for (std::size_t i = batch.spans.size(); i-- > 0;) {
      if (batch.spans[i].kind != RecordKind::kOther) continue;
      ParseRecord(batch.Text(i), batch.spans[i], &probe);
      if (probe.has_time) {
        carry_time = probe.time;
        break;
      }
    }
    auto shared = std::make_shared<RecordBatch>(std::move(batch));
    std::uint64_t seq = submitted++;
    pool_.Submit([shared, seq, carry_in, prefix, line_delta, &name, &seg_options, &results] {
      thread_local Record record;
      storage::SegmentBuilder builder(name, seg_options);
      builder.Rebase(prefix, line_delta);
      SegmentResult out;
      std::array<int, kMalformedBitCount> seen{};
      TimeMs carry = carry_in;
      ParseBatch(*shared, &record, &carry, [&](const Record& r) {
        builder.Add(r, ServerName(name, r));
        for (int b = 0; r.malformed != 0 && b < kMalformedBitCount; ++b) {
          if ((r.malformed & (1u << b)) && seen[static_cast<std::size_t>(b)]++ < 3) {
            out.examples.emplace_back(b, r.line + line_delta);
          }
        }
      });
      out.segment = builder.Finish();
      results.Put(seq, std::move(out));
    });
    return Status::Ok();
  };

  RecordBatch batch;
  auto feed = [&](std::string_view bytes) -> Status {
    framer.Feed(bytes);
    while (framer.NextBatch(&batch)) SIPDEX_RETURN_IF_ERROR(submit(std::move(batch)));
    return Status::Ok();
  };
  // The bytes read past the prefix in its last chunk come first.
  XXH3_64bits_update(hash.get(), carry_over.data(), carry_over.size());
  Status s = feed(carry_over);
  while (s.ok() && read_error.ok()) {
    Result<std::size_t> n = reader->Read(chunk.data(), chunk.size());
    if (!n.ok()) {
      read_error = n.status();
      break;
    }
    if (*n == 0) break;
    XXH3_64bits_update(hash.get(), chunk.data(), *n);
    total += *n;
    summary_->bytes_read += *n;
    s = feed(std::string_view(chunk.data(), *n));
    progress->Update(*progress_base + reader->compressed_bytes(), file.name);
  }
  if (s.ok()) {
    framer.Finish();
    while (s.ok() && framer.NextBatch(&batch)) s = submit(std::move(batch));
  }
  while (s.ok() && written < submitted) s = write_one();
  drain();
  if (!s.ok()) {
    writer_->AbortFile().IgnoreError();
    return s;
  }
  *progress_base += file.disk_size;
  if (!read_error.ok()) {
    ++summary_->files_failed;
    summary_->problems.push_back(file.name + ": " + read_error.message() + " (the " + std::to_string(total) +
                                 " bytes before it were ingested)");
  }
  if (total == prefix && state->known) {
    ++summary_->files_unchanged;
    return writer_->AbortFile();
  }
  if (total == 0) {
    ++summary_->empty_files;
    ++summary_->counts.by_malformed_bit[10];
    AddExample(10, file.name, 0);
  }
  SIPDEX_RETURN_IF_ERROR(writer_->CommitFile(total, XXH3_64bits_digest(hash.get())));
  if (state->known) {
    ++summary_->files_appended;
  } else {
    ++summary_->files_new;
  }
  summary_->bytes_in += total - prefix;
  return Status::Ok();
}

}  // namespace

Result<IngestSummary> Ingest(storage::Index* index, const std::vector<std::string>& paths,
                             const IngestOptions& options) {
  auto start = Clock::now();
  IngestSummary summary;
  if (paths.empty()) return Status::InvalidArgument("ingest: no files or folders given");
  Result<std::vector<LogicalFile>> files = ExpandInputs(paths, &summary.warnings);
  if (!files.ok()) return files.status();
  Result<std::unique_ptr<storage::IndexWriter>> writer = index->NewWriter();
  if (!writer.ok()) return writer.status();
  std::uint64_t total = 0;
  for (const LogicalFile& f : *files) total += f.disk_size;
  Progress progress(options.progress, total);
  std::uint64_t progress_base = 0;
  {
    Ingester ingester(writer->get(), options, &summary);
    for (const LogicalFile& f : *files) {
      Status s = ingester.File(f, &progress, &progress_base);
      if (!s.ok()) {
        progress.Done();
        return s;
      }
    }
  }
  progress.Done();
  SIPDEX_RETURN_IF_ERROR((*writer)->Flush());
  summary.seconds = Since(start);
  return summary;
}

storage::RecordParser MakeRecordParser() {
  return [](std::string_view text, RecordKind kind, std::uint32_t malformed, Record* out) {
    FramedSpan span;
    // The framer's kinds: TL_ records are kOther until parsed.
    span.kind = (kind == RecordKind::kForeign || kind == RecordKind::kJunk) ? kind : RecordKind::kOther;
    span.malformed = malformed;
    span.size = static_cast<std::uint32_t>(text.size());
    ParseRecord(text, span, out);
  };
}

std::string FormatIngestSummary(const IngestSummary& s) {
  auto mb = [](std::uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
    return std::string(buf);
  };
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "files: %llu new, %llu appended, %llu unchanged, %llu refused, %llu failed\n",
                static_cast<unsigned long long>(s.files_new), static_cast<unsigned long long>(s.files_appended),
                static_cast<unsigned long long>(s.files_unchanged), static_cast<unsigned long long>(s.files_refused),
                static_cast<unsigned long long>(s.files_failed));
  out += buf;
  out += "records added: " + std::to_string(s.counts.records);
  std::string kinds;
  for (int k = 0; k < kRecordKindCount; ++k) {
    std::uint64_t n = s.counts.by_kind[static_cast<std::size_t>(k)];
    if (n == 0) continue;
    kinds += (kinds.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(RecordKindName(static_cast<RecordKind>(k)));
  }
  if (!kinds.empty()) out += " (" + kinds + ")";
  out += "\n";
  out += "malformed: " + std::to_string(s.counts.malformed_records) + " records";
  out += s.empty_files > 0 ? ", " + std::to_string(s.empty_files) + " empty files\n" : "\n";
  for (int b = 0; b < kMalformedBitCount; ++b) {
    std::uint64_t n = s.counts.by_malformed_bit[static_cast<std::size_t>(b)];
    if (n == 0) continue;
    out += "  " + std::string(MalformedBitName(1u << b)) + ": " + std::to_string(n);
    std::string ex;
    for (const MalformedExample& e : s.examples[static_cast<std::size_t>(b)]) {
      ex += (ex.empty() ? "" : ", ") + e.file + ":" + std::to_string(e.line);
    }
    if (!ex.empty()) out += " (e.g. " + ex + ")";
    out += "\n";
  }
  double ratio = s.bytes_stored > 0 ? static_cast<double>(s.bytes_in) / static_cast<double>(s.bytes_stored) : 0;
  double speed = s.seconds > 0 ? static_cast<double>(s.bytes_read) / 1e6 / s.seconds : 0;
  std::snprintf(buf, sizeof buf, "bytes: %s in, %s stored (records only, %.1fx); %.1f s, %.1f MB/s\n",
                mb(s.bytes_in).c_str(), mb(s.bytes_stored).c_str(), ratio, s.seconds, speed);
  out += buf;
  for (const std::string& w : s.warnings) out += "warning: " + w + "\n";
  for (const std::string& p : s.problems) out += "problem: " + p + "\n";
  return out;
}

}  // namespace sipdex
