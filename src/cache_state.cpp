#include "engram/detail/cache_state.hpp"

namespace engram::detail {

CacheState::CacheState(const IndexConfig& index_config, std::size_t response_cache_bytes)
    : index_config_(index_config), payload_budget_(response_cache_bytes) {}

NamespaceState* CacheState::find_namespace(std::string_view ns) const {
  auto it = namespaces_.find(ns);
  return it == namespaces_.end() ? nullptr : it->second.get();
}

CacheState::EntryRef CacheState::resolve(IdCell cell) const {
  NamespaceState* ns = by_number_[cell.ns];
  const SlotRef slot = ns->exact.slot(cell.slot);
  return EntryRef{ns, slot.record, slot.access};
}

std::optional<CacheState::EntryRef> CacheState::find_id(EntryId id) const {
  const IdCell* cell = ids_.find(id);
  if (cell == nullptr) return std::nullopt;
  return resolve(*cell);
}

std::uint32_t CacheState::generation(EntryId id) const {
  const auto ref = find_id(id);
  return ref ? ref->access->generation : 0;
}

const CacheState::CachedPayload* CacheState::use_payload(EntryId id) const {
  auto it = payloads_.find(id);
  if (it == payloads_.end()) return nullptr;
  // Only write the flag when it changes, so hot entries do not bounce a cache line.
  if (!it->second.referenced.load(std::memory_order_relaxed))
    it->second.referenced.store(true, std::memory_order_relaxed);
  return &it->second;
}

const Payload* CacheState::peek_payload(EntryId id) const {
  const CachedPayload* cached = use_payload(id);
  return cached ? cached->payload.get() : nullptr;
}

std::shared_ptr<const Payload> CacheState::cached_payload(EntryId id) const {
  const CachedPayload* cached = use_payload(id);
  return cached ? cached->payload : nullptr;
}

void CacheState::record_access(SlotAccess& access, std::int64_t now_ms) {
  std::int64_t seen = access.last_access_ms.load(std::memory_order_relaxed);
  while (seen < now_ms && !access.last_access_ms.compare_exchange_weak(seen, now_ms, std::memory_order_relaxed)) {
  }
  if (access.pending_hits.fetch_add(1, std::memory_order_relaxed) == 0)
    pending_touches_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<Touch> CacheState::take_touches() {
  std::vector<Touch> touches;
  if (pending_touches_.load(std::memory_order_relaxed) == 0) return touches;
  touches.reserve(pending_touches_.load(std::memory_order_relaxed));
  ids_.for_each([&](EntryId id, IdCell cell) {
    SlotAccess& access = *resolve(cell).access;
    const std::uint32_t hits = access.pending_hits.exchange(0, std::memory_order_relaxed);
    if (hits == 0) return;
    touches.push_back({id, Timestamp(Millis(access.last_access_ms.load(std::memory_order_relaxed))), hits});
  });
  pending_touches_.fetch_sub(touches.size(), std::memory_order_relaxed);
  return touches;
}

NamespaceState& CacheState::namespace_for(std::string_view ns) {
  auto it = namespaces_.find(ns);
  if (it == namespaces_.end()) {
    const auto number = static_cast<std::uint32_t>(by_number_.size());
    it = namespaces_.emplace(std::string(ns), std::make_unique<NamespaceState>(std::string(ns), number, index_config_))
             .first;
    by_number_.push_back(it->second.get());
  }
  return *it->second;
}

void CacheState::place(NamespaceState& ns, const RowKey& row) {
  if (const auto existing = find_id(row.id); existing && (existing->ns != &ns || existing->record->hash != row.hash)) {
    remove(row.id);  // the id moved to another key (only a replaced store does this)
  }
  if (const SlotRef same_key = ns.exact.find(row.hash); same_key && same_key.record->id != row.id) {
    remove(same_key.record->id);  // an older row for this key that we never saw deleted
  }
  const std::uint32_t number = ns.exact.find_or_insert(row.hash);
  SlotRecord& record = ns.exact.writable_record(number);
  record.id = row.id;
  record.created_ms = to_ms(row.created_at);
  record.expires_ms = expiry_ms(row.created_at, row.ttl);
  if (++last_generation_ == 0) ++last_generation_;  // 0 means "not held"
  ns.exact.slot(number).access->generation = last_generation_;
  ids_.insert(row.id, IdCell{ns.number, number});
  drop_payload(row.id);  // the text may have changed; it is re-read or re-cached by the caller
}

void CacheState::upsert(const EntryInfo& entry) {
  NamespaceState& ns = namespace_for(entry.ns);
  place(ns, RowKey{entry.id, entry.hash, entry.created_at, entry.ttl});
  ns.index.add(entry.id, entry.embedding);
}

void CacheState::upsert_many(std::string_view ns_name, std::span<const RowKey> rows, std::span<const float> vectors) {
  if (rows.empty()) return;
  NamespaceState& ns = namespace_for(ns_name);
  std::vector<EntryId> ids;
  ids.reserve(rows.size());
  for (const RowKey& row : rows) {
    place(ns, row);
    ids.push_back(row.id);
  }
  ns.index.add_batch(ids, vectors);
}

bool CacheState::restore_namespace(std::string_view ns_name, const IndexImageView& index,
                                   std::shared_ptr<const void> backing, const std::byte* slot_records, std::size_t used,
                                   std::span<const std::uint32_t> table, std::span<const std::uint32_t> free_list) {
  NamespaceState& ns = namespace_for(ns_name);
  if (ns.exact.size() != 0) return false;
  if (!ns.exact.assign(slot_records, used, table, free_list, &last_generation_, backing)) return false;
  if (!ns.index.restore(index, std::move(backing)) || ns.index.size() != ns.exact.size()) return false;
  std::uint64_t digest = 0;
  std::vector<std::pair<EntryId, std::uint32_t>> entries;
  entries.reserve(ns.exact.size());
  ns.exact.for_each([&](const SlotRecord& record, std::uint32_t number) {
    entries.emplace_back(record.id, number);
    digest += mix_id(record.id);
  });
  const bool ok = ids_.insert_all_new(std::span<const std::pair<EntryId, std::uint32_t>>(entries),
                                      [&ns](const std::pair<EntryId, std::uint32_t>& e) {
                                        return IdCell{ns.number, e.second};
                                      });
  // The same ids in both layers: equal sizes, no id twice, and equal order-free digests.
  return ok && digest == ns.index.id_digest();
}

bool CacheState::cache_payload(EntryId id, std::uint32_t generation, std::shared_ptr<const Payload> payload) {
  if (payload_budget_ == 0 || generation == 0 || this->generation(id) != generation) return false;
  const std::size_t bytes = payload->bytes();
  if (bytes > payload_budget_) return false;
  drop_payload(id);
  auto [it, inserted] = payloads_.try_emplace(id);
  it->second.payload = std::move(payload);
  payload_bytes_ += bytes;
  payload_clock_.push_back(id);
  evict_payloads();
  return true;
}

void CacheState::drop_payload(EntryId id) {
  auto it = payloads_.find(id);
  if (it == payloads_.end()) return;
  payload_bytes_ -= it->second.payload->bytes();
  payloads_.erase(it);  // its id stays in payload_clock_ and is skipped there
}

void CacheState::evict_payloads() {
  // CLOCK: a referenced entry gets a second chance; ids already dropped are skipped. The
  // deque may hold stale ids, so it is compacted when it grows far past the live count.
  while (payload_bytes_ > payload_budget_ && !payload_clock_.empty()) {
    const EntryId id = payload_clock_.front();
    payload_clock_.pop_front();
    auto it = payloads_.find(id);
    if (it == payloads_.end()) continue;
    if (it->second.referenced.exchange(false, std::memory_order_relaxed)) {
      payload_clock_.push_back(id);
      continue;
    }
    drop_payload(id);
  }
  if (payload_clock_.size() > 2 * payloads_.size() + 64) {
    std::deque<EntryId> live;
    for (EntryId id : payload_clock_)
      if (payloads_.contains(id)) live.push_back(id);
    payload_clock_.swap(live);
  }
}

bool CacheState::remove(EntryId id) {
  const auto ref = find_id(id);
  if (!ref) return false;
  const std::uint32_t pending = ref->access->pending_hits.load(std::memory_order_relaxed);
  if (pending > 0) pending_touches_.fetch_sub(1, std::memory_order_relaxed);
  ref->ns->index.remove(id);
  const QueryHash hash = ref->record->hash;  // the record may move when erase copies its chunk
  ref->ns->exact.erase(hash);
  ids_.erase(id);
  drop_payload(id);
  return true;
}

void CacheState::clear() {
  for (auto& [name, ns] : namespaces_) {
    ns->exact.clear();
    ns->index = VectorIndex(index_config_);
  }
  ids_.clear();
  payloads_.clear();
  payload_clock_.clear();
  payload_bytes_ = 0;
  pending_touches_.store(0, std::memory_order_relaxed);
}

std::vector<NamespaceState*> CacheState::namespaces() const {
  std::vector<NamespaceState*> out;
  out.reserve(namespaces_.size());
  for (const auto& [name, ns] : namespaces_) out.push_back(ns.get());
  return out;
}

std::size_t CacheState::exact_map_bytes() const {
  std::size_t bytes = 0;
  for (const auto& [name, ns] : namespaces_) bytes += ns->exact.memory_bytes();
  return bytes;
}

std::size_t CacheState::index_memory_bytes() const {
  std::size_t bytes = 0;
  for (const auto& [name, ns] : namespaces_) bytes += ns->index.memory_bytes();
  return bytes;
}

}  // namespace engram::detail
