#include "app/server_options.hpp"

#include <ostream>

#include <boost/program_options.hpp>

#include "common/cli/standard_options.hpp"

namespace replica_server {

namespace po = boost::program_options;

namespace {

// Far above any replica-count body; far below what would hurt.
constexpr std::size_t body_bytes_max = std::size_t{1024} * 1024;

int usage_error(std::ostream& err, const std::string& message) {
  err << "replica-server: " << message << " (see replica-server --help)\n";
  return 2;
}

}  // namespace

std::optional<int> parse_server_options(int argc, const char* const* argv,
                                        server_options& options,
                                        std::ostream& out, std::ostream& err) {
  const mca::cli::program prog{
      "replica-server",
      "Replica Count Management Server (RFD 156): reads Deployments' replica "
      "counts from an informer's cache and sets them through the scale "
      "subresource, over HTTPS with mutual TLS 1.3.",
      "replica-server --tls-cert FILE --tls-key FILE --client-ca FILE "
      "[options]"};
  std::string listen = "127.0.0.1:8443";
  std::string log_format_text = "text";
  std::string log_level = "info";
  long max_body = static_cast<long>(options.max_body_bytes);
  long max_connections = static_cast<long>(options.max_connections);
  long kube_timeout = options.kube_timeout.count();
  long health_timeout = options.health_timeout.count();
  po::options_description desc("Server");
  // clang-format off
  desc.add_options()
      ("listen", po::value(&listen)->value_name("HOST:PORT"),
       "address and port of the HTTPS API (default 127.0.0.1:8443; port 0: "
       "any free port, logged at start)")
      ("tls-cert", po::value(&options.tls_cert_file)->value_name("FILE"),
       "the server's certificate (PEM, intermediates after it)")
      ("tls-key", po::value(&options.tls_key_file)->value_name("FILE"),
       "the server's private key (PEM, unencrypted)")
      ("client-ca", po::value(&options.client_ca_files)->value_name("FILE"),
       "CA bundle (PEM) whose client certificates are accepted; repeat for "
       "several")
      ("kubeconfig", po::value(&options.kubeconfig)->value_name("FILE"),
       "kubeconfig to use (default: in-cluster when "
       "KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG or ~/.kube/config)")
      ("context", po::value(&options.context)->value_name("NAME"),
       "kubeconfig context (default: its current-context)")
      ("service-account-dir",
       po::value(&options.service_account_dir)->value_name("DIR"),
       "in-cluster token, ca.crt and namespace (default "
       "/var/run/secrets/kubernetes.io/serviceaccount)")
      ("log-format", po::value(&log_format_text)->value_name("FORMAT"),
       "text (default) or json, one object per line")
      ("log-level", po::value(&log_level)->value_name("LEVEL"),
       "trace, debug, info (default), warn, error")
      ("max-body-bytes", po::value(&max_body)->value_name("N"),
       "largest request body accepted, else 413 (default 4096)")
      ("max-connections", po::value(&max_connections)->value_name("N"),
       "connections served at once; more wait (default 128)")
      ("kube-timeout", po::value(&kube_timeout)->value_name("SECONDS"),
       "timeout of each Kubernetes API request (default 10)")
      ("health-timeout", po::value(&health_timeout)->value_name("SECONDS"),
       "timeout of /health's API check (default 3)");
  // clang-format on
  po::variables_map vars;
  if (auto code = mca::cli::parse(prog, desc, vars, argc, argv, out, err)) {
    return code;
  }
  if (!mca::cli::split_host_port(listen, options.listen_address,
                                 options.listen_port)) {
    return usage_error(
        err, "--listen " + listen + " is not HOST:PORT (e.g. 127.0.0.1:8443)");
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return usage_error(err, "--tls-cert and --tls-key are required");
  }
  if (options.client_ca_files.empty()) {
    return usage_error(err,
                       "--client-ca is required: mutual TLS accepts only "
                       "client certificates from the CAs it names");
  }
  auto format = parse_log_format(log_format_text);
  if (!format) {
    return usage_error(
        err, "--log-format must be text or json, not " + log_format_text);
  }
  options.log = *format;
  const auto level = spdlog::level::from_str(log_level);
  // from_str answers "off" for what it does not know.
  if (level == spdlog::level::off && log_level != "off") {
    return usage_error(err, "--log-level " + log_level + " is not a level");
  }
  options.log_level = level;
  if (max_body < 1 || static_cast<std::size_t>(max_body) > body_bytes_max) {
    return usage_error(err, "--max-body-bytes must be from 1 to " +
                                std::to_string(body_bytes_max));
  }
  options.max_body_bytes = static_cast<std::size_t>(max_body);
  if (max_connections < 1 || max_connections > 100000) {
    return usage_error(err, "--max-connections must be from 1 to 100000");
  }
  options.max_connections = static_cast<std::size_t>(max_connections);
  if (kube_timeout < 1 || kube_timeout > 300 || health_timeout < 1 ||
      health_timeout > 300) {
    return usage_error(err,
                       "--kube-timeout and --health-timeout must be from 1 "
                       "to 300 seconds");
  }
  options.kube_timeout = std::chrono::seconds(kube_timeout);
  options.health_timeout = std::chrono::seconds(health_timeout);
  return std::nullopt;
}

kube_config_source choose_kube_config(const server_options& options,
                                      bool service_host_set) {
  if (!options.kubeconfig.empty()) return kube_config_source::kubeconfig_flag;
  if (service_host_set) return kube_config_source::in_cluster;
  return kube_config_source::default_kubeconfig;
}

}  // namespace replica_server
