#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mca::routing {

// Identifies one API object across clusters. The API version is left out on
// purpose: the same object is served under every version of its group.
struct object_ref {
  std::string group;           // "" for core
  std::string resource;        // plural, e.g. "configmaps"
  std::string namespace_name;  // "" for cluster-scoped
  std::string name;

  bool operator==(const object_ref&) const = default;
};

// Which cluster holds which object, learned from the sidecar's own successful
// creates and from objects seen in list/watch responses it proxied. A request
// that names an object but carries no labels (get/delete/patch by name) is
// routed by looking the object up here.
//
// Bounded: least recently used entries are evicted, so a sidecar watching a
// large cluster cannot grow without limit. An evicted entry only costs a
// fallback (the caller asks the clusters), never a wrong answer.
//
// Thread-safe: proxy workers share one index, so every operation takes one
// mutex. Operations are O(1) except forget_cluster (O(size)), which only runs
// when the routing table changes.
class placement_index {
 public:
  // capacity 0 means "remember nothing": every lookup misses.
  explicit placement_index(std::size_t capacity);

  placement_index(const placement_index&) = delete;
  placement_index& operator=(const placement_index&) = delete;
  placement_index(placement_index&&) = delete;
  placement_index& operator=(placement_index&&) = delete;
  ~placement_index() = default;

  // Inserts, or moves an existing entry to the front and replaces its
  // cluster (the object was recreated elsewhere).
  void remember(const object_ref& ref, std::string cluster);

  // Marks the entry as recently used: an object being read is likely to be
  // read again.
  std::optional<std::string> lookup(const object_ref& ref);

  // After a delete, or a 404 from the cluster the index pointed at.
  void forget(const object_ref& ref);

  // A target left the routing table; its entries would only misroute.
  void forget_cluster(const std::string& cluster);

  // Learns the objects in a JSON response body from `cluster`:
  //   - a list, {"items":[{"metadata":{"name":..,"namespace":..}}, ...]};
  //   - a watch event, {"type":..,"object":{...}}; a DELETED event forgets
  //     its object instead (and counts as 0), so a proxied watch keeps the
  //     index current;
  //   - a single object, {"metadata":{...}}.
  // Only `collection.group` and `collection.resource` are used; each item
  // brings its own namespace and name. Items without a string
  // metadata.name are skipped. Returns how many objects were remembered
  // (before any eviction); malformed JSON or an unexpected shape gives 0.
  std::size_t remember_list(const object_ref& collection,
                            std::string_view list_json,
                            const std::string& cluster);

  std::size_t size() const;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct entry {
    std::string key;  // the map's key views this string; see below
    std::string cluster;
  };
  using entry_list = std::list<entry>;

  // Callers hold mutex_.
  void remember_locked(std::string key, std::string cluster);
  void erase_locked(entry_list::iterator it);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  // Front is the most recently used. std::list because its nodes never move:
  // splicing an entry to the front keeps iterators and the address of
  // entry::key valid, which lets the map key be a view into the node instead
  // of a second copy of every key.
  entry_list entries_;
  std::unordered_map<std::string_view, entry_list::iterator> by_key_;
};

}  // namespace mca::routing
