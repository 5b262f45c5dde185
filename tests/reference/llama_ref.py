#!/usr/bin/python3
"""Reference llama forward pass in float64 NumPy, for checking kvik's logits.

Usage (the contract the C++ tests rely on):
    /usr/bin/python3 tests/reference/llama_ref.py MODEL.gguf --tokens 1,5,9 --out LOGITS.bin
writes float32 little-endian logits for every position, shape (n_tokens, vocab), row-major, and
exits 0. `--margins-out FILE` writes float64 LE, one per position: how close the position's
closest activation rounding (Q4_0 matrices) came to a rounding boundary. `--print-top` also prints each position's argmax token and logit. Any error (missing
file, bad GGUF, unsupported tensor type, token out of range) prints one line on stderr and exits 1.

The model is llama.cpp's "llama" architecture, computed in the plainest way that is still fast:
the whole sequence at once with full causal attention and no KV cache, so that it shares no
structure (and no bugs) with kvik's cached, blocked implementation. Optional Qwen2-style q/k/v
biases are added when the file has them.

Matrices stored as Q4_0 multiply activations rounded to 8-bit blocks (`round_activations_q8`), as
kvik and llama.cpp do; every other product uses the activations as they are.
"""

import argparse
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_ref import GGUFError, GGUFFile  # noqa: E402


class ModelError(Exception):
    """The GGUF file parsed, but is not a llama model this reference can run."""


class LlamaConfig:
    def __init__(self, gguf):
        metadata = gguf.metadata
        architecture = metadata.get("general.architecture", "llama")
        if architecture != "llama":
            raise ModelError(f"{gguf.path}: general.architecture = '{architecture}' "
                             f"(this reference only runs 'llama')")

        def required(key):
            if key not in metadata:
                raise ModelError(f"{gguf.path}: missing metadata '{key}'")
            return _positive_int(gguf.path, key, metadata[key])

        self.dim = required("llama.embedding_length")
        self.n_layers = required("llama.block_count")
        self.hidden_dim = required("llama.feed_forward_length")
        self.n_heads = required("llama.attention.head_count")
        self.n_kv_heads = _positive_int(gguf.path, "llama.attention.head_count_kv",
                                        metadata.get("llama.attention.head_count_kv",
                                                     self.n_heads))
        if self.dim % self.n_heads:
            raise ModelError(f"{gguf.path}: embedding_length {self.dim} is not a multiple of "
                             f"head_count {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ModelError(f"{gguf.path}: head_count {self.n_heads} is not a multiple of "
                             f"head_count_kv {self.n_kv_heads}")
        self.head_dim = self.dim // self.n_heads
        self.rope_dim = _positive_int(gguf.path, "llama.rope.dimension_count",
                                      metadata.get("llama.rope.dimension_count", self.head_dim))
        if self.rope_dim % 2 or self.rope_dim > self.head_dim:
            raise ModelError(f"{gguf.path}: llama.rope.dimension_count = {self.rope_dim} "
                             f"(expected an even number <= head_dim {self.head_dim})")
        self.rope_base = float(metadata.get("llama.rope.freq_base", 10000.0))
        self.norm_eps = float(metadata.get("llama.attention.layer_norm_rms_epsilon", 1e-5))
        if not self.rope_base > 0 or not self.norm_eps >= 0:
            raise ModelError(f"{gguf.path}: rope.freq_base = {self.rope_base}, "
                             f"layer_norm_rms_epsilon = {self.norm_eps} (expected > 0 and >= 0)")


def _positive_int(path, key, value):
    if isinstance(value, (bool, float, str, list, np.ndarray)) or int(value) <= 0:
        raise ModelError(f"{path}: metadata '{key}' = {value!r} (expected a positive integer)")
    return int(value)


class Matrix:
    """A weight matrix dequantized to float64, (out_features, in_features), and whether its products
    round the activations first (Q4_0)."""

    def __init__(self, values, rounds_activations):
        self.values = values
        self.rounds_activations = rounds_activations


def round_activations_q8(x, margins=None):
    """x (n_tokens, n) with each block of 32 values rounded to int8 steps of one float32 scale:
    amax / 127, the value x * (1 / scale) computed in float32 and rounded half to even, as kvik's
    QuantizeActivations does.

    A value within float32 noise of a rounding boundary (k + 0.5 steps) may round the other way in
    kvik, whose activations differ from these float64 ones in the last bits; `margins` (n_tokens,),
    if given, is lowered to each token's closest distance to a boundary, in steps."""
    blocks = x.astype(np.float32).reshape(x.shape[0], -1, 32)
    scale = np.max(np.abs(blocks), axis=2, keepdims=True) / np.float32(127)
    safe = np.where(scale != 0, scale, np.float32(1))
    inverse = np.where(scale != 0, np.float32(1) / safe, np.float32(0)).astype(np.float32)
    scaled = blocks * inverse
    steps = np.rint(scaled)
    if margins is not None:
        distance = np.abs(np.abs(scaled - np.floor(scaled)) - np.float32(0.5))
        np.minimum(margins, distance.reshape(x.shape[0], -1).min(axis=1), out=margins)
    return (steps.astype(np.float64) * scale.astype(np.float64)).reshape(x.shape)


def linear(x, matrix, margins=None):
    """x @ W^T for activations x (n_tokens, in_features)."""
    if matrix.rounds_activations:
        x = round_activations_q8(x, margins)
    return x @ matrix.values.T


class LlamaWeights:
    """All weights dequantized to float64; matrices keep GGUF's (out_features, in_features)."""

    def __init__(self, gguf, config):
        self.gguf = gguf
        self.config = config
        c = config
        kv_dim = c.n_kv_heads * c.head_dim
        self.token_embedding = self._load("token_embd.weight", None)  # (vocab, dim)
        self.vocab_size = self.token_embedding.shape[0]
        self._check_shape("token_embd.weight", self.token_embedding, (self.vocab_size, c.dim))
        self.layers = []
        for layer in range(c.n_layers):
            prefix = f"blk.{layer}."
            self.layers.append({
                "attn_norm": self._load(prefix + "attn_norm.weight", (c.dim,)),
                "wq": self._load_matrix(prefix + "attn_q.weight", (c.dim, c.dim)),
                "wk": self._load_matrix(prefix + "attn_k.weight", (kv_dim, c.dim)),
                "wv": self._load_matrix(prefix + "attn_v.weight", (kv_dim, c.dim)),
                "bq": self._load_optional(prefix + "attn_q.bias", (c.dim,)),
                "bk": self._load_optional(prefix + "attn_k.bias", (kv_dim,)),
                "bv": self._load_optional(prefix + "attn_v.bias", (kv_dim,)),
                "wo": self._load_matrix(prefix + "attn_output.weight", (c.dim, c.dim)),
                "ffn_norm": self._load(prefix + "ffn_norm.weight", (c.dim,)),
                "w_gate": self._load_matrix(prefix + "ffn_gate.weight", (c.hidden_dim, c.dim)),
                "w_up": self._load_matrix(prefix + "ffn_up.weight", (c.hidden_dim, c.dim)),
                "w_down": self._load_matrix(prefix + "ffn_down.weight", (c.dim, c.hidden_dim)),
            })
        self.output_norm = self._load("output_norm.weight", (c.dim,))
        # Without output.weight the classifier is tied to the embedding (llama.cpp does the same).
        if "output.weight" in self.gguf.tensors:
            self.output = self._load_matrix("output.weight", (self.vocab_size, c.dim))
        else:
            self.output = Matrix(self.token_embedding, self._is_q4_0("token_embd.weight"))

    def _load(self, name, shape):
        if name not in self.gguf.tensors:
            raise ModelError(f"{self.gguf.path}: missing tensor '{name}'")
        values = self.gguf.tensor(name, np.float64)
        if shape is not None:
            self._check_shape(name, values, shape)
        return values

    def _is_q4_0(self, name):
        return self.gguf.tensors[name].type_name == "Q4_0"

    def _load_matrix(self, name, shape):
        return Matrix(self._load(name, shape), self._is_q4_0(name))

    def _load_optional(self, name, shape):
        return self._load(name, shape) if name in self.gguf.tensors else None

    def _check_shape(self, name, values, shape):
        if values.shape != shape:
            dims = list(reversed(values.shape))
            expected = list(reversed(shape))
            raise ModelError(f"{self.gguf.path}: tensor '{name}' has dims {dims} "
                             f"(expected {expected}, innermost first)")


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (Zhang & Sennrich 2019)."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_adjacent_pairs(x, positions, rope_dim, base):
    """Rotates adjacent pairs (x[2i], x[2i+1]) of each head by pos * base^(-2i/rope_dim).

    x: (n_tokens, n_heads, head_dim). Pairs with 2i >= rope_dim are left as they are. This is
    llama.cpp's "normal" RoPE (Su et al. 2021), the one the llama architecture uses.
    """
    pair_index = np.arange(rope_dim // 2, dtype=np.float64)
    inverse_frequency = base ** (-2.0 * pair_index / rope_dim)  # (rope_dim/2,)
    angle = positions.astype(np.float64)[:, None] * inverse_frequency[None, :]  # (T, rope_dim/2)
    cos = np.cos(angle)[:, None, :]
    sin = np.sin(angle)[:, None, :]
    out = x.copy()
    even = x[:, :, 0:rope_dim:2]
    odd = x[:, :, 1:rope_dim:2]
    out[:, :, 0:rope_dim:2] = even * cos - odd * sin
    out[:, :, 1:rope_dim:2] = even * sin + odd * cos
    return out


def causal_attention(q, k, v, n_heads, n_kv_heads):
    """softmax(q k^T / sqrt(head_dim) + causal mask) v, with grouped-query heads.

    q: (T, n_heads, head_dim); k, v: (T, n_kv_heads, head_dim). Query head h reads kv head
    h // (n_heads / n_kv_heads). Returns (T, n_heads * head_dim).
    """
    n_tokens, _, head_dim = q.shape
    group = n_heads // n_kv_heads
    k = np.repeat(k, group, axis=1)  # kv head j becomes query heads j*group .. j*group+group-1
    v = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(head_dim)  # (heads, query t, key s)
    future = np.triu(np.ones((n_tokens, n_tokens), dtype=bool), k=1)
    scores[:, future] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    out = np.einsum("hts,shd->thd", weights, v)
    return out.reshape(n_tokens, n_heads * head_dim)


def silu(x):
    with np.errstate(over="ignore"):  # exp(-x) -> inf for very negative x gives the right 0
        return x / (1.0 + np.exp(-x))


def forward(weights, tokens, margins=None):
    """Logits (n_tokens, vocab) in float64 for `tokens` at positions 0..n_tokens-1. `margins`: see
    round_activations_q8."""
    c = weights.config
    tokens = np.asarray(tokens, dtype=np.int64)
    n_tokens = tokens.shape[0]
    positions = np.arange(n_tokens)
    x = weights.token_embedding[tokens].copy()  # (T, dim)
    for layer in weights.layers:
        h = rms_norm(x, layer["attn_norm"], c.norm_eps)
        q = linear(h, layer["wq"], margins)
        k = linear(h, layer["wk"], margins)
        v = linear(h, layer["wv"], margins)
        if layer["bq"] is not None:
            q += layer["bq"]
        if layer["bk"] is not None:
            k += layer["bk"]
        if layer["bv"] is not None:
            v += layer["bv"]
        q = rope_adjacent_pairs(q.reshape(n_tokens, c.n_heads, c.head_dim), positions,
                                c.rope_dim, c.rope_base)
        k = rope_adjacent_pairs(k.reshape(n_tokens, c.n_kv_heads, c.head_dim), positions,
                                c.rope_dim, c.rope_base)
        v = v.reshape(n_tokens, c.n_kv_heads, c.head_dim)
        x += linear(causal_attention(q, k, v, c.n_heads, c.n_kv_heads), layer["wo"], margins)
        h = rms_norm(x, layer["ffn_norm"], c.norm_eps)
        gated = silu(linear(h, layer["w_gate"], margins)) * linear(h, layer["w_up"], margins)
        x += linear(gated, layer["w_down"], margins)
    x = rms_norm(x, weights.output_norm, c.norm_eps)
    return linear(x, weights.output, margins)


def load_model(path):
    gguf = GGUFFile(path)
    return LlamaWeights(gguf, LlamaConfig(gguf))


def parse_tokens(text):
    try:
        tokens = [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise ModelError(f"--tokens '{text}' is not a comma-separated list of integers")
    if not tokens:
        raise ModelError("--tokens is empty (expected at least one token id)")
    return tokens


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 like every other error of this tool."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"llama_ref: error: {message}", file=sys.stderr)
        sys.exit(1)


def main(argv):
    parser = _ArgumentParser(description="Reference llama logits (float64 NumPy).")
    parser.add_argument("model", help="GGUF file of a llama-architecture model")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids, e.g. 1,5,9")
    parser.add_argument("--out", help="write float32 LE logits (n_tokens, vocab) here")
    parser.add_argument("--margins-out",
                        help="write each position's closest activation rounding to a boundary, in "
                             "steps, as float64 LE (1.0 when no matrix is Q4_0)")
    parser.add_argument("--print-top", action="store_true",
                        help="print the argmax token and its logit for each position")
    args = parser.parse_args(argv)
    try:
        tokens = parse_tokens(args.tokens)
        weights = load_model(args.model)
        for position, token in enumerate(tokens):
            if not 0 <= token < weights.vocab_size:
                raise ModelError(f"token {token} at position {position} is out of range "
                                 f"(vocab size {weights.vocab_size})")
        margins = np.ones(len(tokens))
        logits = forward(weights, tokens, margins)
        if not np.all(np.isfinite(logits)):
            raise ModelError(f"{args.model}: logits are not all finite (corrupt weights?)")
        if args.out:
            try:
                logits.astype("<f4").tofile(args.out)
            except OSError as error:
                raise ModelError(f"cannot write --out {args.out} ({error.strerror})")
        if args.margins_out:
            try:
                margins.astype("<f8").tofile(args.margins_out)
            except OSError as error:
                raise ModelError(f"cannot write --margins-out {args.margins_out} ({error.strerror})")
        if args.print_top:
            for position, row in enumerate(logits):
                top = int(np.argmax(row))
                print(f"pos {position} token {tokens[position]}: top {top} logit {row[top]:.6f}")
    except (GGUFError, ModelError, OSError) as error:
        print(f"llama_ref: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
