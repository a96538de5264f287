#include "operator/controller/control_loop.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/kube/connect.hpp"
#include "common/kube/kubeconfig.hpp"
#include "common/util/strings.hpp"
#include "operator/compile/target_resolver.hpp"
#include "operator/model/json_fields.hpp"

namespace mca::op {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

kube::resource_ref cluster_targets_ref() {
  return {"mca.x-k8s.io", "v1alpha1", "clustertargets", false};
}
kube::resource_ref routing_policies_ref() {
  return {"mca.x-k8s.io", "v1alpha1", "routingpolicies", true};
}

std::string namespace_of(const json& object) {
  const json* metadata = find(object, "metadata");
  if (metadata == nullptr) return {};
  return metadata->value("namespace", std::string());
}

// A condition as metav1.Condition, keeping lastTransitionTime when the
// status did not change since what the object already says.
json condition(const json& object, const std::string& type, bool status,
               const std::string& reason, const std::string& message,
               std::int64_t generation) {
  const std::string value = status ? "True" : "False";
  std::string since = rfc3339_now();
  if (const json* st = find(object, "status")) {
    if (const json* conditions = find(*st, "conditions");
        conditions != nullptr && conditions->is_array()) {
      for (const auto& c : *conditions) {
        if (c.value("type", "") == type && c.value("status", "") == value &&
            c.contains("lastTransitionTime")) {
          since = c["lastTransitionTime"];
        }
      }
    }
  }
  return {{"type", type},
          {"status", value},
          {"reason", reason},
          {"message", message.substr(0, 32768)},
          {"observedGeneration", generation},
          {"lastTransitionTime", since}};
}

// The status as written minus times, to tell whether it changed.
std::string fingerprint(json status) {
  if (status.contains("conditions")) {
    for (auto& c : status["conditions"]) c.erase("lastTransitionTime");
  }
  return status.dump();
}

// Built outside the coroutine: GCC 12 miscompiles initializer lists in
// coroutine bodies.
json policy_status(const json& object, const routing_policy& p,
                   const policy_verdict& v, std::int32_t selected_pods,
                   const std::string& nack) {
  std::vector<std::string> names(v.targets.begin(), v.targets.end());
  json status{{"observedGeneration", p.generation},
              {"selectedPods", selected_pods},
              {"targets", join(names, ",")},
              {"conditions",
               json::array({condition(object, "Accepted", v.accepted, v.reason,
                                      v.message, p.generation)})}};
  if (!nack.empty()) {
    status["conditions"].push_back(condition(
        object, "Delivered", false, "SidecarRejected", nack, p.generation));
  }
  return status;
}

json target_status(const json& object, const cluster_target& t,
                   const std::string& error, const probe_result* probe) {
  const bool ok = error.empty();
  json status{{"observedGeneration", t.generation},
              {"conditions",
               json::array({condition(
                   object, "CredentialsResolved", ok,
                   ok ? "Resolved" : "CredentialsUnavailable",
                   ok ? "the target's credentials and CA are available" : error,
                   t.generation)})}};
  if (!ok) {
    status["conditions"].push_back(condition(
        object, "Ready", false, "CredentialsUnavailable", error, t.generation));
  } else if (probe != nullptr) {
    status["conditions"].push_back(
        condition(object, "Ready", probe->ready,
                  probe->ready ? "Reachable" : "Unreachable", probe->message,
                  t.generation));
    status["lastProbeTime"] = probe->probed_at;
    if (!probe->version.empty()) status["version"] = probe->version;
  }
  return status;
}

std::string token_request_fingerprint(const token_request_credentials& t) {
  json j = json::object();
  j["sa"] = t.service_account;
  j["ns"] = t.namespace_name;
  j["aud"] = t.audiences;
  j["exp"] = t.expiration_seconds;
  if (t.minter) {
    j["secret"] = t.minter->secret.name;
    j["key"] = t.minter->secret.key;
    j["context"] = t.minter->context;
  }
  return j.dump();
}

kube::patch_options status_subresource() {
  kube::patch_options o;
  o.subresource = "status";
  return o;
}

json status_patch(json status) {
  json patch = json::object();
  patch["status"] = std::move(status);
  return patch;
}

}  // namespace

control_loop::control_loop(asio::io_context& io, kube::rest_client& home,
                           table_hub& hub, control_options options)
    : io_(io),
      home_(home),
      hub_(hub),
      options_(std::move(options)),
      debounce_(io),
      prober_(io.get_executor(), home),
      probe_timer_(io) {
  const auto everything = [this](const json&) { changed({}, true, {}); };
  const auto on_error = [](const char* what) {
    return [what](const error& e) {
      spdlog::warn("informer {}: {}", what, e.message);
    };
  };
  auto make = [&](kube::resource_ref ref, kube::informer_options o,
                  kube::informer_handlers h) {
    informers_.push_back(std::make_unique<kube::informer>(
        home_, std::move(ref), std::move(o), std::move(h)));
    return informers_.back().get();
  };
  targets_ = make(
      cluster_targets_ref(), {},
      {everything, [this](const json&, const json&) { changed({}, true, {}); },
       everything, on_error("clustertargets")});
  const auto policy_changed = [this](const json& p) {
    changed({namespace_of(p)}, false, {});
  };
  policies_ =
      make(routing_policies_ref(), {},
           {policy_changed,
            [this](const json& old_p, const json& new_p) {
              changed({namespace_of(old_p), namespace_of(new_p)}, false, {});
            },
            policy_changed, on_error("routingpolicies")});
  kube::informer_options secret_options;
  secret_options.namespace_name = options_.operator_namespace;
  secrets_ = make(
      kube::resources::secrets(), secret_options,
      {everything, [this](const json&, const json&) { changed({}, true, {}); },
       everything, on_error("secrets")});
  namespaces_ = make(
      kube::resources::namespaces(), {},
      {everything, [this](const json&, const json&) { changed({}, true, {}); },
       everything, on_error("namespaces")});
  kube::informer_options pod_options;
  pod_options.label_selector = "mca.k8s.io/inject=true";
  const auto pod_changed = [this](const json& p) {
    changed({}, false, kube::object_key(p));
    if (options_.on_pods_changed) options_.on_pods_changed();
  };
  pods_ = make(kube::resources::pods(), pod_options,
               {pod_changed,
                [this](const json&, const json& p) {
                  changed({}, false, kube::object_key(p));
                },
                [this](const json& p) {
                  const std::string uid =
                      p.value("/metadata/uid"_json_pointer, std::string());
                  tables_.erase(uid);
                  hub_.remove(uid);
                  changed({}, false, {});
                  if (options_.on_pods_changed) options_.on_pods_changed();
                },
                on_error("pods")});
}

control_loop::~control_loop() = default;

void control_loop::start() {
  for (auto& inf : informers_) {
    asio::co_spawn(io_, inf->run(), asio::detached);
  }
  changed({}, true, {});
}

void control_loop::stop() {
  stopping_ = true;
  debounce_.cancel();
  probe_timer_.cancel();
  for (auto& inf : informers_) inf->stop();
}

bool control_loop::synced() const {
  for (const auto& inf : informers_) {
    if (!inf->has_synced()) return false;
  }
  return true;
}

std::optional<pod_info> control_loop::injected_pod(
    const std::string& ns, const std::string& name) const {
  auto object = pods_->store().get(ns + "/" + name);
  if (!object) return std::nullopt;
  auto pod = parse_pod(*object);
  if (!pod) return std::nullopt;
  return *std::move(pod);
}

std::set<std::string> control_loop::injected_namespaces() const {
  std::set<std::string> out;
  for (const auto& pod : pods_->store().list()) {
    out.insert(pod->value("/metadata/namespace"_json_pointer, std::string()));
  }
  out.erase(std::string());
  return out;
}

void control_loop::set_writes_status(bool on) {
  asio::post(io_, [this, on] {
    writes_status_ = on;
    if (on) {
      written_.clear();
      changed({}, true, {});
    }
  });
}

void control_loop::record_nack(const std::string& pod_key,
                               const std::string& version,
                               const std::string& error) {
  asio::post(io_, [this, pod_key, version, error] {
    for (const auto& [uid, table] : tables_) {
      (void)uid;
      if (table.version != version) continue;
      for (const auto& policy : table.policies) {
        nacks_[policy] =
            "pod " + pod_key + " refused table " + version + ": " + error;
      }
    }
    changed({}, true, {});
  });
}

void control_loop::changed(std::set<std::string> namespaces, bool everything,
                           std::optional<std::string> pod_key) {
  if (stopping_) return;
  everything_dirty_ = everything_dirty_ || everything;
  dirty_namespaces_.merge(namespaces);
  if (pod_key) dirty_pods_.insert(*pod_key);
  if (scheduled_) return;
  scheduled_ = true;
  debounce_.expires_after(options_.debounce);
  debounce_.async_wait([this](const boost::system::error_code& ec) {
    scheduled_ = false;
    if (ec || stopping_) return;
    reconcile();
  });
}

void control_loop::reconcile() {
  if (!synced()) {
    // Compiling from half-filled caches would push wrong tables; try again
    // when the lists are in.
    changed({}, false, {});
    return;
  }
  hub_.set_ready(true);

  // Targets and what they resolve to.
  std::map<std::string, cluster_target> targets;
  std::map<std::string, mca::result<json>> resolved;
  std::map<std::string, json> entries;
  target_errors_.clear();
  const std::string secret_prefix = options_.operator_namespace + "/";
  std::map<std::string, kube::object_ptr> secret_objects;
  for (const auto& s : secrets_->store().list()) {
    secret_objects.emplace(kube::object_key(*s), s);
  }
  target_inputs inputs;
  inputs.secrets = [&](const std::string& name) -> const json* {
    const auto it = secret_objects.find(secret_prefix + name);
    return it == secret_objects.end() ? nullptr : it->second.get();
  };
  for (const auto& object : targets_->store().list()) {
    auto target = parse_cluster_target(*object);
    if (!target) {
      spdlog::warn("{}", target.error().message);
      continue;
    }
    inputs.minted_token.reset();
    if (const auto* tr =
            std::get_if<token_request_credentials>(&target->credentials)) {
      const std::string spec = token_request_fingerprint(*tr);
      const auto now = std::chrono::system_clock::now();
      const auto minted = minted_.find(target->name);
      const bool current = minted != minted_.end() &&
                           minted->second.spec == spec &&
                           now < minted->second.token.expires;
      if (current) inputs.minted_token = minted->second.token.token;
      if ((!current || now >= refresh_time(minted->second.token)) &&
          !minting_.contains(target->name)) {
        std::optional<std::string> kubeconfig;
        std::string context;
        if (tr->minter) {
          auto text =
              secret_value(inputs.secrets(tr->minter->secret.name),
                           tr->minter->secret.name, tr->minter->secret.key);
          if (text) kubeconfig = *text;
          context = tr->minter->context;
          if (!text) {
            target_errors_[target->name] = "ClusterTarget \"" + target->name +
                                           "\": " + text.error().message;
          }
        }
        if (!tr->minter || kubeconfig) {
          minting_.insert(target->name);
          asio::co_spawn(io_, mint_for(target->name, *tr, kubeconfig, context),
                         asio::detached);
        }
      }
    }
    auto entry = resolve_target(*target, inputs);
    if (!entry) {
      target_errors_[target->name] = entry.error().message;
    } else {
      entries[target->name] = *entry;
    }
    resolved.emplace(target->name, std::move(entry));
    const std::string name = target->name;
    targets.emplace(name, *std::move(target));
  }

  namespace_facts facts;
  facts.operator_namespace = options_.operator_namespace;
  for (const auto& ns : namespaces_->store().list()) {
    facts.labels[kube::object_key(*ns)] = labels_of(*ns);
  }

  std::vector<routing_policy> policies;
  verdicts_.clear();
  for (const auto& object : policies_->store().list()) {
    auto p = parse_routing_policy(*object);
    if (!p) {
      spdlog::warn("{}", p.error().message);
      continue;
    }
    verdicts_[p->key()] = judge_policy(*p, targets, facts);
    policies.push_back(*std::move(p));
  }

  std::size_t failed = 0;
  selected_.clear();
  for (const auto& object : pods_->store().list()) {
    auto pod = parse_pod(*object);
    if (!pod) continue;
    for (const auto& p : policies) {
      if (policy_selects(p, *pod)) ++selected_[p.key()];
    }
    if (!everything_dirty_ &&
        !dirty_namespaces_.contains(pod->namespace_name) &&
        !dirty_pods_.contains(pod->key())) {
      continue;
    }
    std::vector<const routing_policy*> selecting;
    std::string refused;
    for (const auto& p : policies) {
      if (!policy_selects(p, *pod)) continue;
      const auto& verdict = verdicts_[p.key()];
      if (!verdict.accepted) {
        refused = p.key() + " is not accepted (" + verdict.reason + ")";
        break;
      }
      selecting.push_back(&p);
    }
    if (!refused.empty()) {
      spdlog::info("pod {}: keeps its last table: {}", pod->key(), refused);
      continue;
    }
    auto table = compile_pod_table(*pod, selecting, targets, resolved);
    if (!table) {
      ++failed;
      spdlog::info("pod {}: keeps its last table: {}", pod->key(),
                   table.error().message);
      continue;
    }
    auto& last = tables_[pod->uid];
    if (last.version == table->version) continue;
    spdlog::info("pod {}: table {} from {}", pod->key(), table->version,
                 join(table->policies, ","));
    hub_.publish(pod->uid, table->version,
                 std::make_shared<const std::string>(table->json));
    last = *std::move(table);
  }
  if (options_.on_reconciled) options_.on_reconciled(failed == 0);
  everything_dirty_ = false;
  dirty_namespaces_.clear();
  dirty_pods_.clear();

  entries_ = std::move(entries);
  if (writes_status_ && !probing_) {
    const std::string fingerprint_now = json(entries_).dump();
    const auto now = std::chrono::steady_clock::now();
    if (fingerprint_now != probed_entries_ ||
        now - last_probe_ >= std::chrono::seconds(30)) {
      probing_ = true;
      last_probe_ = now;
      probed_entries_ = fingerprint_now;
      asio::co_spawn(io_, probe_targets(), asio::detached);
    }
  }
  if (writes_status_ && !writing_status_) {
    writing_status_ = true;
    asio::co_spawn(io_, write_status(), asio::detached);
  }
}

asio::awaitable<void> control_loop::mint_for(
    std::string target, token_request_credentials spec,
    std::optional<std::string> kubeconfig, std::string context) {
  kube::rest_client* client = &home_;
  std::unique_ptr<kube::rest_client> remote;
  mca::result<minted_token> minted =
      error::of(error_source::internal, "not minted");
  bool ready = true;
  if (kubeconfig) {
    auto config = kube::parse_kubeconfig(
        *kubeconfig, "minting kubeconfig of ClusterTarget " + target,
        "/nonexistent-secret-dir",
        context.empty() ? std::nullopt : std::optional<std::string>(context));
    if (!config) {
      minted = config.error();
      ready = false;
    } else if (auto transport =
                   kube::make_transport(io_.get_executor(), *config);
               !transport) {
      minted = transport.error();
      ready = false;
    } else {
      remote = std::make_unique<kube::rest_client>(*transport);
      client = remote.get();
    }
  }
  if (ready) minted = co_await mint_token(*client, spec);
  minting_.erase(target);
  auto timer = std::make_shared<asio::steady_timer>(io_);
  if (minted) {
    spdlog::info(
        "ClusterTarget {}: minted a token for {}/{}, valid until {}s "
        "from now",
        target, spec.namespace_name, spec.service_account,
        std::chrono::duration_cast<std::chrono::seconds>(
            minted->expires - std::chrono::system_clock::now())
            .count());
    const auto refresh = refresh_time(*minted);
    minted_[target] = {*std::move(minted), token_request_fingerprint(spec)};
    timer->expires_after(refresh - std::chrono::system_clock::now());
  } else {
    spdlog::warn("ClusterTarget {}: {}; retrying in 10 s", target,
                 minted.error().message);
    timer->expires_after(std::chrono::seconds(10));
  }
  if (stopping_) co_return;
  changed({}, true, {});
  timer->async_wait([this, timer](const boost::system::error_code& ec) {
    if (!ec && !stopping_) changed({}, true, {});
  });
}

asio::awaitable<void> control_loop::probe_targets() {
  const auto entries = entries_;
  std::map<std::string, probe_result> results;
  for (const auto& [name, entry] : entries) {
    if (stopping_) break;
    results[name] = co_await prober_.probe(name, entry);
    if (options_.on_probed) options_.on_probed(name, results[name].ready);
  }
  probes_ = std::move(results);
  probing_ = false;
  if (stopping_) co_return;
  changed({}, false, {});
  // Probed again in 30 s even when nothing changes.
  probe_timer_.expires_after(std::chrono::seconds(30));
  probe_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopping_) changed({}, false, {});
  });
}

asio::awaitable<void> control_loop::write_status() {
  for (const auto& object : policies_->store().list()) {
    if (stopping_) break;
    auto p = parse_routing_policy(*object);
    if (!p) continue;
    const auto count = selected_.find(p->key());
    const auto verdict_it = verdicts_.find(p->key());
    if (verdict_it == verdicts_.end()) continue;
    json status = policy_status(
        *object, *p, verdict_it->second,
        count == selected_.end() ? 0 : count->second,
        nacks_.contains(p->key()) ? nacks_.at(p->key()) : std::string());
    const std::string key = "policy/" + p->key();
    const std::string print = fingerprint(status);
    if (written_[key] == print) continue;
    auto done =
        co_await home_.patch(routing_policies_ref(), p->namespace_name, p->name,
                             kube::patch_type::merge_patch,
                             status_patch(status).dump(), status_subresource());
    if (done) {
      written_[key] = print;
    } else {
      spdlog::warn("status of RoutingPolicy {}: {}", p->key(),
                   done.error().message);
    }
  }
  for (const auto& object : targets_->store().list()) {
    if (stopping_) break;
    auto t = parse_cluster_target(*object);
    if (!t) continue;
    const auto err = target_errors_.find(t->name);
    const auto probe = probes_.find(t->name);
    json status = target_status(
        *object, *t, err == target_errors_.end() ? std::string() : err->second,
        probe == probes_.end() ? nullptr : &probe->second);
    const std::string key = "target/" + t->name;
    const std::string print = fingerprint(status);
    if (written_[key] == print) continue;
    auto done = co_await home_.patch(
        cluster_targets_ref(), "", t->name, kube::patch_type::merge_patch,
        status_patch(status).dump(), status_subresource());
    if (done) {
      written_[key] = print;
    } else {
      spdlog::warn("status of ClusterTarget {}: {}", t->name,
                   done.error().message);
    }
  }
  writing_status_ = false;
}

}  // namespace mca::op
