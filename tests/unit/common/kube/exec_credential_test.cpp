#include <array>
#include <chrono>
#include <cstdlib>  // mkdtemp
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/kube/credentials.hpp"

namespace mca::kube {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* v1 = "client.authentication.k8s.io/v1";
constexpr const char* v1beta1 = "client.authentication.k8s.io/v1beta1";
constexpr const char* secret_token = "s3cr3t-t0ken";

std::chrono::system_clock::time_point utc(std::chrono::year_month_day date,
                                          std::chrono::seconds time_of_day) {
  return std::chrono::sys_days{date} + time_of_day;
}

std::string credential_json(const std::string& api_version,
                            const nlohmann::json& status) {
  return nlohmann::json{{"apiVersion", api_version},
                        {"kind", "ExecCredential"},
                        {"status", status}}
      .dump();
}

// --- parse_exec_credential ------------------------------------------------

TEST(ExecCredentialParse, V1Token) {
  auto r = parse_exec_credential(credential_json(v1, {{"token", "abc"}}), v1,
                                 "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bearer_token, "abc");
  EXPECT_TRUE(r->client_cert_pem.empty());
  EXPECT_FALSE(r->expiry.has_value());
}

TEST(ExecCredentialParse, V1beta1Token) {
  auto r = parse_exec_credential(credential_json(v1beta1, {{"token", "abc"}}),
                                 v1beta1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bearer_token, "abc");
}

TEST(ExecCredentialParse, V1IgnoresInteractiveModeAndSpec) {
  const nlohmann::json doc = {{"apiVersion", v1},
                              {"kind", "ExecCredential"},
                              {"spec", {{"interactive", false}}},
                              {"status", {{"token", "abc"}}}};
  auto r = parse_exec_credential(doc.dump(), v1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->bearer_token, "abc");
}

TEST(ExecCredentialParse, ClientCertificateAndKey) {
  auto r = parse_exec_credential(
      credential_json(v1, {{"clientCertificateData", "CERT PEM"},
                           {"clientKeyData", "KEY PEM"}}),
      v1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->client_cert_pem, "CERT PEM");
  EXPECT_EQ(r->client_key_pem, "KEY PEM");
  EXPECT_TRUE(r->bearer_token.empty());
}

TEST(ExecCredentialParse, ExpirationInUtc) {
  using namespace std::chrono;
  auto r = parse_exec_credential(
      credential_json(v1, {{"token", "abc"},
                           {"expirationTimestamp", "2026-11-23T14:00:00Z"}}),
      v1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->expiry.has_value());
  EXPECT_EQ(*r->expiry, utc(2026y / November / 23, 14h));
}

TEST(ExecCredentialParse, ExpirationWithFractionalSeconds) {
  using namespace std::chrono;
  auto r = parse_exec_credential(
      credential_json(v1,
                      {{"token", "abc"},
                       {"expirationTimestamp", "2026-11-23T14:00:05.123456Z"}}),
      v1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->expiry.has_value());
  EXPECT_EQ(*r->expiry, utc(2026y / November / 23, 14h + 5s) + 123456us);
}

TEST(ExecCredentialParse, ExpirationWithOffsets) {
  using namespace std::chrono;
  for (const auto* text :
       {"2026-11-23T15:00:00+01:00", "2026-11-23T08:30:00-05:30",
        "2026-11-24T00:00:00.000+10:00"}) {
    auto r = parse_exec_credential(
        credential_json(v1, {{"token", "abc"}, {"expirationTimestamp", text}}),
        v1, "my-plugin");
    ASSERT_TRUE(r) << text << ": " << r.error().message;
    ASSERT_TRUE(r->expiry.has_value()) << text;
    EXPECT_EQ(*r->expiry, utc(2026y / November / 23, 14h)) << text;
  }
}

TEST(ExecCredentialParse, ExpirationOutsideTheClockRangeIsClamped) {
  auto r = parse_exec_credential(
      credential_json(v1, {{"token", "abc"},
                           {"expirationTimestamp", "9999-12-31T23:59:59Z"}}),
      v1, "my-plugin");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->expiry.has_value());
  EXPECT_EQ(*r->expiry, std::chrono::system_clock::time_point::max());
}

TEST(ExecCredentialParse, MalformedExpirationIsAnError) {
  for (const auto* text :
       {"tomorrow", "2026-11-23", "2026-11-23T14:00:00", "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2026-11-23T14:00:00.Z",
        "2026-11-23T14:00:00+0100", "2026-11-23T14:00:00Zjunk"}) {
    auto r = parse_exec_credential(
        credential_json(
            v1, {{"token", secret_token}, {"expirationTimestamp", text}}),
        v1, "my-plugin");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().source, error_source::config);
    EXPECT_THAT(r.error().message,
                AllOf(HasSubstr("my-plugin"), HasSubstr("expirationTimestamp"),
                      Not(HasSubstr(secret_token))))
        << text;
  }
}

// Every rejection names the command and keeps the secrets out.
void expect_rejected(const std::string& text, const std::string& expected,
                     const std::string& needle) {
  auto r = parse_exec_credential(text, expected, "/usr/bin/my-plugin");
  ASSERT_FALSE(r) << text;
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              AllOf(HasSubstr("/usr/bin/my-plugin"), HasSubstr(needle),
                    Not(HasSubstr(secret_token)), Not(HasSubstr("KEY PEM"))))
      << text;
}

TEST(ExecCredentialParse, WrongApiVersion) {
  expect_rejected(credential_json(v1beta1, {{"token", secret_token}}), v1,
                  "apiVersion");
  expect_rejected(credential_json(v1, {{"token", secret_token}}), v1beta1,
                  "apiVersion");
}

TEST(ExecCredentialParse, WrongKind) {
  const nlohmann::json doc = {{"apiVersion", v1},
                              {"kind", "Secret"},
                              {"status", {{"token", secret_token}}}};
  expect_rejected(doc.dump(), v1, "kind");
}

TEST(ExecCredentialParse, MissingStatus) {
  const nlohmann::json doc = {{"apiVersion", v1}, {"kind", "ExecCredential"}};
  expect_rejected(doc.dump(), v1, "status");
}

TEST(ExecCredentialParse, EmptyStatus) {
  expect_rejected(credential_json(v1, nlohmann::json::object()), v1, "token");
}

TEST(ExecCredentialParse, CertificateWithoutKey) {
  expect_rejected(credential_json(v1, {{"token", secret_token},
                                       {"clientCertificateData", "CERT PEM"}}),
                  v1, "clientKeyData");
}

TEST(ExecCredentialParse, KeyWithoutCertificate) {
  expect_rejected(credential_json(v1, {{"token", secret_token},
                                       {"clientKeyData", "KEY PEM"}}),
                  v1, "clientCertificateData");
}

TEST(ExecCredentialParse, TokenOfTheWrongType) {
  expect_rejected(credential_json(v1, {{"token", 42}}), v1, "token");
}

TEST(ExecCredentialParse, NotJson) {
  expect_rejected(std::string(R"({"status":{"token":")") + secret_token, v1,
                  "not JSON");
  expect_rejected(std::string("token: ") + secret_token, v1, "not JSON");
  expect_rejected("[1]", v1, "object");
}

// --- make_exec_credential_source with real plugins -----------------------

class ExecCredentialSource : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "mca-exec-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // Writes an executable /bin/sh script and returns its path.
  std::string script(const std::string& name, const std::string& body) {
    const auto path = dir_ / name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
    return path.string();
  }

  // A plugin that counts its runs in $OUT_DIR/count and returns token
  // tok-<run>, expiring at $EXPIRY when that is set.
  exec_config counting_plugin(const std::string& expiry = "") {
    exec_config exec;
    exec.api_version = v1;
    exec.command = script("counting", R"(
n=$(cat "$OUT_DIR/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$OUT_DIR/count"
exp=""
if [ -n "$EXPIRY" ]; then exp=",\"expirationTimestamp\":\"$EXPIRY\""; fi
echo "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-$n\"$exp}}"
)");
    exec.env = {{"OUT_DIR", dir_.string()}, {"EXPIRY", expiry}};
    return exec;
  }

  int runs() const {
    std::ifstream in(dir_ / "count");
    int n = 0;
    in >> n;
    return n;
  }

  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return {std::istreambuf_iterator<char>(in),
            std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

std::string token_of(credential_source& source) {
  auto r = source.get();
  EXPECT_TRUE(r) << r.error().message;
  return r ? r->bearer_token : std::string();
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  std::array<char, 32> buf{};
  const auto n =
      std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf.data(), n};
}

TEST_F(ExecCredentialSource, ReturnsThePluginsToken) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = script("token", R"(cat <<'EOF'
{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
 "status": {"token": "plugin-token"}}
EOF
)");
  auto source = make_exec_credential_source(exec, "https://api.example:6443");
  EXPECT_EQ(token_of(*source), "plugin-token");
  EXPECT_EQ(source->describe(), "exec plugin " + exec.command);
}

TEST_F(ExecCredentialSource, PassesArgsEnvAndExecInfo) {
  exec_config exec;
  exec.api_version = v1beta1;
  exec.command = script("env", R"(
printf '%s' "$KUBERNETES_EXEC_INFO" > "$OUT_DIR/exec_info.json"
case "$KUBERNETES_EXEC_INFO" in
  *'"interactive":false'*) mode=noninteractive ;;
  *) mode=unknown ;;
esac
echo "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"$PREFIX-$1-$2-$mode\"}}"
)");
  exec.args = {"first", "second"};
  exec.env = {{"OUT_DIR", dir_.string()}, {"PREFIX", "from-env"}};
  exec.provide_cluster_info = true;
  auto source = make_exec_credential_source(exec, "https://api.example:6443");
  EXPECT_EQ(token_of(*source), "from-env-first-second-noninteractive");

  const auto info = nlohmann::json::parse(read("exec_info.json"));
  EXPECT_EQ(info, nlohmann::json::parse(R"({
    "apiVersion": "client.authentication.k8s.io/v1beta1",
    "kind": "ExecCredential",
    "spec": {"interactive": false,
             "cluster": {"server": "https://api.example:6443"}}})"));
}

TEST_F(ExecCredentialSource, ExecInfoHasNoClusterUnlessAsked) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = script("env", R"(
printf '%s' "$KUBERNETES_EXEC_INFO" > "$OUT_DIR/exec_info.json"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'
)");
  exec.env = {{"OUT_DIR", dir_.string()}};
  auto source = make_exec_credential_source(exec, "https://api.example:6443");
  EXPECT_EQ(token_of(*source), "t");
  EXPECT_EQ(nlohmann::json::parse(read("exec_info.json")),
            nlohmann::json::parse(R"({
    "apiVersion": "client.authentication.k8s.io/v1",
    "kind": "ExecCredential",
    "spec": {"interactive": false}})"));
}

TEST_F(ExecCredentialSource, CachesACredentialWithoutExpiry) {
  auto source = make_exec_credential_source(counting_plugin(), "https://a");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(runs(), 1);
}

TEST_F(ExecCredentialSource, CachesUntilNearExpiry) {
  const auto later = rfc3339(std::chrono::system_clock::now() + 1h);
  auto source =
      make_exec_credential_source(counting_plugin(later), "https://a");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(runs(), 1);
}

TEST_F(ExecCredentialSource, ExpiredCredentialRerunsThePlugin) {
  auto source = make_exec_credential_source(
      counting_plugin("2000-01-01T00:00:00Z"), "https://a");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(token_of(*source), "tok-2");
  EXPECT_EQ(runs(), 2);
}

TEST_F(ExecCredentialSource, CredentialAboutToExpireRerunsThePlugin) {
  const auto soon = rfc3339(std::chrono::system_clock::now() + 3s);
  auto source = make_exec_credential_source(counting_plugin(soon), "https://a");
  EXPECT_EQ(token_of(*source), "tok-1");
  EXPECT_EQ(token_of(*source), "tok-2");
}

TEST_F(ExecCredentialSource, InvalidateRerunsThePlugin) {
  auto source = make_exec_credential_source(counting_plugin(), "https://a");
  EXPECT_EQ(token_of(*source), "tok-1");
  source->invalidate();
  EXPECT_EQ(token_of(*source), "tok-2");
  EXPECT_EQ(token_of(*source), "tok-2");
  EXPECT_EQ(runs(), 2);
}

TEST_F(ExecCredentialSource, ConcurrentCallersShareOneRun) {
  auto source = make_exec_credential_source(counting_plugin(), "https://a");
  std::vector<std::string> tokens(8);
  {
    std::vector<std::jthread> threads;
    threads.reserve(tokens.size());
    for (auto& token : tokens) {
      threads.emplace_back([&source, &token] { token = token_of(*source); });
    }
  }
  for (const auto& token : tokens) EXPECT_EQ(token, "tok-1");
  EXPECT_EQ(runs(), 1);
}

TEST_F(ExecCredentialSource, FailingPluginReportsItsStderr) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = script("failing", "echo boom >&2\necho more >&2\nexit 1\n");
  auto source = make_exec_credential_source(exec, "https://a");
  auto r = source->get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              AllOf(HasSubstr(exec.command), HasSubstr("boom"),
                    HasSubstr("exited with code 1"), Not(HasSubstr("more"))));
}

TEST_F(ExecCredentialSource, LongStderrLineIsTruncated) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = script("failing",
                        "head -c 5000 /dev/zero | tr '\\0' x >&2\n"
                        "exit 2\n");
  auto r = make_exec_credential_source(exec, "https://a")->get();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr(std::string(200, 'x')));
  EXPECT_THAT(r.error().message, Not(HasSubstr(std::string(201, 'x'))));
}

TEST_F(ExecCredentialSource, UnparsableOutputIsAnError) {
  exec_config exec;
  exec.api_version = v1;
  exec.command =
      script("chatty", std::string("echo 'warning: cache stale' >&2\n"
                                   "echo 'token ") +
                           secret_token + "'\n");
  auto r = make_exec_credential_source(exec, "https://a")->get();
  ASSERT_FALSE(r);
  EXPECT_THAT(
      r.error().message,
      AllOf(HasSubstr(exec.command), HasSubstr("not JSON"),
            HasSubstr("warning: cache stale"), Not(HasSubstr(secret_token))));
}

TEST_F(ExecCredentialSource, WrongApiVersionFromPluginIsAnError) {
  exec_config exec;
  exec.api_version = v1beta1;
  exec.command = script(
      "v1",
      R"(echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}')"
      "\n");
  auto r = make_exec_credential_source(exec, "https://a")->get();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message,
              AllOf(HasSubstr(exec.command), HasSubstr("apiVersion")));
}

TEST_F(ExecCredentialSource, MissingPluginNamesTheCommandAndHint) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = (dir_ / "no-such-plugin").string();
  exec.install_hint = "install it with: apt-get install no-such-plugin";
  auto r = make_exec_credential_source(exec, "https://a")->get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().source, error_source::config);
  EXPECT_THAT(r.error().message,
              AllOf(HasSubstr(exec.command), HasSubstr(exec.install_hint)));
}

TEST_F(ExecCredentialSource, MissingPluginOnPathNamesTheCommand) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = "mca-no-such-exec-plugin";
  auto r = make_exec_credential_source(exec, "https://a")->get();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("mca-no-such-exec-plugin"));
}

TEST_F(ExecCredentialSource, FailureIsNotCached) {
  exec_config exec;
  exec.api_version = v1;
  exec.command = script("flaky", R"(
if [ -e "$OUT_DIR/ok" ]; then
  echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"recovered"}}'
else
  touch "$OUT_DIR/ok"; echo 'not yet' >&2; exit 1
fi
)");
  exec.env = {{"OUT_DIR", dir_.string()}};
  auto source = make_exec_credential_source(exec, "https://a");
  EXPECT_FALSE(source->get());
  EXPECT_EQ(token_of(*source), "recovered");
}

}  // namespace
}  // namespace mca::kube
