// The LRU cache of finished runs' rendered tests (and their gzip bodies), bounded by bytes.

#include <memory>
#include <mutex>

#include "http/router.h"

namespace handoff::http {

std::size_t RunTestsCache::Entry::Bytes() const {
  return (tail ? tail->size() : 0) + (gzip ? gzip->head.size() + gzip->gzip.size() : 0);
}

RunTestsCache::RunTestsCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const std::string> RunTestsCache::Get(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->tail;
}

void RunTestsCache::Put(std::int64_t run_id, std::shared_ptr<const std::string> tail) {
  if (!tail || tail->size() > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (const auto it = index_.find(run_id); it != index_.end()) {
    bytes_ -= it->second->Bytes();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{run_id, std::move(tail), nullptr});
  bytes_ += lru_.front().Bytes();
  index_[run_id] = lru_.begin();
  EvictLocked();
}

std::shared_ptr<const GzipBody> RunTestsCache::GetGzip(std::int64_t run_id) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->gzip;
}

void RunTestsCache::PutGzip(std::int64_t run_id, std::shared_ptr<const GzipBody> gzip) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(run_id);
  if (it == index_.end()) return;
  Entry& entry = *it->second;
  const std::size_t tail_bytes = entry.tail ? entry.tail->size() : 0;
  if (gzip && tail_bytes + gzip->head.size() + gzip->gzip.size() > max_bytes_) gzip = nullptr;
  bytes_ -= entry.Bytes();
  entry.gzip = std::move(gzip);
  bytes_ += entry.Bytes();
  lru_.splice(lru_.begin(), lru_, it->second);
  EvictLocked();
}

void RunTestsCache::EvictLocked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().Bytes();
    index_.erase(lru_.back().run_id);
    lru_.pop_back();
  }
}

std::size_t RunTestsCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t RunTestsCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace handoff::http
