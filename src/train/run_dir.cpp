#include "kiln/train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "data/file_io.h"
#include "kiln/error.h"

namespace kiln::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kRecord = "checkpoint.json";
constexpr const char* kRecordFormat = "kiln-checkpoint-1";
constexpr const char* kMetrics = "metrics.jsonl";

std::string checkpoint_dir(int64_t number) {
  char name[48];
  std::snprintf(name, sizeof name, "checkpoints/%06lld", static_cast<long long>(number));
  return name;
}

bool exists_no_follow(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

std::string system_error(const std::string& what) {
  return detail::concat(what, " (", std::strerror(errno), ")");
}

// A field of checkpoint.json, checked for presence, kind and range.
class RecordReader {
 public:
  RecordReader(const json& record, std::string path) : record_(record), path_(std::move(path)) {}
  const json& at(const char* key, bool (json::*kind)() const, const char* expected) const {
    KILN_CHECK(record_.contains(key) && (record_[key].*kind)(), path_, ": '", key,
               "' must be ", expected, ", got ",
               record_.contains(key) ? record_[key].dump() : "nothing", "; the file is damaged");
    return record_[key];
  }
  int64_t integer(const char* key, int64_t min, int64_t max) const {
    const json& v = at(key, &json::is_number_integer, "an integer");
    KILN_CHECK(v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(max)
                                      : v.get<int64_t>() >= min && v.get<int64_t>() <= max,
               path_, ": '", key, "' is ", v.dump(), ", outside [", min, ", ", max, "]");
    return v.get<int64_t>();
  }
  uint64_t unsigned_integer(const char* key) const {
    return at(key, &json::is_number_unsigned, "a non-negative integer").get<uint64_t>();
  }
  double number(const char* key) const { return at(key, &json::is_number, "a number").get<double>(); }
  std::string text(const char* key) const {
    return at(key, &json::is_string, "a string").get<std::string>();
  }

 private:
  const json& record_;
  std::string path_;
};

RunState parse_record(const json& record, const std::string& path, int64_t* number) {
  const RecordReader r(record, path);
  KILN_CHECK(r.text("format") == kRecordFormat, path, ": unknown format '", r.text("format"),
             "' (expected ", kRecordFormat, ")");
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  *number = r.integer("checkpoint", 1, 999999);
  RunState s;
  s.epoch = static_cast<int>(r.integer("epoch", 0, std::numeric_limits<int>::max()));
  s.step = r.integer("step", 0, kMax);
  s.batch_in_epoch = r.integer("batch_in_epoch", 0, kMax);
  s.batch_size = r.integer("batch_size", 1, kMax);
  s.seed = r.unsigned_integer("seed");
  s.optimizer = r.text("optimizer");
  if (s.batch_in_epoch > 0) {
    s.progress.loss = r.number("epoch_loss_sum");
    s.progress.correct = r.number("epoch_correct");
    s.progress.items = r.integer("epoch_items", 0, kMax);
    s.progress.interval_items = r.integer("interval_items", 0, kMax);
    s.progress.device_loss = static_cast<float>(r.number("interval_loss_sum"));
    s.progress.device_correct = static_cast<float>(r.number("interval_correct"));
  }
  return s;
}

json make_record(const RunState& s, int64_t number) {
  json j = {{"format", kRecordFormat}, {"checkpoint", number},  {"epoch", s.epoch},
            {"step", s.step},          {"batch_in_epoch", s.batch_in_epoch},
            {"batch_size", s.batch_size}, {"seed", s.seed}, {"optimizer", s.optimizer}};
  if (s.batch_in_epoch > 0) {
    j["epoch_loss_sum"] = s.progress.loss;
    j["epoch_correct"] = s.progress.correct;
    j["epoch_items"] = s.progress.items;
    j["interval_items"] = s.progress.interval_items;
    j["interval_loss_sum"] = s.progress.device_loss;
    j["interval_correct"] = s.progress.device_correct;
  }
  return j;
}

bool has_legacy_checkpoint(const std::string& run_dir) {
  return !exists_no_follow(run_dir + "/" + kRecord) &&
         (exists_no_follow(run_dir + "/model.safetensors") ||
          exists_no_follow(run_dir + "/optimizer.safetensors"));
}

void write_text_atomically(const std::string& path, const std::string& text) {
  data::write_file_atomically(path, {{text.data(), text.size()}});
}

}  // namespace

std::string weights_path(const std::string& run_dir) { return run_dir + "/model.safetensors"; }

namespace {

RunState read_record(const std::string& run_dir, int64_t* number) {
  const std::string path = run_dir + "/" + kRecord;
  KILN_CHECK(!has_legacy_checkpoint(run_dir), "cannot resume '", run_dir, "': it holds a ",
             "checkpoint written by an older kiln without ", kRecord, ", whose two files cannot ",
             "be checked to belong together; start a new run with --out NEW_DIR --init ",
             weights_path(run_dir));
  KILN_CHECK(exists_no_follow(path), "cannot resume '", run_dir, "': it holds no checkpoint (",
             path, " does not exist: the run stopped before its first checkpoint, or this is ",
             "not a run directory); start it again with --out ", run_dir);
  const std::vector<uint8_t> bytes = data::read_file(path);
  json record;
  try {
    record = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    throw Error(detail::concat(path, ": not valid JSON (", e.what(), "); the file is damaged"));
  }
  KILN_CHECK(record.is_object(), path, ": not a JSON object; the file is damaged");
  return parse_record(record, path, number);
}

}  // namespace

RunState read_run_state(const std::string& run_dir) {
  int64_t number = 0;
  return read_record(run_dir, &number);
}

RunDirectory::RunDirectory(const std::string& path) : path_(path) {
  KILN_CHECK(!path.empty(), "the run directory path is empty");
  std::error_code error;
  fs::create_directories(path, error);
  KILN_CHECK(fs::is_directory(path), "run directory '", path, "' ",
             fs::exists(path) ? "exists and is not a directory"
                              : "cannot be created (" + error.message() + ")",
             "; choose another --out");
  const std::string lock = file("lock");
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  KILN_CHECK(lock_fd_ >= 0, system_error("cannot create " + lock),
             ": the run directory must be writable; choose another --out");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    throw Error(detail::concat("run directory '", path, "' is in use by another kiln process (pid ",
                               n > 0 ? std::string(pid, static_cast<size_t>(n)) : "unknown",
                               ", holding ", lock, "); wait for it to finish or choose another --out"));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    const std::string why = system_error("cannot write " + lock);
    ::close(lock_fd_);
    throw Error(why + ": the run directory must be writable; choose another --out");
  }
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunDirectory::start_new() {
  KILN_CHECK(!exists_no_follow(file(kRecord)) && !has_legacy_checkpoint(path_), path_,
             " already holds a trained model (", weights_path(path_), "); continue it with --resume ",
             path_, " or choose another --out");
  remove_leftovers();
  truncate_metrics(0);
  committed_.reset();
  number_ = 0;
}

RunState RunDirectory::resume(graph::Graph& graph, Optimizer& optimizer) {
  const RunState s = read_record(path_, &number_);
  remove_leftovers();
  read_checkpoint_files(file(checkpoint_dir(number_)), number_, s, graph, optimizer);
  truncate_metrics(s.epoch);
  link_weights();
  committed_ = s;
  return s;
}

void RunDirectory::append_metrics(const std::string& line) {
  const std::string path = file(kMetrics);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  KILN_CHECK(fd >= 0, system_error("cannot open " + path + " for appending"));
  const std::string text = line + "\n";
  const ssize_t n = ::write(fd, text.data(), text.size());
  const bool written = n == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const std::string why = system_error("writing " + path + " failed");
  ::close(fd);
  KILN_CHECK(written, why, "; no checkpoint was written for this epoch");
}

void RunDirectory::commit(graph::Graph& graph, Optimizer& optimizer, const RunState& state,
                          const std::map<std::string, std::string>& metadata) {
  const int64_t number = number_ + 1;
  const std::string dir = file(checkpoint_dir(number));
  fs::remove_all(dir);  // a leftover of a save killed before its commit
  fs::create_directories(dir);
  data::sync_directory(file("checkpoints"));
  write_checkpoint_files(dir, number, graph, optimizer, state, metadata);
  write_text_atomically(file(kRecord), make_record(state, number).dump() + "\n");  // the commit
  const int64_t previous = number_;
  number_ = number;
  committed_ = state;
  link_weights();
  if (previous > 0) fs::remove_all(file(checkpoint_dir(previous)));
}

void RunDirectory::remove_leftovers() {
  const fs::path checkpoints = file("checkpoints");
  if (fs::is_directory(checkpoints)) {
    const std::string keep = number_ > 0 ? fs::path(checkpoint_dir(number_)).filename().string() : "";
    for (const auto& entry : fs::directory_iterator(checkpoints)) {
      if (entry.path().filename() != keep) fs::remove_all(entry.path());
    }
  }
  for (const char* name : {"checkpoint.json.tmp", "model.safetensors.tmp"}) {
    std::remove(file(name).c_str());
  }
  if (number_ == 0 && exists_no_follow(weights_path(path_))) std::remove(weights_path(path_).c_str());
}

// Keeps the lines of the first `epochs` epochs (1, 2, ... in order); drops
// those of epochs the committed checkpoint does not include, and a torn last line.
void RunDirectory::truncate_metrics(int epochs) {
  const std::string path = file(kMetrics);
  if (!exists_no_follow(path)) return;
  if (epochs == 0) {
    std::remove(path.c_str());
    return;
  }
  const std::vector<uint8_t> bytes = data::read_file(path);
  const std::string text(bytes.begin(), bytes.end());
  std::size_t keep = 0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const std::size_t end = text.find('\n', keep);
    if (end == std::string::npos) break;
    const json line = json::parse(text.begin() + static_cast<std::ptrdiff_t>(keep),
                                  text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    if (!line.is_object() || !line.contains("epoch") || !line["epoch"].is_number_integer() ||
        line["epoch"].get<int64_t>() != epoch) {
      break;
    }
    keep = end + 1;
  }
  if (keep < text.size()) write_text_atomically(path, text.substr(0, keep));
}

// model.safetensors -> checkpoints/N/model.safetensors, replaced atomically.
void RunDirectory::link_weights() {
  const std::string link = weights_path(path_), tmp = link + ".tmp";
  std::remove(tmp.c_str());
  const std::string target = checkpoint_dir(number_) + "/model.safetensors";
  KILN_CHECK(::symlink(target.c_str(), tmp.c_str()) == 0 && ::rename(tmp.c_str(), link.c_str()) == 0,
             system_error("cannot link " + link + " to " + target));
  data::sync_directory(path_);
}

}  // namespace kiln::train
