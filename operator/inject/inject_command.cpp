#include "operator/inject/inject_command.hpp"

#include <exception>
#include <istream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/cli/standard_options.hpp"
#include "common/util/text_file.hpp"
#include "common/util/yaml_json.hpp"
#include "common/version/build_info.hpp"
#include "operator/config/operator_config.hpp"
#include "operator/inject/pod_injector.hpp"
#include "operator/inject/pod_templates.hpp"

namespace mca::op {

namespace {

namespace po = boost::program_options;
using json = nlohmann::json;

constexpr std::string_view command = "mca-operator inject";

std::string string_at(const json& object, std::string_view section,
                      std::string_view key) {
  const auto s = object.find(section);
  if (s == object.end() || !s->is_object()) return "";
  const auto v = s->find(key);
  return v != s->end() && v->is_string() ? v->get<std::string>() : "";
}

// "Deployment team-a/web", for messages.
std::string describe(const json& object) {
  const auto kind = object.find("kind");
  std::string out = kind != object.end() && kind->is_string()
                        ? kind->get<std::string>()
                        : "object";
  const std::string ns = string_at(object, "metadata", "namespace");
  std::string name = string_at(object, "metadata", "name");
  if (name.empty()) name = string_at(object, "metadata", "generateName") + "*";
  out += " " + (ns.empty() ? name : ns + "/" + name);
  return out;
}

// "/spec/template" as the field path "spec.template".
std::string field_path(const std::string& pointer) {
  std::string out = pointer.substr(pointer.empty() ? 0 : 1);
  for (char& c : out) {
    if (c == '/') c = '.';
  }
  return out;
}

class injector {
 public:
  injector(const injection_config& config, std::string default_namespace,
           std::vector<std::string> excluded, std::ostream& err)
      : config_(config),
        default_namespace_(std::move(default_namespace)),
        excluded_(std::move(excluded)),
        err_(err) {}

  // Injects `object` in place, or records why it cannot.
  void process(json& object, const std::string& where) {
    if (!object.is_object()) {
      fail(where + ": not a Kubernetes object (a map)");
      return;
    }
    // `kubectl get -o yaml` wraps what it lists in a List.
    const auto items = object.find("items");
    const auto kind = object.find("kind");
    if (items != object.end() && items->is_array() && kind != object.end() &&
        kind->is_string() && kind->get<std::string>().ends_with("List")) {
      for (std::size_t i = 0; i < items->size(); ++i) {
        process((*items)[i], where + " item " + std::to_string(i + 1));
      }
      return;
    }
    const auto ref = find_pod_template(object);
    if (!ref) return;
    const std::string what = where + " (" + describe(object) + ")";
    const std::string template_at =
        ref->pointer.empty()
            ? ""
            : "the pod template at " + field_path(ref->pointer) + ": ";
    const json::json_pointer pointer(ref->pointer);
    if (!object.contains(pointer) || !object.at(pointer).is_object()) {
      fail(what + ": no pod template at " + field_path(ref->pointer));
      return;
    }
    json& pod = object.at(pointer);
    const injection_context ctx{
        config_,
        ref->namespace_name.empty() ? default_namespace_ : ref->namespace_name,
        excluded_,
        std::string(current_build().version),
        injection_mode::cli,
    };
    auto result = inject_pod(pod, ctx);
    switch (result.outcome) {
      case injection_outcome::injected:
        pod.patch_inplace(result.patch);
        break;
      case injection_outcome::unchanged:
        break;
      case injection_outcome::skipped:
        err_ << command << ": " << what << ": skipped: " << result.reason
             << "\n";
        break;
      case injection_outcome::refused:
        fail(what + ": " + template_at + result.reason);
        break;
    }
  }

  bool failed() const noexcept { return failed_; }

 private:
  void fail(const std::string& message) {
    err_ << command << ": " << message << "\n";
    failed_ = true;
  }

  const injection_config& config_;
  std::string default_namespace_;
  std::vector<std::string> excluded_;
  std::ostream& err_;
  bool failed_ = false;
};

}  // namespace

int run_inject_command(int argc, char** argv, std::istream& in,
                       std::ostream& out, std::ostream& err) {
  const cli::program prog{
      std::string(command),
      "Injects the MCA sidecar into every pod and pod template of Kubernetes "
      "manifests, as the admission webhook would, and labels them for the "
      "operator. Writes the manifests to stdout: YAML (comments and key "
      "order are not kept), or JSON for a JSON input.",
      "mca-operator inject [--config FILE] [--namespace NS] "
      "[--operator-namespace NS] [-f FILE]"};
  std::string config_file, file;
  std::string ns, operator_ns = "mca-system";
  po::options_description options("Inject");
  // clang-format off
  options.add_options()
      ("filename,f", po::value(&file)->value_name("FILE"),
       "the manifests (YAML or JSON), default stdin (also \"-\")")
      ("config", po::value(&config_file)->value_name("FILE"),
       "the operator's configuration file (default: built-in defaults)")
      ("namespace", po::value(&ns)->value_name("NS"),
       "namespace of objects that do not name one")
      ("operator-namespace", po::value(&operator_ns)->value_name("NS"),
       "the operator's namespace, default mca-system: never injected, and "
       "where sidecars find the operator unless the configuration says");
  // clang-format on
  po::variables_map vars;
  if (auto code = cli::parse(prog, options, vars, argc, argv, out, err)) {
    return *code;
  }
  try {
    operator_config config;
    if (!config_file.empty()) {
      auto loaded = load_operator_config(config_file);
      if (!loaded) {
        err << command << ": " << loaded.error().message << "\n";
        return 1;
      }
      config = *std::move(loaded);
    }
    config.injection.operator_address =
        resolved_operator_address(config.injection, operator_ns);
    std::vector<std::string> excluded = config.injection.excluded_namespaces;
    excluded.push_back(operator_ns);

    std::string text, origin;
    if (file.empty() || file == "-") {
      text.assign(std::istreambuf_iterator<char>(in),
                  std::istreambuf_iterator<char>());
      origin = "<stdin>";
    } else {
      auto read = util::read_text_file(file);
      if (!read) {
        err << command << ": " << read.error().message << "\n";
        return 1;
      }
      text = *std::move(read);
      origin = file;
    }
    auto documents = util::parse_yaml_documents(text, origin);
    if (!documents) {
      err << command << ": " << documents.error().message << "\n";
      return 1;
    }

    injector inject(config.injection, ns, std::move(excluded), err);
    for (std::size_t i = 0; i < documents->size(); ++i) {
      inject.process((*documents)[i], "document " + std::to_string(i + 1));
    }
    // Nothing on stdout unless every object was injected: a pipe into
    // `kubectl apply` must not apply half of the manifests.
    if (inject.failed()) return 1;

    if (documents->size() == 1 && json::accept(text)) {
      out << documents->front().dump(2) << "\n";
      return 0;
    }
    std::string yaml;
    for (std::size_t i = 0; i < documents->size(); ++i) {
      if (i > 0) yaml += "---\n";
      yaml += util::json_to_yaml((*documents)[i]);
    }
    out << yaml;
    return 0;
  } catch (const std::exception& e) {
    err << command << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace mca::op
