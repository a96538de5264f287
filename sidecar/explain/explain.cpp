#include "sidecar/explain/explain.hpp"

#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "common/routing/request_facts.hpp"
#include "common/util/strings.hpp"
#include "common/util/text_file.hpp"

namespace mca::sidecar {
namespace {

namespace po = boost::program_options;

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string render(const std::map<std::string, std::string>& m) {
  if (m.empty()) return "(none)";
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ", ";
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string by_rule(const routing::decision& d) {
  return d.rule.empty() ? "(defaultTarget)" : "(rule " + d.rule + ")";
}

}  // namespace

mca::result<std::string> explain(const routing::routing_table& table,
                                 const explain_input& input) {
  auto inspected = routing::inspect(input.method, input.target,
                                    input.content_type, input.body);
  if (!inspected) return inspected.error();
  const auto& info = inspected->info;
  const auto facts = routing::facts_of(*inspected, input.user_agent);
  const auto d = routing::match(table, facts);

  std::ostringstream out;
  out << "request:     " << input.method << " " << input.target << "\n";
  out << "verb:        " << routing::to_string(info.kind) << "\n";
  if (info.is_resource_request) {
    out << "resource:    " << info.resource
        << (info.subresource.empty() ? "" : "/" + info.subresource)
        << " (group \"" << info.group << "\", version " << info.version
        << ")\n";
    out << "namespace:   " << or_dash(info.namespace_name) << "\n";
    out << "name:        " << or_dash(info.name) << "\n";
  } else {
    out << "path:        " << info.path << " (not a resource)\n";
  }
  if (!info.label_selector.empty()) {
    out << "selector:    " << info.label_selector << "\n";
  }
  if (facts.labels) {
    out << "labels:      " << render(*facts.labels)
        << (inspected->object ? " (from the body)" : " (from the selector)")
        << "\n";
  } else {
    out << "labels:      unknown (no object in this request)\n";
  }
  out << "decision:    ";
  switch (d.what) {
    case routing::decision::kind::route:
      out << "route to " << d.target << " " << by_rule(d) << "\n";
      break;
    case routing::decision::kind::reject:
      out << "reject with " << d.code << ": " << d.message << " " << by_rule(d)
          << "\n";
      break;
    case routing::decision::kind::fan_out:
      out << "fan out to " << join(d.candidates, ", ") << " and merge ("
          << (d.allow_partial ? "partial allowed" : "partial denied") << ") "
          << by_rule(d) << "\n";
      break;
    case routing::decision::kind::locate:
      out << "locate among " << join(d.candidates, ", ")
          << " (the object's labels decide: the placement index, else a GET "
             "to each)\n";
      break;
  }
  out << "table:       version " << table.version << ", policy "
      << or_dash(table.policy) << "\n";
  return out.str();
}

int run_explain(int argc, const char* const* argv, std::ostream& out,
                std::ostream& err) {
  po::options_description options("mca-sidecar explain");
  std::string routes, body_file, content_type, user_agent, method, target;
  options.add_options()("help,h", "print this help")(
      "routes", po::value(&routes), "routing table file (YAML or JSON)")(
      "body", po::value(&body_file), "request body file (create/update/apply)")(
      "content-type",
      po::value(&content_type)->default_value("application/json"),
      "Content-Type of the body")("user-agent", po::value(&user_agent),
                                  "User-Agent the client sends")(
      "method", po::value(&method), "HTTP method")("target", po::value(&target),
                                                   "request path and query");
  po::positional_options_description positional;
  positional.add("method", 1).add("target", 1);
  po::variables_map vars;
  const char* usage =
      "usage: mca-sidecar explain --routes FILE [--body FILE] "
      "[--content-type T] [--user-agent UA] METHOD TARGET";
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(options)
                  .positional(positional)
                  .run(),
              vars);
    po::notify(vars);
  } catch (const po::error& e) {
    err << "mca-sidecar explain: " << e.what() << "\n" << usage << "\n";
    return 2;
  }
  if (vars.count("help") != 0U) {
    out << usage << "\n\n" << options;
    return 0;
  }
  if (routes.empty() || method.empty() || target.empty()) {
    err << "mca-sidecar explain: needs --routes, METHOD and TARGET\n"
        << usage << "\n";
    return 2;
  }
  auto table = routing::load_routing_table_file(routes);
  if (!table) {
    err << "mca-sidecar explain: " << table.error().message << "\n";
    return 1;
  }
  explain_input input{method, target, content_type, {}, user_agent};
  if (!body_file.empty()) {
    auto body = util::read_text_file(body_file);
    if (!body) {
      err << "mca-sidecar explain: body file: " << body.error().message << "\n";
      return 1;
    }
    input.body = std::move(*body);
  }
  auto text = explain(*table, input);
  if (!text) {
    err << "mca-sidecar explain: " << text.error().message << "\n";
    return 1;
  }
  out << *text;
  return 0;
}

}  // namespace mca::sidecar
