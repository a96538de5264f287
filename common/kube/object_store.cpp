#include "common/kube/object_store.hpp"

#include <mutex>

namespace mca::kube {

std::string object_key(const nlohmann::json& object) {
  const auto& meta = object.at("metadata");
  const std::string name = meta.value("name", "");
  const std::string ns = meta.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

object_ptr object_store::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<object_ptr> object_store::list() const {
  std::shared_lock lock(mutex_);
  std::vector<object_ptr> out;
  out.reserve(items_.size());
  for (const auto& [key, object] : items_) out.push_back(object);
  return out;
}

std::size_t object_store::size() const {
  std::shared_lock lock(mutex_);
  return items_.size();
}

object_ptr object_store::upsert(const std::string& key, object_ptr object) {
  std::unique_lock lock(mutex_);
  auto& slot = items_[key];
  std::swap(slot, object);
  return object;
}

object_ptr object_store::erase(const std::string& key) {
  std::unique_lock lock(mutex_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  auto old = std::move(it->second);
  items_.erase(it);
  return old;
}

std::map<std::string, object_ptr> object_store::replace(
    std::map<std::string, object_ptr> items) {
  std::unique_lock lock(mutex_);
  std::swap(items_, items);
  return items;
}

}  // namespace mca::kube
