// stream_load: many sidecar routing streams against one mca-operator, in
// one process (issue 10, the control-plane scale benchmark). Each stream
// speaks RoutingDiscovery.StreamRoutes as mca-sidecar does
// (sidecar/subscription/routes_subscription.cpp): its own TLS connection,
// "authorization: Bearer <token bound to its Pod>", a first request with no
// version, an ACK per pushed table, silence on heartbeats. gRPC's callback
// API drives them all on gRPC's own few threads.
//
// Driven by bench/operator/run.py over stdin/stdout, one JSON object per
// output line:
//   start-up        -> {"event":"connected", ...} once every stream has
//                      ACKed its first table, ended, or --connect-timeout
//   "arm"           -> {"event":"armed"}: each live stream remembers the
//                      version it has ACKed
//   "wait T0"       -> {"event":"converged", ...}: once every armed stream
//                      has ACKed another version (or ended, or
//                      --converge-timeout); latencies are from T0, a
//                      CLOCK_MONOTONIC time in ns (Python's
//                      time.monotonic_ns(), which steady_clock shares);
//                      with every latency in "values_ms"
//   "stats"         -> {"event":"stats", ...}: pushes, heartbeats, NACKs
//   "quit" or EOF   -> cancels every stream and exits
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <mca/routing/v1alpha1/routing.grpc.pb.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

namespace {

namespace pb = mca::routing::v1alpha1;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

// As the sidecar: tables carry certificates and may exceed gRPC's 4 MiB.
constexpr int max_push_bytes = 16 * 1024 * 1024;

struct options {
  std::string address;
  std::string ca_file;
  std::string tokens_file;
  std::size_t streams_per_connection = 1;
  std::chrono::seconds connect_timeout{300};
  std::chrono::seconds converge_timeout{120};
};

const char* usage =
    "Usage: stream_load --operator HOST:PORT --ca FILE --tokens FILE\n"
    "                   [--streams-per-connection K] [--connect-timeout S]\n"
    "                   [--converge-timeout S]\n"
    "--tokens: one stream per line, \"POD TOKEN\". Commands on stdin: arm,\n"
    "wait T0_MONOTONIC_NS, quit. Results on stdout, one JSON per line.\n";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << usage;
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--operator") {
      o.address = value;
    } else if (flag == "--ca") {
      o.ca_file = value;
    } else if (flag == "--tokens") {
      o.tokens_file = value;
    } else if (flag == "--streams-per-connection") {
      o.streams_per_connection = std::max<std::size_t>(1, std::stoul(value));
    } else if (flag == "--connect-timeout") {
      o.connect_timeout = std::chrono::seconds(std::stol(value));
    } else if (flag == "--converge-timeout") {
      o.converge_timeout = std::chrono::seconds(std::stol(value));
    } else {
      throw std::runtime_error("unknown flag " + flag);
    }
  }
  if (o.address.empty() || o.ca_file.empty() || o.tokens_file.empty()) {
    throw std::runtime_error("--operator, --ca and --tokens are required");
  }
  return o;
}

double ms(clock_type::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Nearest rank, as bench/webhook_bench.py computes it, so the two tools'
// figures read alike.
json summary(std::vector<double> values) {
  json out = {{"n", values.size()}};
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  const auto at = [&](double p) {
    const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
    return values[static_cast<std::size_t>(rank + 0.5)];
  };
  const auto round3 = [](double v) {
    return static_cast<double>(static_cast<long long>(v * 1000.0 + 0.5)) /
           1000.0;
  };
  out["min_ms"] = round3(values.front());
  out["p50_ms"] = round3(at(50));
  out["p99_ms"] = round3(at(99));
  out["max_ms"] = round3(values.back());
  return out;
}

// What the main thread waits on; every stream reports into it.
struct tally {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t first_acked = 0;
  std::size_t done = 0;
  std::size_t converged = 0;
  std::map<std::string, std::size_t> end_reasons;

  void bump(std::size_t tally::*counter) {
    {
      const std::lock_guard lock(mutex);
      ++(this->*counter);
    }
    changed.notify_all();
  }
};

class route_stream final
    : public grpc::ClientBidiReactor<pb::RoutesRequest, pb::RoutesResponse> {
 public:
  route_stream(tally& t, std::string token) : tally_(t) {
    context_.AddMetadata("authorization", "Bearer " + token);
    // A sidecar retries a refused connection until the operator accepts
    // it; waiting for the channel does the same without a reconnect loop
    // here, and a connection the operator never accepts shows as a stream
    // that never got its table.
    context_.set_wait_for_ready(true);
  }

  void start(pb::RoutingDiscovery::Stub& stub) {
    started_ = clock_type::now();
    stub.async()->StreamRoutes(&context_, this);
    {
      const std::lock_guard lock(mutex_);
      send_locked(request("", ""));
    }
    StartRead(&in_);
    StartCall();
  }

  void cancel() { context_.TryCancel(); }

  // Remembers the version in force; false if the stream cannot take part
  // (no table yet, or over).
  bool arm() {
    const std::lock_guard lock(mutex_);
    converged_at_.reset();
    armed_ = first_ack_.has_value() && !ended_;
    baseline_ = acked_;
    return armed_;
  }

  std::optional<clock_type::time_point> converged_at() {
    const std::lock_guard lock(mutex_);
    return converged_at_;
  }
  std::optional<clock_type::duration> first_table() {
    const std::lock_guard lock(mutex_);
    if (!first_ack_) return std::nullopt;
    return *first_ack_ - started_;
  }
  bool armed_and_live() {
    const std::lock_guard lock(mutex_);
    return armed_ && !ended_;
  }
  std::size_t table_bytes() {
    const std::lock_guard lock(mutex_);
    return table_bytes_;
  }
  std::uint64_t pushes() {
    const std::lock_guard lock(mutex_);
    return pushes_;
  }
  std::uint64_t heartbeats() {
    const std::lock_guard lock(mutex_);
    return heartbeats_;
  }
  std::uint64_t nacks() {
    const std::lock_guard lock(mutex_);
    return nacks_;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      const std::lock_guard lock(mutex_);
      ended_ = true;
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      if (in_.heartbeat()) {
        ++heartbeats_;
      } else {
        ++pushes_;
        table_bytes_ = std::max(table_bytes_, in_.table_json().size());
        // The sidecar parses and validates the table; here the operator's
        // side is measured, so a push is only checked to carry its version
        // (the table's own "version" field equals version_info).
        const std::string& version = in_.version_info();
        const bool plausible =
            !version.empty() &&
            in_.table_json().find("\"" + version + "\"") != std::string::npos;
        if (plausible) {
          send_locked(request(version, in_.nonce()));
        } else {
          ++nacks_;
          auto nack = request(acked_, in_.nonce());
          nack.mutable_error_detail()->set_message(
              "stream_load: the table does not carry version " + version);
          send_locked(std::move(nack));
        }
      }
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    bool first = false;
    bool converged = false;
    {
      const std::lock_guard lock(mutex_);
      writing_ = false;
      if (!ok) return;
      const bool ack =
          !out_.response_nonce().empty() && !out_.has_error_detail();
      if (ack) {
        const auto now = clock_type::now();
        acked_ = out_.version_info();
        if (!first_ack_) {
          first_ack_ = now;
          first = true;
        }
        if (armed_ && !converged_at_ && acked_ != baseline_) {
          converged_at_ = now;
          converged = true;
        }
      }
      if (queued_) {
        auto next = std::move(*queued_);
        queued_.reset();
        send_locked(std::move(next));
      }
    }
    if (first) tally_.bump(&tally::first_acked);
    if (converged) tally_.bump(&tally::converged);
  }

  void OnDone(const grpc::Status& status) override {
    {
      const std::lock_guard lock(mutex_);
      ended_ = true;
    }
    {
      const std::lock_guard lock(tally_.mutex);
      std::string why = std::to_string(status.error_code());
      if (!status.error_message().empty()) {
        why += ": " + status.error_message();
      }
      ++tally_.end_reasons[why];
      ++tally_.done;
    }
    tally_.changed.notify_all();
  }

 private:
  static pb::RoutesRequest request(const std::string& version,
                                   const std::string& nonce) {
    pb::RoutesRequest r;
    r.set_version_info(version);
    r.set_response_nonce(nonce);
    r.set_sidecar_version("stream_load");
    return r;
  }

  // One write at a time is gRPC's rule; the operator has at most one push
  // unanswered, so at most one answer waits behind the first request.
  void send_locked(pb::RoutesRequest r) {
    if (writing_) {
      queued_ = std::move(r);
      return;
    }
    out_ = std::move(r);
    writing_ = true;
    StartWrite(&out_);
  }

  tally& tally_;
  grpc::ClientContext context_;
  clock_type::time_point started_;
  pb::RoutesResponse in_;

  std::mutex mutex_;
  pb::RoutesRequest out_;
  std::optional<pb::RoutesRequest> queued_;
  bool writing_ = false;
  bool ended_ = false;
  std::string acked_;
  std::optional<clock_type::time_point> first_ack_;
  bool armed_ = false;
  std::string baseline_;
  std::optional<clock_type::time_point> converged_at_;
  std::uint64_t pushes_ = 0;
  std::size_t table_bytes_ = 0;
  std::uint64_t heartbeats_ = 0;
  std::uint64_t nacks_ = 0;
};

// Each stream holds a TCP connection, in this process and three file
// descriptors in the operator: 5,000 streams do not fit the usual 1,024.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

void emit(const json& line) {
  std::cout << line.dump() << std::endl;  // the driver reads line by line
}

class load {
 public:
  load(options o, const std::vector<std::string>& tokens)
      : options_(std::move(o)) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = read_file(options_.ca_file);
    const auto credentials = grpc::SslCredentials(tls);
    const std::size_t per = options_.streams_per_connection;
    for (std::size_t i = 0; i < tokens.size(); i += per) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(max_push_bytes);
      // Without a channel-local pool, channels with equal arguments share
      // one connection; a sidecar has a connection of its own.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      stubs_.push_back(pb::RoutingDiscovery::NewStub(
          grpc::CreateCustomChannel(options_.address, credentials, args)));
    }
    for (const auto& token : tokens) {
      streams_.push_back(std::make_unique<route_stream>(tally_, token));
    }
  }

  ~load() {
    for (auto& s : streams_) s->cancel();
    std::unique_lock lock(tally_.mutex);
    tally_.changed.wait_for(lock, std::chrono::seconds(10),
                            [&] { return tally_.done == streams_.size(); });
    if (tally_.done != streams_.size()) {
      // A reactor must outlive its OnDone; leaking beats a use after free
      // in a process that is about to exit.
      for (auto& s : streams_) static_cast<void>(s.release());
    }
  }
  load(const load&) = delete;
  load& operator=(const load&) = delete;
  load(load&&) = delete;
  load& operator=(load&&) = delete;

  void connect() {
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      streams_[i]->start(*stubs_[i / options_.streams_per_connection]);
    }
    const auto started = clock_type::now();
    const auto until = t0 + options_.connect_timeout;
    std::unique_lock lock(tally_.mutex);
    auto last_report = t0;
    const auto all_in = [&] {
      return tally_.first_acked + tally_.done >= streams_.size();
    };
    while (!all_in() && clock_type::now() < until) {
      tally_.changed.wait_for(lock, std::chrono::seconds(1));
      if (clock_type::now() - last_report >= std::chrono::seconds(5)) {
        last_report = clock_type::now();
        std::cerr << "stream_load: " << tally_.first_acked << "/"
                  << streams_.size() << " streams have a table, " << tally_.done
                  << " ended, after "
                  << static_cast<long>(ms(last_report - t0) / 1000.0) << " s\n";
      }
    }
    const auto finished = clock_type::now();
    const std::size_t acked = tally_.first_acked;
    const std::size_t done = tally_.done;
    auto reasons = tally_.end_reasons;
    lock.unlock();

    std::vector<double> first;
    for (auto& s : streams_) {
      if (auto d = s->first_table()) first.push_back(ms(*d));
    }
    emit({{"event", "connected"},
          {"streams", streams_.size()},
          {"connections", stubs_.size()},
          {"with_table", acked},
          {"ended", done},
          {"end_reasons", reasons},
          {"start_calls_ms", ms(started - t0)},
          {"connect_seconds", ms(finished - t0) / 1000.0},
          {"timed_out", !(acked + done >= streams_.size())},
          {"first_table", summary(std::move(first))}});
  }

  void arm() {
    {
      const std::lock_guard lock(tally_.mutex);
      tally_.converged = 0;
    }
    armed_ = 0;
    for (auto& s : streams_)
      if (s->arm()) ++armed_;
    emit({{"event", "armed"}, {"streams", armed_}});
  }

  void wait(clock_type::time_point t0) {
    const auto until = clock_type::now() + options_.converge_timeout;
    const auto remaining = [&] {
      std::size_t waiting = 0;
      for (auto& s : streams_) {
        if (s->armed_and_live() && !s->converged_at()) ++waiting;
      }
      return waiting;
    };
    {
      std::unique_lock lock(tally_.mutex);
      while (tally_.converged < armed_ && clock_type::now() < until) {
        // A stream that ends is never going to converge: recount then.
        const std::size_t done_before = tally_.done;
        tally_.changed.wait_for(lock, std::chrono::milliseconds(500));
        if (tally_.done != done_before) {
          lock.unlock();
          const bool none_left = remaining() == 0;
          lock.lock();
          if (none_left) break;
        }
      }
    }
    std::vector<double> latencies;
    for (auto& s : streams_) {
      if (auto at = s->converged_at()) latencies.push_back(ms(*at - t0));
    }
    const std::size_t converged = latencies.size();
    // Every value too, to 0.1 ms: the driver pools them over changes.
    std::vector<double> values;
    values.reserve(converged);
    for (const double v : latencies) {
      values.push_back(static_cast<double>(static_cast<long long>(v * 10.0)) /
                       10.0);
    }
    emit({{"event", "converged"},
          {"armed", armed_},
          {"converged", converged},
          {"lost", armed_ - converged - remaining()},
          {"timed_out", remaining() > 0},
          {"latency", summary(std::move(latencies))},
          {"values_ms", values}});
  }

  void stats() {
    std::uint64_t pushes = 0;
    std::uint64_t heartbeats = 0;
    std::uint64_t nacks = 0;
    std::size_t largest = 0;
    for (auto& s : streams_) {
      largest = std::max(largest, s->table_bytes());
      pushes += s->pushes();
      heartbeats += s->heartbeats();
      nacks += s->nacks();
    }
    const std::lock_guard lock(tally_.mutex);
    emit({{"event", "stats"},
          {"pushes", pushes},
          {"largest_table_bytes", largest},
          {"heartbeats", heartbeats},
          {"nacks", nacks},
          {"ended", tally_.done},
          {"end_reasons", tally_.end_reasons}});
  }

 private:
  options options_;
  tally tally_;
  std::vector<std::unique_ptr<pb::RoutingDiscovery::Stub>> stubs_;
  std::vector<std::unique_ptr<route_stream>> streams_;
  std::size_t armed_ = 0;
};

std::vector<std::string> read_tokens(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(lines, line)) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    tokens.push_back(line.substr(space + 1));
  }
  if (tokens.empty()) throw std::runtime_error("no tokens in " + path);
  return tokens;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const options o = parse(argc, argv);
    raise_fd_limit();
    load l(o, read_tokens(o.tokens_file));
    l.connect();
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream words(line);
      std::string command;
      words >> command;
      if (command == "arm") {
        l.arm();
      } else if (command == "wait") {
        std::int64_t t0 = 0;
        words >> t0;
        l.wait(clock_type::time_point(std::chrono::nanoseconds(t0)));
      } else if (command == "stats") {
        l.stats();
      } else if (command == "quit") {
        break;
      } else if (!command.empty()) {
        emit({{"event", "error"}, {"message", "unknown command " + command}});
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "stream_load: " << e.what() << "\n" << usage;
    return 2;
  }
  return 0;
}
