#!/usr/bin/python3
"""Self-checks of the NumPy reference: GGUF reading, dequantization, and the forward pass.

Run: /usr/bin/python3 tests/reference/test_self.py  (add -v for names)

The GGUF files here come from a writer in this file (not from kvik, not from gguf_ref), and the
vectorised forward pass is compared with a deliberately naive one: one token at a time with a
growing KV list, per-head and per-pair Python loops, so a broadcasting or reshape slip in
llama_ref cannot be repeated in the check.
"""

import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, HERE)
import gguf_ref  # noqa: E402
import llama_ref  # noqa: E402

PYTHON = "/usr/bin/python3"
LLAMA_REF = os.path.join(HERE, "llama_ref.py")

# ----------------------------------------------------------------------------------------------
# A minimal GGUF v3 writer.

_SCALAR = {"u8": (0, "<B"), "i8": (1, "<b"), "u16": (2, "<H"), "i16": (3, "<h"), "u32": (4, "<I"),
           "i32": (5, "<i"), "f32": (6, "<f"), "bool": (7, "<?"), "u64": (10, "<Q"),
           "i64": (11, "<q"), "f64": (12, "<d")}


def _string(text):
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _type_id(kind):
    if kind == "str":
        return 8
    if isinstance(kind, tuple):
        return 9
    return _SCALAR[kind][0]


def _value(kind, value):
    """Bytes of a metadata value. kind: a scalar name, 'str', or ('array', element kind)."""
    if kind == "str":
        return _string(value)
    if isinstance(kind, tuple):
        element_kind = kind[1]
        header = struct.pack("<IQ", _type_id(element_kind), len(value))
        return header + b"".join(_value(element_kind, element) for element in value)
    return struct.pack(_SCALAR[kind][1], value)


def _f16_bytes(values):
    return np.asarray(values, dtype="<f2").tobytes()


class Tensor:
    """A tensor to write: `payload` bytes in `type_id`, `dims` innermost-first, and the exact
    values a correct reader must return (`expected`, row-major shape = reversed dims)."""

    def __init__(self, type_id, dims, payload, expected):
        self.type_id, self.dims, self.payload, self.expected = type_id, dims, payload, expected


def make_tensor(values, type_name):
    """Encodes `values` (row-major, last axis = ne0) as `type_name`; `expected` is what it decodes
    to, computed here from the codes written, independently of gguf_ref."""
    values = np.asarray(values, dtype=np.float64)
    dims = list(reversed(values.shape))
    if type_name == "F32":
        stored = values.astype("<f4")
        return Tensor(0, dims, stored.tobytes(), stored.astype(np.float64))
    if type_name == "F16":
        stored = values.astype("<f2")
        return Tensor(1, dims, stored.tobytes(), stored.astype(np.float64))
    if type_name == "BF16":
        bits = values.astype("<f4").view("<u4") >> 16  # truncation: any bf16 value will do
        stored = bits.astype("<u2")
        expected = (bits.astype(np.uint32) << 16).view("<f4").astype(np.float64)
        return Tensor(30, dims, stored.tobytes(), expected.reshape(values.shape))
    flat = values.reshape(-1, 32)
    payload = bytearray()
    expected = np.empty_like(flat)
    for block_index, block in enumerate(flat):
        if type_name == "Q8_0":
            scale = np.float16(max(np.abs(block).max(), 1e-6) / 127.0)
            codes = np.clip(np.round(block / float(scale)), -127, 127).astype(np.int8)
            payload += _f16_bytes([scale]) + codes.tobytes()
            expected[block_index] = codes.astype(np.float64) * float(scale)
        elif type_name == "Q4_0":
            scale = np.float16(max(np.abs(block).max(), 1e-6) / 7.0)
            codes = np.clip(np.round(block / float(scale)) + 8, 0, 15).astype(np.uint8)
            packed = bytes(int(codes[j]) | (int(codes[j + 16]) << 4) for j in range(16))
            payload += _f16_bytes([scale]) + packed
            expected[block_index] = (codes.astype(np.float64) - 8.0) * float(scale)
        else:
            raise ValueError(type_name)
    type_id = {"Q8_0": 8, "Q4_0": 2}[type_name]
    return Tensor(type_id, dims, bytes(payload), expected.reshape(values.shape))


def write_gguf(path, metadata, tensors, alignment=32, version=3):
    """metadata: list of (key, kind, value); tensors: dict name -> Tensor."""
    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", version, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += _string(key) + struct.pack("<I", _type_id(kind)) + _value(kind, value)
    offset = 0
    offsets = []
    for name, tensor in tensors.items():
        offsets.append(offset)
        out += _string(name) + struct.pack("<I", len(tensor.dims))
        out += struct.pack(f"<{len(tensor.dims)}Q", *tensor.dims)
        out += struct.pack("<IQ", tensor.type_id, offset)
        offset += len(tensor.payload)
        offset += (-offset) % alignment
    out += b"\0" * ((-len(out)) % alignment)
    data_start = len(out)
    for tensor, tensor_offset in zip(tensors.values(), offsets):
        out += b"\0" * (data_start + tensor_offset - len(out))
        out += tensor.payload
    with open(path, "wb") as handle:
        handle.write(bytes(out))


# ----------------------------------------------------------------------------------------------
# A random llama model.

def random_model(path, rng, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=96,
                 vocab=80, rope_dim=None, biases=False, tied=False, weight_type="F32",
                 extra_metadata=()):
    """Writes a random llama GGUF; returns (config dict, dict of the exact decoded weights)."""
    head_dim = dim // n_heads
    kv_dim = n_kv_heads * head_dim
    tensors = {}

    def add(name, shape, type_name=None, scale=None):
        scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
        values = rng.standard_normal(shape) * scale
        tensors[name] = make_tensor(values, type_name or weight_type)

    add("token_embd.weight", (vocab, dim), scale=1.0)
    for layer in range(n_layers):
        p = f"blk.{layer}."
        tensors[p + "attn_norm.weight"] = make_tensor(1 + 0.1 * rng.standard_normal(dim), "F32")
        add(p + "attn_q.weight", (dim, dim))
        add(p + "attn_k.weight", (kv_dim, dim))
        add(p + "attn_v.weight", (kv_dim, dim))
        if biases:
            add(p + "attn_q.bias", (dim,), "F32", 0.5)
            add(p + "attn_k.bias", (kv_dim,), "F32", 0.5)
            add(p + "attn_v.bias", (kv_dim,), "F32", 0.5)
        add(p + "attn_output.weight", (dim, dim))
        tensors[p + "ffn_norm.weight"] = make_tensor(1 + 0.1 * rng.standard_normal(dim), "F32")
        add(p + "ffn_gate.weight", (hidden_dim, dim))
        add(p + "ffn_up.weight", (hidden_dim, dim))
        add(p + "ffn_down.weight", (dim, hidden_dim))
    tensors["output_norm.weight"] = make_tensor(1 + 0.1 * rng.standard_normal(dim), "F32")
    if not tied:
        add("output.weight", (vocab, dim))
    metadata = [
        ("general.architecture", "str", "llama"),
        ("llama.embedding_length", "u32", dim),
        ("llama.block_count", "u32", n_layers),
        ("llama.feed_forward_length", "u32", hidden_dim),
        ("llama.attention.head_count", "u32", n_heads),
        ("llama.attention.head_count_kv", "u32", n_kv_heads),
        ("llama.rope.freq_base", "f32", 10000.0),
        ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
    ]
    if rope_dim is not None:
        metadata.append(("llama.rope.dimension_count", "u32", rope_dim))
    metadata += list(extra_metadata)
    write_gguf(path, metadata, tensors)
    config = dict(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads,
                  head_dim=head_dim, rope_dim=rope_dim or head_dim, base=10000.0,
                  eps=float(np.float32(1e-5)), vocab=vocab,
                  rounds_activations=weight_type == "Q4_0")
    weights = {name: tensor.expected for name, tensor in tensors.items()}
    return config, weights


def naive_forward(config, w, tokens):
    """One token at a time, KV kept in lists, explicit loops over heads, pairs and positions."""
    c = config
    group = c["n_heads"] // c["n_kv_heads"]
    hd = c["head_dim"]
    key_cache = [[] for _ in range(c["n_layers"])]
    value_cache = [[] for _ in range(c["n_layers"])]
    out_rows = []

    def norm(vec, weight):
        mean_square = sum(float(e) * float(e) for e in vec) / len(vec)
        return np.array([vec[i] / math.sqrt(mean_square + c["eps"]) * weight[i]
                         for i in range(len(vec))])

    def round_q8(vec):
        # Blocks of 32: scale = amax / 127 and steps = round-half-even(v * (1 / scale)), in float32.
        out = []
        for start in range(0, len(vec), 32):
            block = [np.float32(v) for v in vec[start:start + 32]]
            scale = np.float32(max(abs(v) for v in block) / np.float32(127))
            inverse = np.float32(1) / scale if scale != 0 else np.float32(0)
            out += [round(float(np.float32(v * inverse))) * float(scale) for v in block]
        return np.array(out)

    def matvec(matrix, vec):
        if c["rounds_activations"]:
            vec = round_q8(vec)
        return np.array([float(np.dot(row, vec)) for row in matrix])

    def rotate(vec, n_heads_here, pos):
        vec = vec.copy()
        for head in range(n_heads_here):
            for i in range(0, c["rope_dim"], 2):
                theta = pos * c["base"] ** (-i / c["rope_dim"])
                a, b = vec[head * hd + i], vec[head * hd + i + 1]
                vec[head * hd + i] = a * math.cos(theta) - b * math.sin(theta)
                vec[head * hd + i + 1] = a * math.sin(theta) + b * math.cos(theta)
        return vec

    for pos, token in enumerate(tokens):
        x = w["token_embd.weight"][token].copy()
        for layer in range(c["n_layers"]):
            p = f"blk.{layer}."
            h = norm(x, w[p + "attn_norm.weight"])
            q = matvec(w[p + "attn_q.weight"], h) + w.get(p + "attn_q.bias", 0.0)
            k = matvec(w[p + "attn_k.weight"], h) + w.get(p + "attn_k.bias", 0.0)
            v = matvec(w[p + "attn_v.weight"], h) + w.get(p + "attn_v.bias", 0.0)
            q = rotate(q, c["n_heads"], pos)
            k = rotate(k, c["n_kv_heads"], pos)
            key_cache[layer].append(k)
            value_cache[layer].append(v)
            attended = np.zeros(c["dim"])
            for head in range(c["n_heads"]):
                kv_head = head // group
                qh = q[head * hd:(head + 1) * hd]
                scores = [float(np.dot(qh, key[kv_head * hd:(kv_head + 1) * hd])) / math.sqrt(hd)
                          for key in key_cache[layer]]
                top = max(scores)
                exps = [math.exp(s - top) for s in scores]
                total = sum(exps)
                for s_index, value in enumerate(value_cache[layer]):
                    attended[head * hd:(head + 1) * hd] += (
                        exps[s_index] / total * value[kv_head * hd:(kv_head + 1) * hd])
            x = x + matvec(w[p + "attn_output.weight"], attended)
            h = norm(x, w[p + "ffn_norm.weight"])
            gate = matvec(w[p + "ffn_gate.weight"], h)
            up = matvec(w[p + "ffn_up.weight"], h)
            mixed = np.array([g / (1 + math.exp(-g)) * u for g, u in zip(gate, up)])
            x = x + matvec(w[p + "ffn_down.weight"], mixed)
        x = norm(x, w["output_norm.weight"])
        classifier = w.get("output.weight", w["token_embd.weight"])
        out_rows.append(matvec(classifier, x))
    return np.array(out_rows)


def run_cli(*args):
    return subprocess.run([PYTHON, LLAMA_REF, *args], capture_output=True, text=True)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        self.rng = np.random.default_rng(1234)

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


# ----------------------------------------------------------------------------------------------

class GGUFReaderTest(TempDirTest):
    def test_metadata_of_every_value_type_reads_back(self):
        metadata = [("a.u8", "u8", 250), ("a.i8", "i8", -7), ("a.u16", "u16", 65000),
                    ("a.i16", "i16", -300), ("a.u32", "u32", 4000000000), ("a.i32", "i32", -5),
                    ("a.f32", "f32", 0.5), ("a.bool", "bool", True), ("a.str", "str", "héllo"),
                    ("a.u64", "u64", 2**63 + 5), ("a.i64", "i64", -2**40), ("a.f64", "f64", 0.1),
                    ("a.strs", ("array", "str"), ["x", "", "yz"]),
                    ("a.ints", ("array", "i32"), [1, -2, 3]),
                    ("a.nested", ("array", ("array", "u8")), [[1, 2], [3]])]
        write_gguf(self.path("m.gguf"), metadata, {})
        got = gguf_ref.GGUFFile(self.path("m.gguf")).metadata
        for key, _, value in metadata:
            if key == "a.ints":
                self.assertEqual(list(got[key]), value)
            elif key == "a.nested":
                self.assertEqual([list(inner) for inner in got[key]], value)
            else:
                self.assertEqual(got[key], value, key)

    def test_two_dim_tensor_reads_as_rows_of_ne0(self):
        values = np.arange(12, dtype=np.float64).reshape(3, 4)  # ne0 = 4, ne1 = 3
        write_gguf(self.path("t.gguf"), [], {"t": make_tensor(values, "F32")})
        gguf = gguf_ref.GGUFFile(self.path("t.gguf"))
        self.assertEqual(gguf.tensors["t"].dims, [4, 3])
        np.testing.assert_array_equal(gguf.tensor("t"), values)

    def test_every_tensor_type_dequantizes_to_the_written_codes(self):
        values = self.rng.standard_normal((3, 64))
        for type_name in ["F32", "F16", "BF16", "Q8_0", "Q4_0"]:
            tensor = make_tensor(values, type_name)
            write_gguf(self.path("q.gguf"), [], {"w": tensor, "pad": tensor})
            got = gguf_ref.GGUFFile(self.path("q.gguf")).tensor("w")
            np.testing.assert_array_equal(got, tensor.expected, err_msg=type_name)

    def test_q4_0_low_nibbles_are_the_first_sixteen_elements(self):
        packed = bytes([0x0F] * 16)  # low nibble 15 -> +7, high nibble 0 -> -8
        raw = np.frombuffer(_f16_bytes([0.5]) + packed, dtype=np.uint8)
        got = gguf_ref.dequantize(raw, 2, 32)
        np.testing.assert_array_equal(got, [3.5] * 16 + [-4.0] * 16)

    def test_custom_alignment_places_data_where_the_writer_put_it(self):
        values = self.rng.standard_normal((2, 32))
        tensors = {"a": make_tensor(values[:1], "F16"), "b": make_tensor(values, "F32")}
        write_gguf(self.path("al.gguf"), [("general.alignment", "u32", 128)], tensors,
                   alignment=128)
        gguf = gguf_ref.GGUFFile(self.path("al.gguf"))
        self.assertEqual(gguf.data_offset % 128, 0)
        np.testing.assert_array_equal(gguf.tensor("b"), tensors["b"].expected)

    def test_version_2_files_are_accepted(self):
        write_gguf(self.path("v2.gguf"), [("k", "u32", 1)], {}, version=2)
        self.assertEqual(gguf_ref.GGUFFile(self.path("v2.gguf")).version, 2)

    def test_bad_magic_is_an_error_naming_the_magic(self):
        with open(self.path("bad.gguf"), "wb") as handle:
            handle.write(b"GGUX" + b"\0" * 60)
        with self.assertRaisesRegex(gguf_ref.GGUFError, "bad magic"):
            gguf_ref.GGUFFile(self.path("bad.gguf"))

    def test_truncated_tensor_data_is_an_error(self):
        write_gguf(self.path("t.gguf"), [], {"t": make_tensor(np.ones((4, 32)), "F32")})
        with open(self.path("t.gguf"), "rb") as handle:
            data = handle.read()
        for cut in [len(data) - 1, len(data) // 2, 30, 3]:
            with open(self.path("cut.gguf"), "wb") as handle:
                handle.write(data[:cut])
            with self.assertRaises(gguf_ref.GGUFError, msg=f"cut at {cut}"):
                gguf_ref.GGUFFile(self.path("cut.gguf"))

    def test_unknown_tensor_type_is_an_error_naming_the_tensor(self):
        tensor = Tensor(12, [256], b"\0" * 144, None)  # Q4_K: real, but not for this reference
        write_gguf(self.path("k.gguf"), [], {"blk.0.attn_q.weight": tensor})
        with self.assertRaisesRegex(gguf_ref.GGUFError, "blk.0.attn_q.weight.*type 12"):
            gguf_ref.GGUFFile(self.path("k.gguf"))


class ForwardTest(TempDirTest):
    def check_against_naive(self, tokens, **model_args):
        config, weights = random_model(self.path("m.gguf"), self.rng, **model_args)
        model = llama_ref.load_model(self.path("m.gguf"))
        got = llama_ref.forward(model, tokens)
        want = naive_forward(config, weights, tokens)
        self.assertEqual(got.shape, (len(tokens), config["vocab"]))
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)

    def test_multi_head_attention_matches_the_naive_loop(self):
        self.check_against_naive([1, 5, 9, 2, 77, 3, 3, 0], n_heads=4, n_kv_heads=4)

    def test_grouped_query_attention_matches_the_naive_loop(self):
        self.check_against_naive(list(range(0, 80, 7)), n_heads=8, n_kv_heads=2)

    def test_biases_partial_rope_and_tied_output_match_the_naive_loop(self):
        self.check_against_naive([4, 8, 15, 16, 23, 42], n_heads=4, n_kv_heads=1, rope_dim=8,
                                 biases=True, tied=True)

    def test_quantized_weights_match_the_naive_loop_on_decoded_values(self):
        for weight_type in ["F16", "BF16", "Q8_0", "Q4_0"]:
            with self.subTest(weight_type=weight_type):
                self.check_against_naive([1, 2, 3, 50, 60], weight_type=weight_type)

    def test_rope_rotates_the_first_pair_by_the_position_in_radians(self):
        x = np.zeros((2, 1, 4))
        x[:, 0, 0] = 1.0  # pair 0 = (1, 0), frequency base^0 = 1
        x[:, 0, 2] = 1.0  # pair 1 = (1, 0), frequency base^(-2/4) = 0.01 for base 10000
        out = llama_ref.rope_adjacent_pairs(x, np.array([0, 1]), 4, 10000.0)
        np.testing.assert_allclose(out[0, 0], [1, 0, 1, 0], atol=1e-15)
        np.testing.assert_allclose(out[1, 0], [math.cos(1), math.sin(1), math.cos(0.01),
                                               math.sin(0.01)], atol=1e-15)

    def test_earlier_positions_do_not_see_later_tokens(self):
        random_model(self.path("m.gguf"), self.rng)
        model = llama_ref.load_model(self.path("m.gguf"))
        first = llama_ref.forward(model, [3, 1, 4, 1, 5])
        second = llama_ref.forward(model, [3, 1, 4, 9, 2, 6])
        np.testing.assert_array_equal(first[:3], second[:3])


class CommandLineTest(TempDirTest):
    def test_out_file_holds_float32_logits_for_every_position(self):
        config, weights = random_model(self.path("m.gguf"), self.rng)
        result = run_cli(self.path("m.gguf"), "--tokens", "1,5,9", "--out", self.path("l.bin"),
                         "--print-top")
        self.assertEqual(result.returncode, 0, result.stderr)
        logits = np.fromfile(self.path("l.bin"), dtype="<f4")
        self.assertEqual(logits.size, 3 * config["vocab"])
        want = naive_forward(config, weights, [1, 5, 9])
        np.testing.assert_allclose(logits.reshape(3, -1), want, rtol=1e-6, atol=1e-6)
        self.assertEqual(len(result.stdout.strip().splitlines()), 3)
        self.assertIn(f"top {int(np.argmax(want[0]))} ", result.stdout.splitlines()[0])

    def assert_fails(self, args, message):
        result = run_cli(*args)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertRegex(result.stderr, message)

    def test_missing_file_exits_1(self):
        self.assert_fails([self.path("none.gguf"), "--tokens", "1"], "none.gguf.*cannot open")

    def test_bad_magic_exits_1(self):
        with open(self.path("bad.gguf"), "wb") as handle:
            handle.write(b"NOPE" + b"\0" * 60)
        self.assert_fails([self.path("bad.gguf"), "--tokens", "1"], "bad magic")

    def test_unknown_tensor_type_exits_1(self):
        write_gguf(self.path("k.gguf"), [], {"x": Tensor(12, [256], b"\0" * 144, None)})
        self.assert_fails([self.path("k.gguf"), "--tokens", "1"], "type 12")

    def test_token_out_of_range_exits_1(self):
        random_model(self.path("m.gguf"), self.rng, vocab=80)
        self.assert_fails([self.path("m.gguf"), "--tokens", "1,80"], "token 80 at position 1")

    def test_malformed_token_list_exits_1(self):
        random_model(self.path("m.gguf"), self.rng)
        self.assert_fails([self.path("m.gguf"), "--tokens", "1,x"], "not a comma-separated")

    def test_missing_tensor_exits_1(self):
        write_gguf(self.path("m.gguf"), [("llama.embedding_length", "u32", 32),
                                         ("llama.block_count", "u32", 1),
                                         ("llama.feed_forward_length", "u32", 32),
                                         ("llama.attention.head_count", "u32", 2)], {})
        self.assert_fails([self.path("m.gguf"), "--tokens", "1"], "missing tensor 'token_embd")


class SpeedTest(TempDirTest):
    def test_two_layer_dim_64_model_over_64_tokens_takes_under_a_second(self):
        random_model(self.path("m.gguf"), self.rng, dim=64, n_layers=2, vocab=512)
        model = llama_ref.load_model(self.path("m.gguf"))
        start = time.perf_counter()
        llama_ref.forward(model, list(range(64)))
        self.assertLess(time.perf_counter() - start, 1.0)


def _stories15m_path():
    candidates = [os.environ.get("KVIK_STORIES15M_GGUF", ""),
                  os.path.join(HERE, "..", "..", "models", "stories15M.gguf"),
                  os.path.expanduser("~/.cache/kvik/stories15M.gguf")]
    return next((p for p in candidates if p and os.path.exists(p)), None)


def llama2c_checkpoint_to_gguf(checkpoint_path, gguf_path):
    """Writes a llama2.c version-0 checkpoint (stories15M.bin) as an F32 llama GGUF.

    Layout from llama2.c's run.c: 7 int32 (dim, hidden, layers, heads, kv heads, vocab -- negative
    when the classifier is separate --, seq_len), then f32 tensors, matrices (out, in) row-major,
    with the old RoPE tables (2 x seq_len x head_dim/2) before an optional classifier.
    """
    with open(checkpoint_path, "rb") as handle:
        raw = handle.read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack_from("<7i", raw)
    tied = vocab > 0
    vocab = abs(vocab)
    floats = np.frombuffer(raw, dtype="<f4", offset=28)
    head_dim = dim // n_heads
    kv_dim = n_kv_heads * head_dim
    cursor = [0]

    def take(*shape):
        count = int(np.prod(shape))
        values = floats[cursor[0]:cursor[0] + count].reshape(shape)
        cursor[0] += count
        return values

    embedding = take(vocab, dim)
    attn_norm, wq, wk = take(n_layers, dim), take(n_layers, dim, dim), take(n_layers, kv_dim, dim)
    wv, wo = take(n_layers, kv_dim, dim), take(n_layers, dim, dim)
    ffn_norm, w_gate = take(n_layers, dim), take(n_layers, hidden, dim)
    w_down, w_up = take(n_layers, dim, hidden), take(n_layers, hidden, dim)
    final_norm = take(dim)
    take(2, seq_len, head_dim // 2)
    tensors = {"token_embd.weight": make_tensor(embedding, "F32")}
    for layer in range(n_layers):
        p = f"blk.{layer}."
        for name, stack in [("attn_norm", attn_norm), ("attn_q", wq), ("attn_k", wk),
                            ("attn_v", wv), ("attn_output", wo), ("ffn_norm", ffn_norm),
                            ("ffn_gate", w_gate), ("ffn_down", w_down), ("ffn_up", w_up)]:
            tensors[p + name + ".weight"] = make_tensor(stack[layer], "F32")
    tensors["output_norm.weight"] = make_tensor(final_norm, "F32")
    if not tied:
        tensors["output.weight"] = make_tensor(take(vocab, dim), "F32")
    metadata = [("general.architecture", "str", "llama"),
                ("llama.embedding_length", "u32", dim), ("llama.block_count", "u32", n_layers),
                ("llama.feed_forward_length", "u32", hidden),
                ("llama.attention.head_count", "u32", n_heads),
                ("llama.attention.head_count_kv", "u32", n_kv_heads)]
    write_gguf(gguf_path, metadata, tensors)


class Stories15MKnownValues:
    """Known values from llama2.c's run.c on stories15M (float32); `logits` is set by a subclass
    for the prompt [1, 9038, 2501, 263, 931] ("Once upon a time" after BOS)."""

    PROMPT = [1, 9038, 2501, 263, 931]

    def test_greedy_token_after_bos_is_9038(self):
        self.assertEqual(int(np.argmax(self.logits[0])), 9038)
        self.assertAlmostEqual(self.logits[0, 9038], 12.290030, delta=1e-3)

    def test_teacher_forced_positions_predict_the_llama2c_tokens(self):
        self.assertEqual(int(np.argmax(self.logits[1])), 2501)
        self.assertAlmostEqual(self.logits[1, 2501], 25.372496, delta=1e-3)
        self.assertEqual(int(np.argmax(self.logits[2])), 263)
        self.assertAlmostEqual(self.logits[2, 263], 20.238464, delta=1e-3)


@unittest.skipIf(_stories15m_path() is None, "stories15M.gguf not found (models/, ~/.cache/kvik/ "
                 "or $KVIK_STORIES15M_GGUF)")
class Stories15MGGUFTest(Stories15MKnownValues, unittest.TestCase):
    """The converter's GGUF, read by this reference."""

    @classmethod
    def setUpClass(cls):
        model = llama_ref.load_model(_stories15m_path())
        weight_type = model.gguf.tensors["blk.0.attn_q.weight"].type_name
        if weight_type != "F32":
            raise unittest.SkipTest(f"{_stories15m_path()} has {weight_type} weights; the known "
                                    f"values are for F32")
        cls.logits = llama_ref.forward(model, cls.PROMPT)


@unittest.skipIf(not os.path.exists(os.environ.get("KVIK_STORIES15M_BIN", "")),
                 "set $KVIK_STORIES15M_BIN to a llama2.c stories15M.bin to run")
class Stories15MCheckpointTest(Stories15MKnownValues, unittest.TestCase):
    """llama2.c's own checkpoint, converted by this file's writer: checks this reference's
    conventions (RoPE pairing, norm, SwiGLU) without depending on kvik's converter."""

    @classmethod
    def setUpClass(cls):
        with tempfile.TemporaryDirectory() as directory:
            gguf_path = os.path.join(directory, "stories15M.gguf")
            llama2c_checkpoint_to_gguf(os.environ["KVIK_STORIES15M_BIN"], gguf_path)
            model = llama_ref.load_model(gguf_path)
            cls.logits = llama_ref.forward(model, cls.PROMPT)


if __name__ == "__main__":
    unittest.main()
