#include "operator/grpc/certificate_files.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "common/tls/openssl_handles.hpp"
#include "common/tls/pem_identity.hpp"
#include "common/util/text_file.hpp"

namespace mca::op {
namespace {

using tls::max_pem_bytes;
using tls::openssl_deleter;
using tls::openssl_reason;
using tls::ssl_ctx_ptr;

using md_ctx_ptr =
    std::unique_ptr<EVP_MD_CTX, openssl_deleter<EVP_MD_CTX_free>>;

// gRPC is HTTP/2: a client that cannot negotiate "h2" would only fail after
// the handshake, so refuse it during the handshake.
int select_h2(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
              const unsigned char* in, unsigned int inlen, void* /*arg*/) {
  for (unsigned i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 2 && in[i + 1] == 'h' && in[i + 2] == '2') {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  // Sends no_application_protocol (RFC 7301 §3.2).
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// OpenSSL calls the ALPN callback only when the client sent the extension;
// a client sending none would otherwise get a handshake without "h2".
int require_alpn(SSL* ssl, int* alert, void* /*arg*/) {
  const unsigned char* ext = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(
          ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
          &len) == 1) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
  return SSL_CLIENT_HELLO_ERROR;
}

}  // namespace

grpc_tls_context::grpc_tls_context(
    SSL_CTX* ctx, std::string fingerprint, std::string subject,
    std::chrono::system_clock::time_point not_after) noexcept
    : ctx_(ctx),
      fingerprint_(std::move(fingerprint)),
      subject_(std::move(subject)),
      not_after_(not_after) {}

grpc_tls_context::~grpc_tls_context() { SSL_CTX_free(ctx_); }

mca::result<std::shared_ptr<const grpc_tls_context>> grpc_tls_context::create(
    std::string_view cert_pem, std::string_view key_pem,
    const certificate_paths& origin) {
  ERR_clear_error();
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return error::of(error_source::internal,
                     "cannot make a TLS context: " + openssl_reason());
  }
  // TLS 1.3 only: what bookworm's gRPC cannot enforce itself, and the
  // reason this front exists.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return error::of(
        error_source::internal,
        "this OpenSSL cannot be limited to TLS 1.3: " + openssl_reason());
  }
  // Connections are long-lived streams: nothing to gain from resumption,
  // and each reload's new context would refuse the old tickets anyway.
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // Mostly idle streams give their record buffers back between messages.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_client_hello_cb(ctx.get(), require_alpn, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_h2, nullptr);

  auto served = tls::use_pem_pair(
      ctx.get(), cert_pem, key_pem,
      tls::pem_names{
          .certificate = "the certificate in " + origin.cert.string(),
          .key = "the key in " + origin.key.string()});
  if (!served) return served.error();
  return std::shared_ptr<const grpc_tls_context>(
      new grpc_tls_context(ctx.release(), std::move(served->fingerprint),
                           std::move(served->subject), served->not_after));
}

certificate_files::certificate_files(
    const boost::asio::any_io_executor& executor, certificate_paths paths,
    certificate_files_options options)
    : timer_(executor),
      paths_(std::move(paths)),
      options_(std::move(options)) {}

mca::result<std::shared_ptr<certificate_files>> certificate_files::load(
    const boost::asio::any_io_executor& executor, certificate_paths paths,
    certificate_files_options options) {
  std::shared_ptr<certificate_files> files(
      new certificate_files(executor, std::move(paths), std::move(options)));
  files->last_stamp_ = files->stamp();
  if (auto loaded = files->reload(true); !loaded) return loaded.error();
  return files;
}

std::shared_ptr<const grpc_tls_context> certificate_files::current() const {
  return current_.load();
}

std::optional<mca::error> certificate_files::last_error() const {
  const std::lock_guard lock(error_mutex_);
  return last_error_;
}

certificate_files::pair_stamp certificate_files::stamp() const {
  auto of = [](const std::filesystem::path& path) {
    file_stamp s;
    struct stat st {};
    // stat, not lstat: a Secret volume's files are symlinks, and what
    // matters is the file they point at now.
    if (::stat(path.c_str(), &st) == 0) {
      s.exists = true;
      s.size = static_cast<std::uintmax_t>(st.st_size);
      s.mtime_ns =
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
          st.st_mtim.tv_nsec;
      s.inode = static_cast<std::uintmax_t>(st.st_ino);
    }
    return s;
  };
  return {of(paths_.cert), of(paths_.key)};
}

void certificate_files::fail(const mca::error& e) {
  {
    const std::lock_guard lock(error_mutex_);
    last_error_ = e;
  }
  if (options_.on_error) options_.on_error(e);
}

mca::result<bool> certificate_files::reload_now() {
  last_stamp_ = stamp();
  return reload(false);
}

mca::result<bool> certificate_files::reload(bool first) {
  auto cert = util::read_text_file(paths_.cert, max_pem_bytes);
  auto key = cert ? util::read_text_file(paths_.key, max_pem_bytes)
                  : mca::result<std::string>(cert.error());
  // The key's text is not kept around once it is parsed.
  struct wipe {
    mca::result<std::string>& text;
    ~wipe() {
      if (text && !text->empty()) OPENSSL_cleanse(text->data(), text->size());
    }
  } wipe_key{key};
  if (!key) {
    // Unreadable (perhaps mid-rotation): when the file is back, even with
    // the same content, it is judged again.
    if (!first) {
      refused_.reset();
      fail(key.error());
    }
    return key.error();
  }

  digest d{};
  {
    md_ctx_ptr md(EVP_MD_CTX_new());
    const std::uint64_t cert_size = cert->size();
    unsigned int n = 0;
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(md.get(), &cert_size, sizeof cert_size) != 1 ||
        EVP_DigestUpdate(md.get(), cert->data(), cert->size()) != 1 ||
        EVP_DigestUpdate(md.get(), key->data(), key->size()) != 1 ||
        EVP_DigestFinal_ex(md.get(), d.data(), &n) != 1) {
      auto e = error::of(
          error_source::internal,
          "cannot hash the serving certificate files: " + openssl_reason());
      if (!first) fail(e);
      return e;
    }
  }
  if (!first && d == in_force_) {
    // Touched, or restored after a bad pair: nothing new, nothing wrong.
    refused_.reset();
    const std::lock_guard lock(error_mutex_);
    last_error_.reset();
    return false;
  }
  if (!first && refused_ && *refused_ == d) {
    // Already reported; say it again to the caller only.
    if (auto e = last_error()) return *e;
  }

  auto ctx = grpc_tls_context::create(*cert, *key, paths_);
  if (!ctx) {
    if (!first) {
      refused_ = d;
      fail(ctx.error());
    }
    return ctx.error();
  }
  current_.store(*ctx);
  in_force_ = d;
  refused_.reset();
  {
    const std::lock_guard lock(error_mutex_);
    last_error_.reset();
  }
  if (!first && options_.on_reload) options_.on_reload(**ctx);
  return true;
}

void certificate_files::start() {
  if (!stopped_) return;
  stopped_ = false;
  schedule();
}

void certificate_files::stop() {
  stopped_ = true;
  timer_.cancel();
}

void certificate_files::schedule() {
  if (stopped_) return;
  timer_.expires_after(options_.poll_interval);
  // A weak reference: the timer must not keep the files alive, and a
  // handler that outlives them finds nothing to do.
  timer_.async_wait([weak = weak_from_this()](
                        const boost::system::error_code& ec) {
    if (ec) return;
    const auto self = weak.lock();
    if (!self || self->stopped_) return;
    try {
      const auto now = self->stamp();
      if (now != self->last_stamp_) {
        self->last_stamp_ = now;
        (void)self->reload(false);
      }
    } catch (const std::exception& e) {
      // Nothing escapes a handler: a throwing callback or an allocation
      // failure costs this check, not the poller.
      const std::lock_guard lock(self->error_mutex_);
      self->last_error_ = error::of(
          error_source::internal,
          std::string("checking the serving certificate failed: ") + e.what());
    }
    self->schedule();
  });
}

}  // namespace mca::op
