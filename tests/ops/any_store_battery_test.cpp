// The whole compliance battery against AnyStore wrapping DictStore, opened by URI: the
// type-erased store must keep every promise of the store it wraps.
#include <engram/conformance/battery.hpp>
#include <engram/stores/any_store.hpp>
#include <engram/stores/dict_store.hpp>

#include <atomic>
#include <string>

namespace {

std::string unique_dict_uri(const char* what) {
  static std::atomic<int> counter{0};
  return std::string("dict:any-battery-") + what + "-" + std::to_string(counter++);
}

struct AnyDictFactory {
  using StoreType = engram::AnyStore;
  static constexpr bool kSharedAcrossProcesses = false;

  engram::AnyStore make() { return engram::open_store(uri_); }
  std::string restore_location() { return unique_dict_uri("restore"); }
  std::string live_location() { return uri_; }

  void corrupt() {
    engram::AnyStore store = make();
    const auto& location = store.target<engram::DictStore>()->location();
    auto& by_ns = location->by_ns;
    if (!by_ns.empty()) by_ns.begin()->second.erase(by_ns.begin()->second.begin());
    else location->next_id = 0;
  }

  std::string uri_ = unique_dict_uri("live");
};

}  // namespace

ENGRAM_INSTANTIATE_STORE_BATTERY(AnyDict, AnyDictFactory);
