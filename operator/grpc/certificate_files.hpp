#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/ssl.h>

#include "common/core/error.hpp"

namespace mca::op {

// Where the operator's serving certificate and its key are, e.g. the
// tls.crt and tls.key of a mounted Secret.
struct certificate_paths {
  std::filesystem::path cert;  // PEM, leaf first, then any intermediates
  std::filesystem::path key;   // PEM, unencrypted (PKCS#8 or traditional)
};

// The TLS server configuration the gRPC front serves with: one certificate
// and key, TLS 1.3 only (minimum and maximum), ALPN "h2" only (a client that
// offers no ALPN or no "h2" is refused with no_application_protocol), no
// session tickets. Built once and never changed afterwards, so connections
// on any thread may create SSL objects from it (SSL_new only takes a
// reference) while a newer one replaces it for later handshakes.
class grpc_tls_context {
 public:
  // Errors (source config) name the file at fault: a certificate or key
  // that is not PEM, an encrypted key, or a key that does not match the
  // certificate. The paths are only for those messages.
  static mca::result<std::shared_ptr<const grpc_tls_context>> create(
      std::string_view cert_pem, std::string_view key_pem,
      const certificate_paths& origin);

  ~grpc_tls_context();
  grpc_tls_context(const grpc_tls_context&) = delete;
  grpc_tls_context& operator=(const grpc_tls_context&) = delete;
  grpc_tls_context(grpc_tls_context&&) = delete;
  grpc_tls_context& operator=(grpc_tls_context&&) = delete;

  // For SSL_new. The context itself must not be changed through it.
  SSL_CTX* native_handle() const noexcept { return ctx_; }
  // SHA-256 of the leaf certificate's DER, lowercase hex: what a client
  // sees, for logs and for telling two certificates apart.
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  // The leaf's subject, one line (e.g. "CN=mca-operator").
  const std::string& subject() const noexcept { return subject_; }
  std::chrono::system_clock::time_point not_after() const noexcept {
    return not_after_;
  }

 private:
  grpc_tls_context(SSL_CTX* ctx, std::string fingerprint, std::string subject,
                   std::chrono::system_clock::time_point not_after) noexcept;

  SSL_CTX* ctx_;  // owned
  std::string fingerprint_;
  std::string subject_;
  std::chrono::system_clock::time_point not_after_;
};

// What the front asks for at each accept: the context in force now.
class tls_context_source {
 public:
  virtual ~tls_context_source() = default;
  // Never null. Safe from any thread.
  virtual std::shared_ptr<const grpc_tls_context> current() const = 0;
};

struct certificate_files_options {
  // How often the files are checked. A check costs two stat() calls; the
  // files are read and hashed only when a size, mtime or inode moved.
  std::chrono::milliseconds poll_interval = std::chrono::seconds(1);
  // A reload failed; the pair in force stays. Called on the executor.
  std::function<void(const mca::error&)> on_error;
  // A new pair is in force (not called for the first load). On the
  // executor.
  std::function<void(const grpc_tls_context&)> on_reload;
};

// The serving certificate and key, read from files and reloaded when they
// change. Polls rather than using inotify: a Secret volume updates by
// swapping a symlink two levels up, which inotify on the files does not
// see.
//
// The context in force is a shared_ptr<const grpc_tls_context> swapped
// atomically: each handshake uses the one current when its connection was
// accepted, and established connections keep theirs.
//
// A pair that cannot be loaded (unreadable, not PEM, key not matching the
// certificate, or a rotation caught between writing the two files) leaves
// the context in force untouched; the error goes to on_error and to
// last_error() until a good pair (or the pair in force) is back.
//
// Thread affinity: load(), start(), stop(), reload_now() and the last
// release of the object on the executor's thread (or while it is not
// running); current() and last_error() from any thread.
class certificate_files final
    : public tls_context_source,
      public std::enable_shared_from_this<certificate_files> {
 public:
  // Reads and checks both files. Fails (source config) naming the file at
  // fault; an object that exists always has a context.
  static mca::result<std::shared_ptr<certificate_files>> load(
      const boost::asio::any_io_executor& executor, certificate_paths paths,
      certificate_files_options options = {});

  std::shared_ptr<const grpc_tls_context> current() const override;

  // Reads both files now, whatever their stamps say. True: a new pair is in
  // force; false: the content is the pair in force. An error: the old pair
  // stays (also reported to on_error and last_error()).
  mca::result<bool> reload_now();

  // Starts (or stops) checking the files every poll_interval.
  void start();
  void stop();

  // The last reload's error, or nothing once the files hold a good pair.
  std::optional<mca::error> last_error() const;

  const certificate_paths& paths() const noexcept { return paths_; }

 private:
  struct file_stamp {
    bool exists = false;
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uintmax_t inode = 0;
    bool operator==(const file_stamp&) const = default;
  };
  struct pair_stamp {
    file_stamp cert;
    file_stamp key;
    bool operator==(const pair_stamp&) const = default;
  };
  using digest = std::array<unsigned char, 32>;

  certificate_files(const boost::asio::any_io_executor& executor,
                    certificate_paths paths, certificate_files_options options);

  pair_stamp stamp() const;
  // The one place a pair is read, checked and installed.
  mca::result<bool> reload(bool first);
  void fail(const mca::error& e);
  void schedule();

  boost::asio::steady_timer timer_;
  certificate_paths paths_;
  certificate_files_options options_;
  std::atomic<std::shared_ptr<const grpc_tls_context>> current_;
  pair_stamp last_stamp_;
  digest in_force_{};
  // The content of the last pair refused, so that an unchanged bad pair is
  // not reported again at every poll.
  std::optional<digest> refused_;
  bool stopped_ = true;
  mutable std::mutex error_mutex_;
  std::optional<mca::error> last_error_;
};

}  // namespace mca::op
