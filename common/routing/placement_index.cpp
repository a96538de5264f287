#include "common/routing/placement_index.hpp"

#include <iterator>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mca::routing {
namespace {

using json = nlohmann::json;

// Unit separator: group, resource, namespace and name are DNS-style names or
// lowercase words and can never contain it, so distinct objects always get
// distinct keys.
constexpr char key_separator = '\x1f';

std::string make_key(std::string_view group, std::string_view resource,
                     std::string_view namespace_name, std::string_view name) {
  std::string key;
  key.reserve(group.size() + resource.size() + namespace_name.size() +
              name.size() + 3);
  key.append(group);
  key += key_separator;
  key.append(resource);
  key += key_separator;
  key.append(namespace_name);
  key += key_separator;
  key.append(name);
  return key;
}

std::string make_key(const object_ref& ref) {
  return make_key(ref.group, ref.resource, ref.namespace_name, ref.name);
}

// The key of an object in a response body, or nullopt when it cannot be
// identified (no string metadata.name, or a namespace that is not a string).
std::optional<std::string> item_key(const object_ref& collection,
                                    const json& item) {
  if (!item.is_object()) return std::nullopt;
  const auto metadata = item.find("metadata");
  if (metadata == item.end() || !metadata->is_object()) return std::nullopt;
  const auto name = metadata->find("name");
  if (name == metadata->end() || !name->is_string()) return std::nullopt;
  const auto& name_text = name->get_ref<const std::string&>();
  if (name_text.empty()) return std::nullopt;
  // Absent for cluster-scoped objects; the API server omits empty strings.
  std::string_view namespace_name;
  if (const auto ns = metadata->find("namespace"); ns != metadata->end()) {
    if (!ns->is_string()) return std::nullopt;
    namespace_name = ns->get_ref<const std::string&>();
  }
  return make_key(collection.group, collection.resource, namespace_name,
                  name_text);
}

}  // namespace

placement_index::placement_index(std::size_t capacity) : capacity_(capacity) {
  // Not reserved up front: capacity is an upper bound, and a large one would
  // otherwise cost memory on sidecars that never see that many objects.
}

void placement_index::remember(const object_ref& ref, std::string cluster) {
  if (capacity_ == 0) return;
  std::string key = make_key(ref);  // built before locking, to keep it short
  const std::lock_guard lock(mutex_);
  remember_locked(std::move(key), std::move(cluster));
}

std::optional<std::string> placement_index::lookup(const object_ref& ref) {
  const std::string key = make_key(ref);
  const std::lock_guard lock(mutex_);
  const auto found = by_key_.find(key);
  if (found == by_key_.end()) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, found->second);
  return found->second->cluster;
}

void placement_index::forget(const object_ref& ref) {
  const std::string key = make_key(ref);
  const std::lock_guard lock(mutex_);
  if (const auto found = by_key_.find(key); found != by_key_.end()) {
    erase_locked(found->second);
  }
}

void placement_index::forget_cluster(const std::string& cluster) {
  const std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto next = std::next(it);
    if (it->cluster == cluster) erase_locked(it);
    it = next;
  }
}

std::size_t placement_index::remember_list(const object_ref& collection,
                                           std::string_view list_json,
                                           const std::string& cluster) {
  if (capacity_ == 0) return 0;
  // Parsing happens before locking: a large list must not stall the proxy
  // workers doing lookups.
  const json body = json::parse(list_json.begin(), list_json.end(), nullptr,
                                /*allow_exceptions=*/false);
  if (!body.is_object()) return 0;  // also the "discarded" parse failure

  std::vector<std::string> learned;
  std::optional<std::string> deleted;
  if (const auto items = body.find("items"); items != body.end()) {
    if (!items->is_array()) return 0;
    learned.reserve(items->size());
    for (const json& item : *items) {
      if (auto key = item_key(collection, item)) {
        learned.push_back(std::move(*key));
      }
    }
  } else if (const auto object = body.find("object"); object != body.end()) {
    const auto type = body.find("type");
    const std::string_view event_type =
        type != body.end() && type->is_string()
            ? std::string_view(type->get_ref<const std::string&>())
            : std::string_view();
    // BOOKMARK objects carry only a resourceVersion and ERROR objects are a
    // Status; neither names an object of this collection.
    if (event_type == "BOOKMARK" || event_type == "ERROR") return 0;
    if (auto key = item_key(collection, *object)) {
      if (event_type == "DELETED") {
        deleted = std::move(key);
      } else {
        learned.push_back(std::move(*key));
      }
    }
  } else if (auto key = item_key(collection, body)) {
    learned.push_back(std::move(*key));
  }
  if (learned.empty() && !deleted) return 0;

  const std::lock_guard lock(mutex_);
  if (deleted) {
    if (const auto found = by_key_.find(*deleted); found != by_key_.end()) {
      erase_locked(found->second);
    }
  }
  for (std::string& key : learned) remember_locked(std::move(key), cluster);
  return learned.size();
}

std::size_t placement_index::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

void placement_index::remember_locked(std::string key, std::string cluster) {
  if (const auto found = by_key_.find(key); found != by_key_.end()) {
    found->second->cluster = std::move(cluster);
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  if (entries_.size() >= capacity_) erase_locked(std::prev(entries_.end()));
  entries_.push_front(entry{std::move(key), std::move(cluster)});
  // The view points into the node just inserted, which never moves.
  by_key_.emplace(entries_.front().key, entries_.begin());
}

void placement_index::erase_locked(entry_list::iterator it) {
  // The map entry goes first: its key is a view of it->key.
  by_key_.erase(it->key);
  entries_.erase(it);
}

}  // namespace mca::routing
