#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mca::kube {

using object_ptr = std::shared_ptr<const nlohmann::json>;

// "namespace/name", or "name" for cluster-scoped objects.
std::string object_key(const nlohmann::json& object);

// The informer's cache. One writer (the informer) and any number of readers
// on any thread; objects are immutable and shared, so a reader's list() is a
// consistent snapshot that costs a pointer copy per object.
class object_store {
 public:
  object_ptr get(const std::string& key) const;
  std::vector<object_ptr> list() const;
  std::size_t size() const;

  // Writer side. Each returns the object it replaced or removed, if any.
  object_ptr upsert(const std::string& key, object_ptr object);
  object_ptr erase(const std::string& key);
  // Swaps in a complete new state (after a list); returns the old one.
  std::map<std::string, object_ptr> replace(
      std::map<std::string, object_ptr> items);

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, object_ptr> items_;
};

}  // namespace mca::kube
