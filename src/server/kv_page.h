// GET /kv and GET /: the KV block pool as JSON, and the page that draws it.
#pragma once

#include <string>

#include "kvik/server.h"

namespace kvik::server {

// {"tokens_per_block":16,"num_blocks":N,
//  "counts":{"free":F,"cached":C,"used":U,"shared":S},   (used counts shared blocks too)
//  "sequences":Q,                                         (distinct owners of used blocks)
//  "blocks":[[state,owner,ref_count],…]}                  (state 0 free, 1 cached, 2 used,
//                                                          3 shared = used with ref_count > 1;
//                                                          owner -1 unless used)
// Arrays instead of objects keep a 10k-block pool near 100 KB per refresh.
std::string KvSnapshotJson(const KvSnapshot& snapshot);

// A self-contained HTML+JS page (no external assets) that polls /kv every 500 ms and draws one
// square per block: free grey, cached blue, shared prefix gold, used coloured by owner sequence.
extern const char kKvPageHtml[];

}  // namespace kvik::server
