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
#include <set>
#include <thread>

#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"

namespace sipdex {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadChunk = 1u << 20;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// "name: message", without naming the file twice when the message already
// starts with its name (the readers' messages do).
std::string ProblemLine(const std::string& name, const std::string& message) {
  if (message.starts_with(name + ": ")) return message;
  return name + ": " + message;
}

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

// Buffers that outlive a batch, handed back by the workers for the next
// batches: the framer's batch text and the segment builders (their record
// text, tables and postings). Each is about a batch's size; reusing them means
// writing into pages already mapped instead of faulting in fresh ones (a
// page fault costs microseconds, so 8 MiB of fresh pages cost milliseconds).
class Recycler {
 public:
  explicit Recycler(std::size_t max_buffers) : max_buffers_(max_buffers) {}

  // A builder for a segment of `file_name`, reused when one is free.
  std::unique_ptr<storage::SegmentBuilder> TakeBuilder(const std::string& file_name,
                                                       const storage::SegmentBuilderOptions& options) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!builders_.empty()) {
        std::unique_ptr<storage::SegmentBuilder> b = std::move(builders_.back());
        builders_.pop_back();
        b->Restart(file_name);
        return b;
      }
    }
    return std::make_unique<storage::SegmentBuilder>(file_name, options);
  }
  // REQUIRES: `b` is empty (after Finish) and was made with the options
  // every TakeBuilder of this recycler passes.
  void GiveBuilder(std::unique_ptr<storage::SegmentBuilder> b) {
    std::lock_guard<std::mutex> l(mu_);
    builders_.push_back(std::move(b));
  }
  void GiveBuffer(std::string&& buffer) {
    std::lock_guard<std::mutex> l(mu_);
    if (buffers_.size() < max_buffers_) buffers_.push_back(std::move(buffer));
  }
  // Moves the buffers given back into `framer`'s spares.
  void Refill(RecordFramer* framer) {
    std::lock_guard<std::mutex> l(mu_);
    while (!buffers_.empty()) {
      RecordBatch spare;
      spare.data = std::move(buffers_.back());
      buffers_.pop_back();
      framer->Recycle(std::move(spare));
    }
  }

 private:
  std::mutex mu_;
  std::size_t max_buffers_;
  std::vector<std::unique_ptr<storage::SegmentBuilder>> builders_;
  std::vector<std::string> buffers_;
};

// One file's context, shared by the reader thread (which fills it) and the
// writer thread (which commits it).
struct FileJob {
  std::string name;
  std::string source_path;
  bool known = false;
  std::uint64_t prefix = 0;     // bytes ingested before
  std::uint64_t total = 0;      // bytes read (set before the end item is queued)
  std::uint64_t hash = 0;       // XXH3-64 of [0, total)
  bool begun = false;           // writer thread: BeginFile called
};

// An item of the ordered stream from the reader to the writer: a segment of
// a file, or a file's end.
struct Item {
  std::shared_ptr<FileJob> file;
  bool end = false;
  storage::EncodedSegment segment;
  std::vector<std::pair<int, std::uint32_t>> examples;  // (malformed bit, line)
};

// Ordered hand-off of items by sequence number, bounded: Put of a new
// sequence number waits while `limit` items are queued or being made.
class ItemQueue {
 public:
  explicit ItemQueue(std::uint64_t limit) : limit_(limit) {}
  // Reserves the next sequence number, waiting for room. False when closed.
  bool Reserve(std::uint64_t* seq) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_ || next_ - taken_ < limit_; });
    if (closed_) return false;
    *seq = next_++;
    return true;
  }
  void Put(std::uint64_t seq, Item item) {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_.emplace(seq, std::move(item));
    }
    cv_.notify_all();
  }
  // The next item in order; false when the stream ended (Finish) and all
  // items were taken.
  bool Take(Item* out) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_.count(taken_) > 0 || (finished_ && taken_ == next_); });
    auto it = done_.find(taken_);
    if (it == done_.end()) return false;
    *out = std::move(it->second);
    done_.erase(it);
    ++taken_;
    cv_.notify_all();
    return true;
  }
  // No more reservations: the stream ends after the reserved items.
  void Finish() {
    {
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    cv_.notify_all();
  }
  // The consumer failed: wake and refuse the producer.
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Item> done_;
  std::uint64_t limit_;
  std::uint64_t next_ = 0;
  std::uint64_t taken_ = 0;
  bool finished_ = false;
  bool closed_ = false;
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

// The pipeline: the calling thread reads, hashes and frames files one after
// the other; workers parse and encode batches (of any file) in parallel; the
// writer thread appends the segments in order and commits each file at its
// end. Files overlap in the pipeline, so small files keep every core busy.
class Ingester {
 public:
  Ingester(storage::IndexWriter* writer, const IngestOptions& options, IngestSummary* summary)
      : writer_(writer),
        options_(options),
        summary_(summary),
        recycler_(4),
        queue_(static_cast<std::uint64_t>(2 * Threads(options) + 2)),
        pool_(Threads(options)),
        writer_thread_([this] { WriteLoop(); }) {}

  ~Ingester() {
    queue_.Finish();
    if (writer_thread_.joinable()) writer_thread_.join();
  }

  static int Threads(const IngestOptions& o) {
    if (o.threads > 0) return o.threads;
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }

  // Reads one logical file into the pipeline. Errors returned here stop the
  // whole run; problems with the file itself go into the summary.
  Status File(const LogicalFile& file, Progress* progress, std::uint64_t* progress_base);
  // Waits for the writer; its first error, if any.
  Status Finish() {
    queue_.Finish();
    if (writer_thread_.joinable()) writer_thread_.join();
    return write_status_;
  }

 private:
  void AddExample(int bit, const std::string& file, std::uint32_t line) {
    auto& v = summary_->examples[static_cast<std::size_t>(bit)];
    if (v.size() < 3) v.push_back(MalformedExample{file, line});
  }
  // Writer thread.
  void WriteLoop();
  Status WriteItem(Item& item);

  storage::IndexWriter* writer_;
  IngestOptions options_;
  IngestSummary* summary_;
  Recycler recycler_;  // before the pool: its workers use it until they end
  ItemQueue queue_;
  WorkerPool pool_;
  Status write_status_;       // set by the writer thread before it ends
  std::thread writer_thread_;
};

void Ingester::WriteLoop() {
  Item item;
  while (queue_.Take(&item)) {
    if (!write_status_.ok()) continue;  // drain
    Status s = WriteItem(item);
    if (!s.ok()) {
      write_status_ = s;
      writer_->AbortFile().IgnoreError();
      queue_.Close();
    }
    item = Item();
  }
}

// Writer thread: summary fields counts, examples, bytes_stored, bytes_in,
// files_new/appended/unchanged and empty_files are its own.
Status Ingester::WriteItem(Item& item) {
  FileJob& f = *item.file;
  if (item.end && !f.begun && f.known && f.total == f.prefix) {
    ++summary_->files_unchanged;
    return Status::Ok();
  }
  if (!f.begun) {
    storage::FileHeader header;
    header.name = f.name;
    header.source_path = f.source_path;
    header.start_offset = f.prefix;
    SIPDEX_RETURN_IF_ERROR(writer_->BeginFile(header));
    f.begun = true;
  }
  if (!item.end) {
    for (auto [bit, line] : item.examples) AddExample(bit, f.name, line);
    summary_->counts.Add(item.segment.counts);
    summary_->bytes_stored += item.segment.payload.size();
    return writer_->AppendSegment(std::move(item.segment));
  }
  if (f.total == 0) {
    ++summary_->empty_files;
    ++summary_->counts.by_malformed_bit[10];
    AddExample(10, f.name, 0);
  }
  SIPDEX_RETURN_IF_ERROR(writer_->CommitFile(f.total, f.hash));
  if (f.known) {
    ++summary_->files_appended;
  } else {
    ++summary_->files_new;
  }
  summary_->bytes_in += f.total - f.prefix;
  return Status::Ok();
}

Status Ingester::File(const LogicalFile& file, Progress* progress, std::uint64_t* progress_base) {
  Result<storage::FileState> state = writer_->GetFileState(file.name);
  if (!state.ok()) return state.status();
  Result<std::unique_ptr<LogReader>> opened = OpenLogicalFile(file);
  if (!opened.ok()) {
    ++summary_->files_failed;
    summary_->problems.push_back(ProblemLine(file.name, opened.status().message()));
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

  auto job = std::make_shared<FileJob>();
  job->name = file.name;
  job->source_path = file.path;
  job->known = state->known;
  job->prefix = prefix;

  FramerOptions fo;
  fo.batch_bytes = options_.segment_bytes;
  RecordFramer framer(fo);
  TimeMs carry_time = 0;
  Record probe;
  const std::uint32_t line_delta = base_line - 1;
  const storage::SegmentBuilderOptions seg_options = options_.segment;

  auto submit = [&](RecordBatch&& batch) -> Status {
    std::uint64_t seq = 0;
    if (!queue_.Reserve(&seq)) return Status::IoError("ingest stopped: the writer failed");
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
    ItemQueue* queue = &queue_;
    Recycler* recycler = &recycler_;
    pool_.Submit([shared, seq, carry_in, prefix, line_delta, job, seg_options, queue, recycler] {
      thread_local Record record;
      std::unique_ptr<storage::SegmentBuilder> reused = recycler->TakeBuilder(job->name, seg_options);
      storage::SegmentBuilder& builder = *reused;
      builder.Rebase(prefix, line_delta);
      builder.Reserve(shared->data.size());
      Item out;
      out.file = job;
      std::array<int, kMalformedBitCount> seen{};
      TimeMs carry = carry_in;
      ParseBatch(*shared, &record, &carry, [&](const Record& r) {
        builder.Add(r, ServerName(job->name, r));
        for (int b = 0; r.malformed != 0 && b < kMalformedBitCount; ++b) {
          if ((r.malformed & (1u << b)) && seen[static_cast<std::size_t>(b)]++ < 3) {
            out.examples.emplace_back(b, r.line + line_delta);
          }
        }
      });
      out.segment = builder.Finish();
      recycler->GiveBuilder(std::move(reused));
      recycler->GiveBuffer(std::move(shared->data));
      queue->Put(seq, std::move(out));
    });
    return Status::Ok();
  };

  RecordBatch batch;
  auto feed = [&](std::string_view bytes) -> Status {
    recycler_.Refill(&framer);
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
  if (!s.ok()) return s;
  *progress_base += file.disk_size;
  if (!read_error.ok()) {
    ++summary_->files_failed;
    summary_->problems.push_back(ProblemLine(file.name, read_error.message()) + " (the " + std::to_string(total) +
                                 " bytes before it were ingested)");
  }
  job->total = total;
  job->hash = XXH3_64bits_digest(hash.get());
  std::uint64_t seq = 0;
  if (!queue_.Reserve(&seq)) return Status::IoError("ingest stopped: the writer failed");
  Item end;
  end.file = job;
  end.end = true;
  queue_.Put(seq, std::move(end));
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
  // Several files are committed together (each whole), so postings form long
  // runs; memory stays bounded by the run size.
  storage::WriterOptions wo;
  wo.commit_bytes = options.commit_bytes;
  wo.run_bytes = options.commit_bytes;
  Result<std::unique_ptr<storage::IndexWriter>> writer = index->NewWriter(wo);
  if (!writer.ok()) return writer.status();
  std::uint64_t total = 0;
  for (const LogicalFile& f : *files) total += f.disk_size;
  Progress progress(options.progress, total);
  std::uint64_t progress_base = 0;
  {
    Ingester ingester(writer->get(), options, &summary);
    std::set<std::string> seen;
    Status s;
    for (const LogicalFile& f : *files) {
      if (!seen.insert(f.name).second) {
        summary.warnings.push_back(f.name + ": given twice, ingested once");
        continue;
      }
      s = ingester.File(f, &progress, &progress_base);
      if (!s.ok()) break;
    }
    Status w = ingester.Finish();
    if (!w.ok()) s = w;  // the writer's error explains a stopped reader
    if (!s.ok()) {
      progress.Done();
      return s;
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
