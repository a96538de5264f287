#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <system_error>

#include "common/kube/credentials.hpp"
#include "common/util/base64.hpp"

namespace mca::kube {
namespace {

class static_source final : public credential_source {
 public:
  static_source(credential cred, std::string description)
      : cred_(std::move(cred)), description_(std::move(description)) {}
  result<credential> get() override { return cred_; }
  void invalidate() override {}
  std::string describe() const override { return description_; }

 private:
  credential cred_;
  std::string description_;
};

// The kubelet rotates projected service-account tokens by swapping the file
// (a symlink flip); re-read it whenever its modification time or size
// changes, and at least once a minute in case a rewrite kept both. The
// proxy asks for the token on every request, so the file is looked at
// (two stat calls) at most once a second: the kubelet writes a new token
// minutes before the old one expires, and a 401 (invalidate) looks at once.
class token_file_source final : public credential_source {
 public:
  token_file_source(std::filesystem::path path,
                    std::function<std::chrono::steady_clock::time_point()> now)
      : path_(std::move(path)), now_(std::move(now)) {}

  result<credential> get() override {
    std::lock_guard lock(mutex_);
    const auto now = now_();
    if (loaded_ && now - checked_at_ < std::chrono::seconds(1)) return cred_;
    checked_at_ = now;
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(path_, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(path_, ec);
    if (!ec && loaded_ && mtime == mtime_ && size == size_ &&
        now - read_at_ < std::chrono::minutes(1)) {
      return cred_;
    }
    std::ifstream in(path_);
    if (ec || !in) {
      if (loaded_) return cred_;  // keep the last good token through a flip
      return error::of(error_source::config,
                       "cannot read token file " + path_.string() +
                           (ec ? ": " + ec.message() : std::string()));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                              token.back() == ' ')) {
      token.pop_back();
    }
    if (token.empty()) {
      if (loaded_) return cred_;
      return error::of(error_source::config,
                       "token file " + path_.string() + " is empty");
    }
    cred_.bearer_token = std::move(token);
    mtime_ = mtime;
    size_ = size;
    read_at_ = now;
    loaded_ = true;
    return cred_;
  }

  void invalidate() override {
    std::lock_guard lock(mutex_);
    read_at_ = {};
    checked_at_ = {};
  }

  std::string describe() const override {
    return "token file " + path_.string();
  }

 private:
  std::filesystem::path path_;
  std::function<std::chrono::steady_clock::time_point()> now_;
  std::chrono::steady_clock::time_point checked_at_{};
  std::mutex mutex_;
  credential cred_;
  std::filesystem::file_time_type mtime_{};
  std::uintmax_t size_ = 0;
  std::chrono::steady_clock::time_point read_at_{};
  bool loaded_ = false;
};

}  // namespace

std::shared_ptr<credential_source> make_token_file_source(
    std::filesystem::path path,
    std::function<std::chrono::steady_clock::time_point()> now) {
  if (!now) now = [] { return std::chrono::steady_clock::now(); };
  return std::make_shared<token_file_source>(std::move(path), std::move(now));
}

std::string authorization_value(const credential& cred) {
  if (!cred.bearer_token.empty()) return "Bearer " + cred.bearer_token;
  if (!cred.basic_username.empty()) {
    return "Basic " +
           util::base64_encode(cred.basic_username + ":" + cred.basic_password);
  }
  return {};
}

std::shared_ptr<credential_source> make_credential_source(
    const client_config& config) {
  const auto& auth = config.auth;
  credential cred;
  cred.client_cert_pem = auth.client_cert_pem;
  cred.client_key_pem = auth.client_key_pem;
  if (auth.exec) {
    return make_exec_credential_source(*auth.exec, config.server);
  }
  if (!auth.token.empty()) {
    cred.bearer_token = auth.token;
    return std::make_shared<static_source>(
        cred, "bearer token from " + config.origin);
  }
  if (!auth.token_file.empty()) {
    return make_token_file_source(auth.token_file);
  }
  if (!auth.username.empty()) {
    cred.basic_username = auth.username;
    cred.basic_password = auth.password;
    return std::make_shared<static_source>(
        cred, "basic auth user " + auth.username + " from " + config.origin);
  }
  if (!cred.client_cert_pem.empty()) {
    return std::make_shared<static_source>(
        cred, "client certificate from " + config.origin);
  }
  return std::make_shared<static_source>(cred, "anonymous");
}

}  // namespace mca::kube
