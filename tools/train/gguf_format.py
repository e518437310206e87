"""GGUF v3 writing and reading, and the ggml Q8_0 / Q4_0 block formats, in plain Python +
numpy (no gguf package). Layout (little-endian):

  "GGUF" u32 version=3, u64 tensor_count, u64 kv_count
  kv_count x { string key, u32 value_type, value }       string = u64 length + UTF-8 bytes
  tensor_count x { string name, u32 n_dims, u64 ne[n_dims] (ne0 = contiguous row length),
                   u32 ggml_type, u64 offset (from the data section start, aligned) }
  padding to general.alignment, then the tensor data, each tensor aligned.

Quantisation follows ggml's reference code (quantize_row_q8_0_ref / quantize_row_q4_0_ref):
  Q8_0 block (34 bytes): f16 d = amax/127, 32 x int8 q = roundf(x / d)
  Q4_0 block (18 bytes): f16 d = m / -8 where m is the element of largest magnitude (signed),
      q = min(15, trunc(x / d + 8.5)); byte j holds element j (low nibble) and element j+16
      (high nibble). Dequantised value = d * (q - 8).
The scale used to quantise is the f32 one; the stored (and dequantised) one is its f16.
"""
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
QK = 32  # elements per Q8_0 / Q4_0 block

# GGUF metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, \
    T_UINT64, T_INT64, T_FLOAT64 = range(13)
SCALAR_FORMATS = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
                  T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
                  T_FLOAT64: "<d"}

# ggml tensor types
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
TYPE_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q4_0: "Q4_0", GGML_Q8_0: "Q8_0"}
BLOCK_BYTES = {GGML_Q4_0: 18, GGML_Q8_0: 34}


# ---- quantisation ------------------------------------------------------------------------

def _roundf(v: np.ndarray) -> np.ndarray:
    """C roundf: halves away from zero (np.rint rounds halves to even)."""
    r = np.rint(v)
    t = np.trunc(v)
    tie = np.abs(v - t) == 0.5
    r[tie] = (t + np.sign(v))[tie]
    return r


def quantize_q8_0(x: np.ndarray) -> bytes:
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    amax = np.abs(blocks).max(axis=1)
    d = amax / np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = _roundf(blocks * inv[:, None]).astype(np.int8)
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", QK)])
    out["d"], out["qs"] = d.astype(np.float16), q
    return out.tobytes()


def dequantize_q8_0(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "i1", QK)], count=n // QK)
    return (blocks["d"].astype(np.float32)[:, None] * blocks["qs"].astype(np.float32)).reshape(-1)


def quantize_q4_0(x: np.ndarray) -> bytes:
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    idx = np.abs(blocks).argmax(axis=1)  # first element of largest magnitude, as ggml's loop
    signed_max = blocks[np.arange(len(blocks)), idx]
    d = signed_max / np.float32(-8)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, np.trunc(blocks * inv[:, None] + np.float32(8.5))).astype(np.uint8)
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "u1", QK // 2)])
    out["d"] = d.astype(np.float16)
    out["qs"] = q[:, :QK // 2] | (q[:, QK // 2:] << 4)
    return out.tobytes()


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "u1", QK // 2)], count=n // QK)
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    q = np.concatenate([low, high], axis=1)
    return (blocks["d"].astype(np.float32)[:, None] * q).reshape(-1)


def encode_tensor(x: np.ndarray, ggml_type: int) -> bytes:
    if ggml_type == GGML_F32:
        return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if ggml_type == GGML_F16:
        return np.ascontiguousarray(x, dtype="<f2").tobytes()
    if x.shape[-1] % QK:
        raise ValueError(f"row length {x.shape[-1]} is not a multiple of {QK}")
    return quantize_q8_0(x) if ggml_type == GGML_Q8_0 else quantize_q4_0(x)


def decode_tensor(raw: bytes, ggml_type: int, n: int) -> np.ndarray:
    if ggml_type == GGML_F32:
        return np.frombuffer(raw, dtype="<f4", count=n).copy()
    if ggml_type == GGML_F16:
        return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    return dequantize_q8_0(raw, n) if ggml_type == GGML_Q8_0 else dequantize_q4_0(raw, n)


def tensor_nbytes(ggml_type: int, n: int) -> int:
    if ggml_type in BLOCK_BYTES:
        return n // QK * BLOCK_BYTES[ggml_type]
    return n * (4 if ggml_type == GGML_F32 else 2)


# ---- writing -----------------------------------------------------------------------------

def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype: int, value) -> bytes:
    if vtype == T_STRING:
        return _string(value)
    if vtype == T_ARRAY:
        elem_type, items = value
        body = b"".join(_value(elem_type, v) for v in items) if elem_type == T_STRING else \
            np.asarray(items, dtype=SCALAR_FORMATS[elem_type]).tobytes()
        return struct.pack("<IQ", elem_type, len(items)) + body
    return struct.pack(SCALAR_FORMATS[vtype], value)


@dataclass
class TensorToWrite:
    name: str
    data: np.ndarray  # numpy shape [..., ne1, ne0] (row-major); GGUF dims are reversed
    ggml_type: int


def write_gguf(path: Path, metadata: list[tuple[str, int, object]], tensors: list[TensorToWrite],
               alignment: int = 32) -> None:
    """metadata: (key, value_type, value); arrays as (key, T_ARRAY, (elem_type, items))."""
    header = GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(metadata))
    kv = b"".join(_string(k) + struct.pack("<I", t) + _value(t, v) for k, t, v in metadata)
    infos, blobs, offset = [], [], 0
    for t in tensors:
        blob = encode_tensor(t.data, t.ggml_type)
        dims = list(reversed(t.data.shape))
        infos.append(_string(t.name) + struct.pack("<I", len(dims)) +
                     struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", t.ggml_type, offset))
        pad = -len(blob) % alignment
        blobs.append(blob + b"\0" * pad)
        offset += len(blob) + pad
    head = header + kv + b"".join(infos)
    with open(path, "wb") as f:
        f.write(head + b"\0" * (-len(head) % alignment))
        for blob in blobs:
            f.write(blob)


# ---- reading (for the reference files and self-checks) -------------------------------------

@dataclass
class TensorInfo:
    name: str
    dims: list[int]  # ggml order, ne0 first
    ggml_type: int
    offset: int


class GgufReader:
    def __init__(self, path: Path):
        self.buf = Path(path).read_bytes()
        self.pos = 0
        if self.buf[:4] != GGUF_MAGIC:
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        version, n_tensors, n_kv = self._unpack("<IQQ")
        if version != GGUF_VERSION:
            raise ValueError(f"{path}: GGUF version {version}, expected {GGUF_VERSION}")
        self.metadata = {}
        for _ in range(n_kv):
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.metadata[key] = self._value(vtype)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string()
            (n_dims,) = self._unpack("<I")
            dims = list(self._unpack(f"<{n_dims}Q"))
            ggml_type, offset = self._unpack("<IQ")
            self.tensors[name] = TensorInfo(name, dims, ggml_type, offset)
        alignment = self.metadata.get("general.alignment", 32)
        self.data_start = self.pos + (-self.pos % alignment)

    def _unpack(self, fmt: str):
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def _string(self) -> str:
        (n,) = self._unpack("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def _value(self, vtype: int):
        if vtype == T_STRING:
            return self._string()
        if vtype == T_ARRAY:
            elem_type, n = self._unpack("<IQ")
            return [self._value(elem_type) for _ in range(n)]
        (v,) = self._unpack(SCALAR_FORMATS[vtype])
        return v

    def tensor(self, name: str) -> np.ndarray:
        """Dequantised f32 values, numpy shape = reversed ggml dims."""
        info = self.tensors[name]
        n = int(np.prod(info.dims))
        start = self.data_start + info.offset
        raw = self.buf[start:start + tensor_nbytes(info.ggml_type, n)]
        return decode_tensor(raw, info.ggml_type, n).reshape(list(reversed(info.dims)))
