// The KV-cache page served at GET / (kv_page.h). Kept as one string so the binary needs no files.
#include "server/kv_page.h"

namespace kvik::server {

const char kKvPageHtml[] = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kvik — KV cache</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  #summary { color: #555; margin-bottom: 12px; }
  #legend { display: flex; gap: 18px; flex-wrap: wrap; margin-bottom: 12px; }
  #legend span.swatch { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
                        margin-right: 6px; border: 1px solid #0002; }
  canvas { background: #fff; border: 1px solid #ddd; image-rendering: pixelated; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>kvik — KV block pool</h1>
<div id="summary">loading…</div>
<div id="legend">
  <div><span class="swatch" style="background:#e3e3e3"></span>free <b id="n-free">0</b></div>
  <div><span class="swatch" style="background:#7fa7d9"></span>cached prefix
       <b id="n-cached">0</b></div>
  <div><span class="swatch" style="background:#f2b705"></span>shared prefix
       <b id="n-shared">0</b></div>
  <div><span class="swatch"
             style="background:linear-gradient(90deg,#e4572e,#29bf12,#9b5de5)"></span>used, one
       colour per sequence <b id="n-used">0</b> (<b id="n-seq">0</b> sequences)</div>
</div>
<canvas id="grid" width="800" height="200"></canvas>
<div id="error"></div>
<script>
"use strict";
const CELL = 12, GAP = 2;
const FIXED = ["#e3e3e3", "#7fa7d9", null, "#f2b705"];
// Golden-angle hues: neighbouring sequence ids get clearly different colours.
function ownerColour(owner) { return "hsl(" + ((owner * 137.508) % 360) + ",65%,52%)"; }
function draw(kv) {
  const canvas = document.getElementById("grid");
  const width = Math.max(200, document.body.clientWidth - 4);
  const perRow = Math.max(1, Math.floor(width / (CELL + GAP)));
  const rows = Math.max(1, Math.ceil(kv.blocks.length / perRow));
  canvas.width = perRow * (CELL + GAP);
  canvas.height = rows * (CELL + GAP);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  kv.blocks.forEach((b, i) => {
    ctx.fillStyle = b[0] === 2 ? ownerColour(b[1]) : FIXED[b[0]];
    ctx.fillRect((i % perRow) * (CELL + GAP), Math.floor(i / perRow) * (CELL + GAP), CELL, CELL);
  });
  const c = kv.counts;
  for (const k of ["free", "cached", "shared", "used"]) {
    document.getElementById("n-" + k).textContent = c[k];
  }
  document.getElementById("n-seq").textContent = kv.sequences;
  document.getElementById("summary").textContent = kv.num_blocks + " blocks × " +
      kv.tokens_per_block + " tokens; " + c.used + " used (" + c.shared + " shared), " +
      c.cached + " cached, " + c.free + " free";
  document.body.dataset.usedBlocks = c.used;  // for headless-browser tests
}
async function refresh() {
  try {
    const response = await fetch("/kv", {cache: "no-store"});
    if (!response.ok) throw new Error("GET /kv: HTTP " + response.status);
    draw(await response.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e);
  }
  setTimeout(refresh, 500);
}
refresh();
</script>
</body>
</html>
)HTML";

}  // namespace kvik::server
