// The whole compliance battery against DictStore, the reference store. DictStore backings
// live in one process, so the MultiProcess suite skips itself.
#include <engram/conformance/battery.hpp>
#include <engram/stores/dict_store.hpp>

namespace {

struct DictFactory {
  using StoreType = engram::DictStore;
  static constexpr bool kSharedAcrossProcesses = false;

  engram::DictStore make() { return engram::DictStore(location_); }
  engram::DictStore::Location restore_location() { return engram::DictStore::make_location(); }
  // The backing make() uses, so that the Lineage suite can restore into the live store.
  engram::DictStore::Location live_location() { return location_; }

  // Breaks the exact-match index behind the store's back (a row the index no longer
  // knows), or the id allocator when there are no rows: integrity_check() must notice.
  void corrupt() {
    auto& by_ns = location_->by_ns;
    if (!by_ns.empty()) by_ns.begin()->second.erase(by_ns.begin()->second.begin());
    else location_->next_id = 0;
  }

  engram::DictStore::Location location_ = engram::DictStore::make_location();
};

}  // namespace

ENGRAM_INSTANTIATE_STORE_BATTERY(Dict, DictFactory);
