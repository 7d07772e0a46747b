// Proves LogStore with the engram compliance battery: a factory that gives every test a
// fresh log file, and one macro that instantiates every suite.
#include <engram/conformance/battery.hpp>
#include <fstream>

#include "log_store.hpp"

namespace {

struct LogStoreFactory {
  using StoreType = example::LogStore;
  static constexpr bool kSharedAcrossProcesses = true;  // one file, opened by forked children

  // Each handle opens the same file: a second handle, a reopen, or a child process.
  example::LogStore make() { return example::LogStore(dir_.path() / "cache.log"); }
  // Every restore gets a new, not yet existing file.
  std::filesystem::path restore_location() {
    return dir_.path() / ("restored-" + std::to_string(++restores_) + ".log");
  }
  // The file make() opens, so that the Lineage suite can restore into the live store.
  std::filesystem::path live_location() { return dir_.path() / "cache.log"; }
  // Overwrites the whole file with bytes that are not a LogStore log.
  void corrupt() {
    const auto file = dir_.path() / "cache.log";
    const auto size = std::filesystem::file_size(file);
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    for (std::uintmax_t i = 0; i < size; ++i) out.put(static_cast<char>(i * 37 + 11));
  }

  engram::conformance::detail::ScratchDir dir_;  // removed with everything in it
  int restores_ = 0;
};

}  // namespace

ENGRAM_INSTANTIATE_STORE_BATTERY(LogStore, LogStoreFactory);
