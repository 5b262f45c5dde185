// The /kv JSON (format in kv_page.h).
#include "server/kv_page.h"

#include <unordered_set>

namespace kvik::server {

std::string KvSnapshotJson(const KvSnapshot& snapshot) {
  size_t free = 0, cached = 0, used = 0, shared = 0;
  std::unordered_set<int64_t> owners;
  std::string blocks = "[";
  for (size_t i = 0; i < snapshot.blocks.size(); ++i) {
    const KvBlockInfo& block = snapshot.blocks[i];
    int state = 0;
    int64_t owner = -1;
    switch (block.state) {
      case KvBlockInfo::State::kFree:
        ++free;
        break;
      case KvBlockInfo::State::kCached:
        ++cached;
        state = 1;
        break;
      case KvBlockInfo::State::kUsed:
        ++used;
        state = block.ref_count > 1 ? 3 : 2;
        shared += block.ref_count > 1;
        owner = block.owner;
        owners.insert(owner);
        break;
    }
    if (i) blocks += ',';
    blocks += '[' + std::to_string(state) + ',' + std::to_string(owner) + ',' +
              std::to_string(block.ref_count) + ']';
  }
  blocks += ']';
  return "{\"tokens_per_block\":" + std::to_string(snapshot.tokens_per_block) +
         ",\"num_blocks\":" + std::to_string(snapshot.blocks.size()) +
         ",\"counts\":{\"free\":" + std::to_string(free) + ",\"cached\":" + std::to_string(cached) +
         ",\"used\":" + std::to_string(used) + ",\"shared\":" + std::to_string(shared) +
         "},\"sequences\":" + std::to_string(owners.size()) + ",\"blocks\":" + blocks + "}\n";
}

}  // namespace kvik::server
