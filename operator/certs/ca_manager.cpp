#include "operator/certs/ca_manager.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "operator/certs/bundle_documents.hpp"

namespace mca::op {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using system_clock = std::chrono::system_clock;

kube::resource_ref mutating_webhook_configurations() {
  return {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
          false};
}

std::string apply_body(const json& object) { return object.dump(); }

}  // namespace

ca_manager::ca_manager(asio::io_context& io, kube::rest_client& home,
                       ca_manager_options options)
    : io_(io), home_(home), options_(std::move(options)), wake_(io) {
  const auto on_error = [](const char* what) {
    return [what](const error& e) {
      spdlog::warn("informer {}: {}", what, e.message);
    };
  };
  kube::informer_options secret_options;
  secret_options.namespace_name = options_.namespace_name;
  secret_options.field_selector = "metadata.name=" + options_.secret_name;
  const auto secret_event = [this](const json&) { secret_changed(); };
  secrets_ = std::make_unique<kube::informer>(
      home_, kube::resources::secrets(), secret_options,
      kube::informer_handlers{
          secret_event, [this](const json&, const json&) { secret_changed(); },
          secret_event, on_error("certificate secret")});
  const auto poke_event = [this](const json&) { poke(); };
  if (!options_.webhook_configuration.empty()) {
    kube::informer_options webhook_options;
    webhook_options.field_selector =
        "metadata.name=" + options_.webhook_configuration;
    webhooks_ = std::make_unique<kube::informer>(
        home_, mutating_webhook_configurations(), webhook_options,
        kube::informer_handlers{
            poke_event, [this](const json&, const json&) { poke(); },
            poke_event, on_error("mutatingwebhookconfigurations")});
  }
  kube::informer_options map_options;
  map_options.field_selector =
      "metadata.name=" + std::string(ca_bundle_config_map_name);
  map_options.label_selector =
      std::string(ca_owner_label) + "=" + options_.namespace_name;
  config_maps_ = std::make_unique<kube::informer>(
      home_, kube::resources::config_maps(), map_options,
      kube::informer_handlers{poke_event,
                              [this](const json&, const json&) { poke(); },
                              poke_event, on_error("ca bundle configmaps")});
}

ca_manager::~ca_manager() = default;

void ca_manager::start() {
  asio::co_spawn(io_, secrets_->run(), asio::detached);
  if (webhooks_) asio::co_spawn(io_, webhooks_->run(), asio::detached);
  asio::co_spawn(io_, config_maps_->run(), asio::detached);
}

void ca_manager::stop() {
  stopping_ = true;
  wake_.cancel();
  secrets_->stop();
  if (webhooks_) webhooks_->stop();
  config_maps_->stop();
}

void ca_manager::set_leader(bool leader) {
  asio::post(io_, [this, leader] {
    leader_ = leader;
    if (leader_ && !loop_running_ && !stopping_) {
      loop_running_ = true;
      asio::co_spawn(io_, leader_loop(), asio::detached);
    }
    poke();
  });
}

void ca_manager::poke() { wake_.cancel(); }

std::shared_ptr<const grpc_tls_context> ca_manager::current() const {
  auto s = snapshot_.load();
  return s ? s->grpc : nullptr;
}

std::shared_ptr<const webhook_tls_context> ca_manager::webhook_context() const {
  auto s = snapshot_.load();
  return s ? s->webhook : nullptr;
}

std::string ca_manager::trust_bundle() const {
  auto s = snapshot_.load();
  return s ? s->trust : std::string();
}

std::string ca_manager::problem() const {
  std::lock_guard lock(problem_mutex_);
  return problem_;
}

void ca_manager::set_problem(std::string p) {
  std::lock_guard lock(problem_mutex_);
  problem_ = std::move(p);
}

std::string ca_manager::secret_where() const {
  return "Secret " + options_.namespace_name + "/" + options_.secret_name;
}

// Every replica: load what the Secret holds. A Secret that does not parse
// leaves the snapshot in force (serving keeps working) and says why.
void ca_manager::secret_changed() {
  poke();
  auto secret = secrets_->store().get(options_.namespace_name + "/" +
                                      options_.secret_name);
  if (!secret) {
    if (!loaded()) set_problem(secret_where() + " does not exist yet");
    return;
  }
  auto bundle = bundle_from_secret(*secret);
  if (!bundle) {
    spdlog::error("certificates: {}; serving the previous certificates",
                  bundle.error().message);
    set_problem(bundle.error().message);
    return;
  }
  auto s = std::make_shared<snapshot>();
  s->bundle = std::make_shared<const certificate_bundle>(*bundle);
  s->trust = op::trust_bundle(*bundle);
  const std::string origin = secret_where() + " tls.crt";
  auto grpc = grpc_tls_context::create(
      bundle->leaf.cert_pem, bundle->leaf.key_pem,
      certificate_paths{origin, secret_where() + " tls.key"});
  if (!grpc) {
    spdlog::error("certificates: {}", grpc.error().message);
    set_problem(grpc.error().message);
    return;
  }
  auto webhook =
      webhook_tls_context::create(bundle->leaf.cert_pem, bundle->leaf.key_pem);
  if (!webhook) {
    spdlog::error("certificates: {}", webhook.error().message);
    set_problem(webhook.error().message);
    return;
  }
  s->grpc = *grpc;
  s->webhook = *webhook;
  const std::string fingerprint = (*grpc)->fingerprint() + "/" + s->trust;
  set_problem({});
  if (fingerprint == loaded_fingerprint_) return;
  loaded_fingerprint_ = fingerprint;
  snapshot_.store(s);
  spdlog::info("certificates: serving {} (expires {}), trusting {} CA(s)",
               (*grpc)->subject(), format_rfc3339((*grpc)->not_after()),
               1 + (bundle->next_ca ? 1 : 0) + bundle->retiring_cas.size());
  if (options_.on_loaded) options_.on_loaded(*bundle);
}

asio::awaitable<void> ca_manager::leader_loop() {
  while (leader_ && !stopping_) {
    auto next = co_await reconcile();
    if (!leader_ || stopping_) break;
    const auto now = options_.clock();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min(next, now + options_.resync) - now);
    // Never spin: a step that keeps failing retries after a pause.
    wait = std::max(wait, std::chrono::milliseconds(200));
    wake_.expires_after(wait);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // A poke cancels the wait: give a burst of events a moment to settle.
    if (ec == asio::error::operation_aborted && !stopping_) {
      wake_.expires_after(std::chrono::milliseconds(50));
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  loop_running_ = false;
}

asio::awaitable<system_clock::time_point> ca_manager::reconcile() {
  const auto now = options_.clock();
  const auto retry = now + std::chrono::seconds(5);
  if (!secrets_->has_synced()) co_return now + std::chrono::seconds(1);
  std::optional<certificate_bundle> current;
  if (auto secret = secrets_->store().get(options_.namespace_name + "/" +
                                          options_.secret_name)) {
    auto parsed = bundle_from_secret(*secret);
    if (!parsed) {
      // Not ours to overwrite blindly: a person may be mid-edit, and
      // replacing it would drop the CA every client trusts.
      set_problem(parsed.error().message +
                  " (delete the Secret to have "
                  "the operator make a new CA)");
      co_return now + options_.resync;
    }
    current = *std::move(parsed);
  }
  const rotation_decision decision =
      plan_rotation(current, options_.policy, now);
  if (decision.step != rotation_step::none) {
    auto next = apply_rotation(current, decision.step, options_.policy, now);
    if (!next) {
      spdlog::error("certificates: {} failed: {}", to_string(decision.step),
                    next.error().message);
      set_problem(next.error().message);
      co_return retry;
    }
    auto written = co_await write_secret(*next, !current.has_value());
    if (!written) {
      spdlog::warn("certificates: {} of {}: {}", to_string(decision.step),
                   secret_where(), written.error().message);
      // Nothing was written: the Secret is created or replaced whole in
      // one request, so a refusal leaves no half of it behind.
      set_problem(std::string("cannot ") + (current ? "update " : "create ") +
                  secret_where() + ": " + written.error().message);
      co_return retry;
    }
    spdlog::info("certificates: {}: {}", to_string(decision.step),
                 decision.reason);
    if (options_.on_rotated) options_.on_rotated(to_string(decision.step));
    // The informer brings the written Secret back; the next pass starts
    // from it (and its resourceVersion).
    co_return now;
  }
  if (!current) co_return retry;
  auto published = co_await publish(op::trust_bundle(*current));
  if (!published) {
    spdlog::warn("certificates: publishing the CA bundle: {}",
                 published.error().message);
    co_return retry;
  }
  if (current->next_ca && !current->next_ca_published_at) {
    // Every client now trusts the next CA; start the clock after which a
    // leaf it signs may be served.
    auto marked = co_await write_secret(
        mark_next_ca_published(*current, options_.clock()), false);
    if (!marked) co_return retry;
    spdlog::info("certificates: next CA published to every bundle");
    co_return now;
  }
  co_return decision.next_check;
}

asio::awaitable<result<void>> ca_manager::write_secret(
    const certificate_bundle& bundle, bool create) {
  json secret =
      secret_for_bundle(bundle, options_.secret_name, options_.namespace_name);
  if (create) {
    auto r = co_await home_.create(kube::resources::secrets(),
                                   options_.namespace_name, std::move(secret));
    if (!r) {
      // Another replica won the race: its Secret is the one.
      if (r.error().is_api(409)) co_return result<void>();
      co_return r.error();
    }
    co_return result<void>();
  }
  auto stored = secrets_->store().get(options_.namespace_name + "/" +
                                      options_.secret_name);
  if (stored) {
    secret["metadata"]["resourceVersion"] =
        (*stored).value("/metadata/resourceVersion"_json_pointer, "");
  }
  auto r = co_await home_.update(kube::resources::secrets(),
                                 options_.namespace_name, std::move(secret));
  if (!r) co_return r.error();
  co_return result<void>();
}

asio::awaitable<result<void>> ca_manager::publish(std::string pem) {
  if (webhooks_) {
    auto configuration = webhooks_->store().get(options_.webhook_configuration);
    if (!configuration) {
      if (webhooks_->has_synced()) {
        set_problem("MutatingWebhookConfiguration " +
                    options_.webhook_configuration +
                    " does not exist; its caBundle cannot be kept");
      }
    } else if (!webhook_has_ca_bundle(*configuration, pem)) {
      kube::patch_options po;
      po.field_manager = std::string(ca_field_manager);
      po.force = true;
      auto r = co_await home_.patch(
          mutating_webhook_configurations(), "", options_.webhook_configuration,
          kube::patch_type::apply,
          apply_body(webhook_ca_bundle_apply(*configuration, pem)), po);
      if (!r) co_return r.error();
      spdlog::info(
          "certificates: caBundle of MutatingWebhookConfiguration "
          "{} applied",
          options_.webhook_configuration);
    }
  }
  std::set<std::string> namespaces;
  if (options_.injected_namespaces) namespaces = options_.injected_namespaces();
  for (const auto& cm : config_maps_->store().list()) {
    namespaces.insert(
        cm->value("/metadata/namespace"_json_pointer, std::string()));
  }
  std::optional<error> first_error;
  for (const auto& ns : namespaces) {
    if (ns.empty()) continue;
    // A namespace another installation's bundle already serves is left to
    // it; the webhook refuses pods there with the reason.
    auto r = co_await apply_config_map(ns, pem);
    if (!r && !r.error().is_api(404) && !first_error) first_error = r.error();
  }
  if (first_error) co_return *first_error;
  co_return result<void>();
}

asio::awaitable<result<std::string>> ca_manager::apply_config_map(
    std::string ns, std::string pem) {
  const std::string name(ca_bundle_config_map_name);
  // The informer sees only our own ConfigMaps (label selector).
  auto existing = config_maps_->store().get(ns + "/" + name);
  if (existing && config_map_has_bundle(*existing, pem)) {
    co_return std::string();
  }
  if (!existing) {
    auto found = co_await home_.get(kube::resources::config_maps(), ns, name);
    if (found) {
      const std::string owner = ca_bundle_owner(*found);
      if (owner != options_.namespace_name) {
        co_return owner.empty() ? std::string("someone else") : owner;
      }
    } else if (!found.error().is_api(404)) {
      co_return found.error();
    }
  }
  kube::patch_options po;
  po.field_manager = std::string(ca_field_manager);
  po.force = true;
  auto r = co_await home_.patch(
      kube::resources::config_maps(), ns, name, kube::patch_type::apply,
      apply_body(ca_bundle_config_map(ns, pem, options_.namespace_name)), po);
  if (!r) co_return r.error();
  co_return std::string();
}

asio::awaitable<result<void>> ca_manager::ensure_namespace_bundle(
    std::string ns) {
  const std::string pem = trust_bundle();
  if (pem.empty()) {
    co_return error::of(
        error_source::internal,
        "the operator has not loaded its CA yet (" + problem() + ")");
  }
  auto r = co_await apply_config_map(ns, pem);
  const std::string where =
      "ConfigMap " + ns + "/" + std::string(ca_bundle_config_map_name);
  if (!r) {
    co_return error::of(r.error().source,
                        "cannot write " + where +
                            " (the sidecar's CA bundle): " + r.error().message);
  }
  if (!r->empty()) {
    co_return error::of(
        error_source::config,
        where + " holds the CA bundle of the MCA operator in namespace " + *r +
            ", not this one's (" + options_.namespace_name +
            "): two MCA installations inject into namespace " + ns +
            "; keep one, or exclude the namespace from the other");
  }
  co_return result<void>();
}

}  // namespace mca::op
