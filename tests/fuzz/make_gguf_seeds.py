#!/usr/bin/env python3
"""Writes small valid GGUF files to seed the gguf_fuzz corpus.

Usage: tests/fuzz/make_gguf_seeds.py OUT_DIR

Built with `struct` straight from the GGUF spec (not with kvik's writer), so the fuzzer starts from
files a third party would produce: every metadata value type, a string array, a number array and
tensors of f32, f16, bf16, q8_0 and q4_0, in v3 and v2, plus a metadata-only file.
"""
import os
import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
                  BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml tensor types: (id, block elements, block bytes)
TENSOR_TYPES = {"f32": (0, 1, 4), "f16": (1, 1, 2), "q4_0": (2, 32, 18), "q8_0": (8, 32, 34),
                "bf16": (30, 1, 2)}


def gguf_string(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def value_bytes(kind, value):
    if kind == STRING:
        return gguf_string(value)
    if kind == ARRAY:
        element_kind, items = value
        out = struct.pack("<IQ", element_kind, len(items))
        return out + b"".join(value_bytes(element_kind, item) for item in items)
    return struct.pack(SCALAR_FORMATS[kind], value)


def gguf_file(version, metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, dims, type name)], data made up."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", kind) + value_bytes(kind, value)
    blobs, offset = [], 0
    for name, dims, type_name in tensors:
        type_id, block_elements, block_bytes = TENSOR_TYPES[type_name]
        n_bytes = dims[0] // block_elements * block_bytes
        for dim in dims[1:]:
            n_bytes *= dim
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", dim) for dim in dims)
        out += struct.pack("<IQ", type_id, offset)
        blob = bytes((i * 37 + len(blobs)) & 0xFF for i in range(n_bytes))
        blob += b"\0" * (-len(blob) % alignment)
        blobs.append(blob)
        offset += len(blob)
    out += b"\0" * (-len(out) % alignment)
    return out + b"".join(blobs)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    metadata = [
        ("general.architecture", STRING, "llama"),
        ("general.alignment", U32, 32),
        ("u8", U8, 7), ("i8", I8, -7), ("u16", U16, 700), ("i16", I16, -700),
        ("i32", I32, -70000), ("f32", F32, 0.5), ("bool", BOOL, 1), ("u64", U64, 1 << 40),
        ("i64", I64, -(1 << 40)), ("f64", F64, 0.25),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "\u2581hi"])),
        ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, -1.0, -2.0])),
        ("flags", ARRAY, (BOOL, [0, 1])),
    ]
    tensors = [("token_embd.weight", [32, 2], "q8_0"), ("blk.0.attn_q.weight", [32, 1], "q4_0"),
               ("blk.0.attn_norm.weight", [4], "f32"), ("output.weight", [4, 2], "f16"),
               ("output_norm.weight", [4], "bf16")]
    seeds = {
        "full_v3.gguf": gguf_file(3, metadata, tensors),
        "full_v2.gguf": gguf_file(2, metadata, tensors),
        "metadata_only.gguf": gguf_file(3, metadata[:3], []),
        "one_tensor.gguf": gguf_file(3, [], [("t", [8], "f32")]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {out_dir}")


if __name__ == "__main__":
    main()
