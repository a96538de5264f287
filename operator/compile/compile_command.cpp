#include "operator/compile/compile_command.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "common/routing/routing_table.hpp"
#include "common/routing/table_json.hpp"
#include "common/util/text_file.hpp"
#include "common/util/yaml_json.hpp"
#include "operator/compile/policy_compiler.hpp"
#include "operator/compile/target_resolver.hpp"

namespace mca::op {

namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;
using json = nlohmann::json;

struct usage_error {
  std::string message;
};

std::vector<json> read_objects(const fs::path& path) {
  auto text = util::read_text_file(path);
  if (!text) throw usage_error{text.error().message};
  std::vector<json> out;
  try {
    for (const auto& doc : YAML::LoadAll(*text)) {
      if (doc.IsNull()) continue;
      json object = util::yaml_to_json(doc);
      if (object.value("kind", "") == "List" && object.contains("items")) {
        for (auto& item : object["items"]) out.push_back(std::move(item));
      } else {
        out.push_back(std::move(object));
      }
    }
  } catch (const YAML::Exception& e) {
    throw usage_error{path.string() + ": " + e.what()};
  }
  return out;
}

std::vector<json> read_dir(const std::string& dir) {
  std::vector<json> out;
  if (dir.empty()) return out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw usage_error{dir + " is not a directory"};
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    for (auto& o : read_objects(f)) out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

int run_compile_command(int argc, char** argv, std::ostream& out,
                        std::ostream& err) {
  std::string pod_file, policies_dir, targets_dir, secrets_dir;
  std::string ns = "mca-system";
  po::options_description options("mca-operator compile");
  // clang-format off
  options.add_options()
      ("help", "this help")
      ("pod", po::value(&pod_file)->value_name("FILE"), "the Pod (YAML or JSON)")
      ("policies", po::value(&policies_dir)->value_name("DIR"), "RoutingPolicies")
      ("targets", po::value(&targets_dir)->value_name("DIR"), "ClusterTargets")
      ("secrets", po::value(&secrets_dir)->value_name("DIR"),
       "Secrets the targets reference (optional)")
      ("namespace", po::value(&ns)->value_name("NS"),
       "the operator's namespace (default mca-system)");
  // clang-format on
  po::variables_map vars;
  try {
    po::store(po::parse_command_line(argc, argv, options), vars);
    po::notify(vars);
  } catch (const po::error& e) {
    err << "mca-operator compile: " << e.what() << "\n";
    return 2;
  }
  if (vars.count("help") != 0) {
    out << "Usage: mca-operator compile --pod POD.yaml --policies DIR "
           "--targets DIR [--secrets DIR]\n"
        << options;
    return 0;
  }
  if (pod_file.empty() || policies_dir.empty() || targets_dir.empty()) {
    err << "mca-operator compile: --pod, --policies and --targets are "
           "required\n";
    return 2;
  }
  try {
    const auto pods = read_objects(pod_file);
    if (pods.size() != 1) throw usage_error{pod_file + ": expected one Pod"};
    auto pod = parse_pod(pods.front());
    if (!pod) throw usage_error{pod.error().message};

    std::map<std::string, json> secrets;
    for (auto& s : read_dir(secrets_dir)) {
      secrets[s["metadata"].value("name", "")] = std::move(s);
    }
    target_inputs inputs;
    inputs.secrets = [&](const std::string& name) -> const json* {
      const auto it = secrets.find(name);
      return it == secrets.end() ? nullptr : &it->second;
    };
    std::map<std::string, cluster_target> targets;
    std::map<std::string, mca::result<json>> resolved;
    for (const auto& object : read_dir(targets_dir)) {
      if (object.value("kind", "") != "ClusterTarget") continue;
      auto t = parse_cluster_target(object);
      if (!t) throw usage_error{t.error().message};
      resolved.emplace(t->name, resolve_target(*t, inputs));
      const std::string name = t->name;
      targets.emplace(name, *std::move(t));
    }
    namespace_facts facts;
    facts.operator_namespace = ns;
    std::vector<routing_policy> policies;
    for (const auto& object : read_dir(policies_dir)) {
      if (object.value("kind", "") != "RoutingPolicy") continue;
      auto p = parse_routing_policy(object);
      if (!p) throw usage_error{p.error().message};
      policies.push_back(*std::move(p));
    }
    std::vector<const routing_policy*> selecting;
    for (const auto& p : policies) {
      if (!policy_selects(p, *pod)) continue;
      const auto v = judge_policy(p, targets, facts);
      if (!v.accepted) {
        err << "mca-operator compile: RoutingPolicy " << p.key()
            << " is not accepted (" << v.reason << "): " << v.message << "\n";
        return 1;
      }
      selecting.push_back(&p);
    }
    auto table = compile_pod_table(*pod, selecting, targets, resolved);
    if (!table) throw usage_error{table.error().message};
    auto parsed = routing::routing_table::parse(table->json);
    if (!parsed) throw usage_error{parsed.error().message};
    out << routing::to_redacted_json(*parsed).dump(2) << "\n";
    return 0;
  } catch (const usage_error& e) {
    err << "mca-operator compile: " << e.message << "\n";
    return 1;
  }
}

}  // namespace mca::op
