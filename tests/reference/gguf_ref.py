"""A small, independent GGUF reader for the NumPy reference model.

It shares no code with kvik's C++ reader on purpose: a test that compares the two is only worth
something if a misreading of the format in one cannot hide in the other.

Format (GGUF v2/v3, little-endian), as documented in ggml's docs/gguf.md:
    magic "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
    metadata_kv_count x { string key | u32 value_type | value }
    tensor_count x { string name | u32 n_dims | u64 dims[n_dims] | u32 type | u64 offset }
    padding to `general.alignment` (default 32) | tensor data (offsets relative to here)
A string is u64 length + bytes (UTF-8, no terminator). dims are innermost first, so a tensor with
dims [ne0, ne1] is the row-major NumPy array of shape (ne1, ne0).
"""

import mmap
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS

# Metadata value types (gguf_type).
_SCALAR_FORMATS = {
    0: "<B",  # UINT8
    1: "<b",  # INT8
    2: "<H",  # UINT16
    3: "<h",  # INT16
    4: "<I",  # UINT32
    5: "<i",  # INT32
    6: "<f",  # FLOAT32
    7: "<?",  # BOOL
    10: "<Q",  # UINT64
    11: "<q",  # INT64
    12: "<d",  # FLOAT64
}
_NUMPY_ARRAY_DTYPES = {
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
    10: "<u8", 11: "<i8", 12: "<f8",
}
TYPE_STRING = 8
TYPE_ARRAY = 9

# Tensor types this reference dequantizes: ggml type id -> (name, elements/block, bytes/block).
TENSOR_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    8: ("Q8_0", 32, 34),
    30: ("BF16", 1, 2),
}


class GGUFError(Exception):
    """The file is not a GGUF file this reader accepts; the message says where and why."""


class TensorInfo:
    """One tensor's header entry. `dims` is innermost-first, as stored in the file."""

    def __init__(self, name, dims, type_id, offset):
        self.name = name
        self.dims = dims
        self.type_id = type_id
        self.offset = offset  # relative to the start of the data section

    @property
    def shape(self):
        """NumPy (row-major) shape: the stored dims reversed."""
        return tuple(reversed(self.dims))

    @property
    def n_elements(self):
        count = 1
        for dim in self.dims:
            count *= dim
        return count

    @property
    def type_name(self):
        return TENSOR_TYPES[self.type_id][0]

    @property
    def n_bytes(self):
        _, block_elements, block_bytes = TENSOR_TYPES[self.type_id]
        return self.n_elements // block_elements * block_bytes


class _Cursor:
    """Bounds-checked little-endian reads over a bytes-like buffer."""

    def __init__(self, buffer, path):
        self.buffer = buffer
        self.path = path
        self.pos = 0

    def take(self, n_bytes, what):
        if n_bytes < 0 or self.pos + n_bytes > len(self.buffer):
            raise GGUFError(
                f"{self.path}: truncated at byte {self.pos} while reading {what} "
                f"(need {n_bytes} bytes, file has {len(self.buffer) - self.pos} left)")
        start = self.pos
        self.pos += n_bytes
        return start

    def scalar(self, fmt, what):
        size = struct.calcsize(fmt)
        start = self.take(size, what)
        return struct.unpack_from(fmt, self.buffer, start)[0]

    def u32(self, what):
        return self.scalar("<I", what)

    def u64(self, what):
        return self.scalar("<Q", what)

    def string(self, what):
        length = self.u64(f"length of {what}")
        start = self.take(length, what)
        raw = bytes(self.buffer[start:start + length])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise GGUFError(f"{self.path}: {what} at byte {start} is not valid UTF-8 ({error})")


def _read_value(cursor, value_type, key):
    if value_type in _SCALAR_FORMATS:
        return cursor.scalar(_SCALAR_FORMATS[value_type], f"value of '{key}'")
    if value_type == TYPE_STRING:
        return cursor.string(f"value of '{key}'")
    if value_type == TYPE_ARRAY:
        element_type = cursor.u32(f"element type of array '{key}'")
        count = cursor.u64(f"length of array '{key}'")
        if element_type in _NUMPY_ARRAY_DTYPES:
            dtype = np.dtype(_NUMPY_ARRAY_DTYPES[element_type])
            if count > len(cursor.buffer):  # cheap guard before multiplying a hostile count
                raise GGUFError(f"{cursor.path}: array '{key}' claims {count} elements")
            start = cursor.take(count * dtype.itemsize, f"elements of array '{key}'")
            values = np.frombuffer(cursor.buffer, dtype=dtype, count=count, offset=start).copy()
            return values.astype(bool) if element_type == 7 else values
        if element_type == TYPE_STRING:
            if count > len(cursor.buffer) // 8:  # every string needs at least its 8-byte length
                raise GGUFError(f"{cursor.path}: array '{key}' claims {count} strings")
            return [cursor.string(f"element {i} of array '{key}'") for i in range(count)]
        if element_type == TYPE_ARRAY:
            if count > len(cursor.buffer) // 12:  # every nested array needs type + length
                raise GGUFError(f"{cursor.path}: array '{key}' claims {count} nested arrays")
            return [_read_value(cursor, TYPE_ARRAY, f"{key}[{i}]") for i in range(count)]
        raise GGUFError(f"{cursor.path}: array '{key}' has unknown element type {element_type}")
    raise GGUFError(f"{cursor.path}: metadata '{key}' has unknown value type {value_type} "
                    f"(expected 0..12)")


class GGUFFile:
    """A parsed GGUF file: `metadata` (dict key -> value), `tensors` (dict name -> TensorInfo).

    Tensor data stays in the memory map until `tensor(name)` dequantizes it.
    """

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as handle:
                size = handle.seek(0, 2)
                if size == 0:
                    raise GGUFError(f"{path}: file is empty (expected magic 'GGUF')")
                self._buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            raise GGUFError(f"{path}: cannot open ({error.strerror})")
        self._parse()

    def _parse(self):
        cursor = _Cursor(self._buffer, self.path)
        magic_start = cursor.take(4, "magic")
        magic = bytes(self._buffer[magic_start:magic_start + 4])
        if magic != GGUF_MAGIC:
            raise GGUFError(f"{self.path}: bad magic {magic!r} (expected b'GGUF')")
        self.version = cursor.u32("version")
        if self.version not in (2, 3):
            raise GGUFError(f"{self.path}: unsupported GGUF version {self.version} "
                            f"(expected 2 or 3)")
        tensor_count = cursor.u64("tensor_count")
        kv_count = cursor.u64("metadata_kv_count")
        if tensor_count > len(self._buffer) or kv_count > len(self._buffer):
            raise GGUFError(f"{self.path}: header claims {tensor_count} tensors and {kv_count} "
                            f"metadata entries, more than the file could hold")

        self.metadata = {}
        for index in range(kv_count):
            key = cursor.string(f"key of metadata entry {index}")
            value_type = cursor.u32(f"value type of '{key}'")
            if key in self.metadata:
                raise GGUFError(f"{self.path}: duplicate metadata key '{key}'")
            self.metadata[key] = _read_value(cursor, value_type, key)

        self.alignment = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if (not isinstance(self.alignment, int) or isinstance(self.alignment, bool)
                or self.alignment <= 0
                or self.alignment & (self.alignment - 1)):
            raise GGUFError(f"{self.path}: general.alignment = {self.alignment!r} "
                            f"(expected a positive power of two)")

        self.tensors = {}
        for index in range(tensor_count):
            name = cursor.string(f"name of tensor {index}")
            n_dims = cursor.u32(f"n_dims of tensor '{name}'")
            if not 1 <= n_dims <= MAX_DIMS:
                raise GGUFError(f"{self.path}: tensor '{name}' has {n_dims} dims "
                                f"(expected 1..{MAX_DIMS})")
            dims = [cursor.u64(f"dim {d} of tensor '{name}'") for d in range(n_dims)]
            type_id = cursor.u32(f"type of tensor '{name}'")
            offset = cursor.u64(f"offset of tensor '{name}'")
            if name in self.tensors:
                raise GGUFError(f"{self.path}: duplicate tensor name '{name}'")
            if type_id not in TENSOR_TYPES:
                known = ", ".join(f"{v[0]}={k}" for k, v in sorted(TENSOR_TYPES.items()))
                raise GGUFError(f"{self.path}: tensor '{name}' has type {type_id}, which this "
                                f"reference cannot read (known: {known})")
            info = TensorInfo(name, dims, type_id, offset)
            _, block_elements, _ = TENSOR_TYPES[type_id]
            if dims[0] % block_elements:
                raise GGUFError(f"{self.path}: tensor '{name}' ({info.type_name}) has ne0 = "
                                f"{dims[0]}, not a multiple of its block size {block_elements}")
            if offset % self.alignment:
                raise GGUFError(f"{self.path}: tensor '{name}' offset {offset} is not a multiple "
                                f"of the alignment {self.alignment}")
            self.tensors[name] = info

        padding = (-cursor.pos) % self.alignment
        self.data_offset = cursor.pos + padding
        for info in self.tensors.values():
            end = self.data_offset + info.offset + info.n_bytes
            if end > len(self._buffer):
                raise GGUFError(f"{self.path}: tensor '{info.name}' data [{info.offset}, "
                                f"{info.offset + info.n_bytes}) runs past the end of the file "
                                f"(data section starts at {self.data_offset}, file is "
                                f"{len(self._buffer)} bytes)")

    def raw_bytes(self, name):
        info = self.tensors[name]
        start = self.data_offset + info.offset
        return np.frombuffer(self._buffer, dtype=np.uint8, count=info.n_bytes, offset=start)

    def tensor(self, name, dtype=np.float64):
        """Dequantized tensor `name` as a NumPy array of the row-major shape (dims reversed)."""
        if name not in self.tensors:
            raise GGUFError(f"{self.path}: no tensor named '{name}'")
        info = self.tensors[name]
        values = dequantize(self.raw_bytes(name), info.type_id, info.n_elements)
        return values.astype(dtype, copy=False).reshape(info.shape)


def dequantize(raw, type_id, n_elements):
    """Flat array of `n_elements` values decoded from `raw` bytes (every value exact in float64)."""
    if type_id == 0:
        return raw.view("<f4")[:n_elements].copy()
    if type_id == 1:
        return raw.view("<f2")[:n_elements].astype(np.float32)
    if type_id == 30:
        # bf16 is the top half of an f32: widen by shifting the bits up 16.
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)[:n_elements]
    if type_id == 8:
        blocks = raw.reshape(-1, 34)
        scale = blocks[:, :2].copy().view("<f2").astype(np.float64)  # (n_blocks, 1)
        quants = blocks[:, 2:].view(np.int8).astype(np.float64)  # (n_blocks, 32)
        return (quants * scale).reshape(-1)[:n_elements]
    if type_id == 2:
        blocks = raw.reshape(-1, 18)
        scale = blocks[:, :2].copy().view("<f2").astype(np.float64)
        packed = blocks[:, 2:]
        low = (packed & 0x0F).astype(np.float64) - 8.0  # elements 0..15 of the block
        high = (packed >> 4).astype(np.float64) - 8.0  # elements 16..31
        return (np.concatenate([low, high], axis=1) * scale).reshape(-1)[:n_elements]
    raise GGUFError(f"tensor type {type_id} cannot be dequantized by this reference")
