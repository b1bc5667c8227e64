# SPDX-License-Identifier: LGPL-2.1-or-later
"""Minimal GGUF v3 writer and reader (pure Python + numpy).

Little-endian only.  Supports typed key/values (scalars, strings, arrays of
any scalar type or of strings) and tensors of type F32 (0), F16 (1), I8
(24), I32 (26) and BF16 (30; stored as the uint16 bit patterns, see
to_bf16_bits).  ``ne[0]`` is the fastest-moving dimension, so a numpy array of
shape [rows, cols] is stored with ne = [cols, rows]; the reader gives the
arrays back in numpy order.

Writer usage::

    w = GGUFWriter()
    w.add_string("general.architecture", "uniperceiver")
    w.add_u32("uniperceiver.block_count", 12)
    w.add_array("tokenizer.ggml.tokens", ["a", "b"], GGUF_STRING)
    w.add_tensor("token_embd.weight", np.zeros((4, 3), np.float32))
    w.write("model.upm")

Reader usage::

    kv, tensors = read_gguf("model.upm")
"""

import hashlib
import os
import struct

import numpy as np

GGUF_MAGIC = 0x46554747
GGUF_VERSION = 3

GGUF_U8, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, \
    GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64 = range(13)

_SCALAR_FMT = {
    GGUF_U8: "<B", GGUF_I8: "<b", GGUF_U16: "<H", GGUF_I16: "<h",
    GGUF_U32: "<I", GGUF_I32: "<i", GGUF_F32: "<f", GGUF_BOOL: "<?",
    GGUF_U64: "<Q", GGUF_I64: "<q", GGUF_F64: "<d",
}
_SCALAR_NP = {
    GGUF_U8: "<u1", GGUF_I8: "<i1", GGUF_U16: "<u2", GGUF_I16: "<i2",
    GGUF_U32: "<u4", GGUF_I32: "<i4", GGUF_F32: "<f4", GGUF_BOOL: "<u1",
    GGUF_U64: "<u8", GGUF_I64: "<i8", GGUF_F64: "<f8",
}

TYPE_F32 = 0
TYPE_F16 = 1
TYPE_I8 = 24
TYPE_I32 = 26
TYPE_BF16 = 30
_TENSOR_NP = {TYPE_F32: np.dtype("<f4"), TYPE_F16: np.dtype("<f2"), TYPE_I8: np.dtype("i1"),
              TYPE_I32: np.dtype("<i4"), TYPE_BF16: np.dtype("<u2")}


def to_bf16_bits(a):
    """float32 values rounded to bfloat16 (nearest, ties to even; NaN kept
    a quiet NaN) as uint16 bit patterns, the layout of GGUF type BF16."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    return np.where(nan, (u >> np.uint32(16)) | np.uint32(0x40), rounded).astype(np.uint16)


def from_bf16_bits(b):
    """uint16 bfloat16 bit patterns widened to float32."""
    return (np.asarray(b, dtype=np.uint32) << np.uint32(16)).view(np.float32)


def quantize_q8_rows(a):
    """Symmetric int8 per output row (the last axis is the row): scale =
    max|row| / 127 (0 for a zero row), q = round(w / scale) clamped to
    [-127, 127]. Returns (q int8 of a's shape, scale float32 of a's shape
    without its last axis)."""
    a = np.asarray(a, dtype=np.float32)
    amax = np.abs(a).max(axis=-1)
    scale = (amax / np.float32(127.0)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1.0))[..., None]
    q = np.clip(np.rint(a / safe), -127, 127).astype(np.int8)
    return q, scale


class GGUFError(Exception):
    pass


def _align(n, a):
    return (n + a - 1) // a * a


def _pack_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


class GGUFWriter:
    """Collects key/values and tensors, then writes them in insertion order."""

    def __init__(self, alignment=64):
        if alignment < 8 or alignment & (alignment - 1):
            raise GGUFError("alignment must be a power of two >= 8")
        self.alignment = alignment
        self.kv = []            # (key, type, value, elem_type)
        self._keys = set()
        self.tensors = []       # (name, np.ndarray, ggml_type)
        self._names = set()
        self.add_u32("general.alignment", alignment)

    # ------------------------------------------------------------ kv
    def _add(self, key, vtype, value, etype=None):
        if key in self._keys:
            raise GGUFError("duplicate key %r" % key)
        self._keys.add(key)
        self.kv.append((key, vtype, value, etype))

    def add_u8(self, k, v): self._add(k, GGUF_U8, int(v))
    def add_u32(self, k, v): self._add(k, GGUF_U32, int(v))
    def add_i32(self, k, v): self._add(k, GGUF_I32, int(v))
    def add_u64(self, k, v): self._add(k, GGUF_U64, int(v))
    def add_f32(self, k, v): self._add(k, GGUF_F32, float(v))
    def add_f64(self, k, v): self._add(k, GGUF_F64, float(v))
    def add_bool(self, k, v): self._add(k, GGUF_BOOL, bool(v))
    def add_string(self, k, v): self._add(k, GGUF_STRING, str(v))

    def add_array(self, key, values, elem_type):
        if elem_type == GGUF_ARRAY:
            raise GGUFError("nested arrays are not supported")
        if elem_type == GGUF_STRING:
            values = [str(v) for v in values]
        else:
            values = np.asarray(values).reshape(-1).astype(_SCALAR_NP[elem_type])
        self._add(key, GGUF_ARRAY, values, elem_type)

    def has_key(self, key):
        return key in self._keys

    def add_keys(self, kv, types, sha_key="uniperceiver.weights_sha256"):
        """Every key of read_gguf(..., with_types=True), its type kept, but general.alignment
        (this writer's own); sha_key gets the hash of the tensors added so far (add them
        first)."""
        for key, value in kv.items():
            if key == "general.alignment":
                continue
            vtype, etype = types[key]
            if key == sha_key:
                value = self.tensor_data_sha256()
            if vtype == GGUF_ARRAY:
                self.add_array(key, value, etype)
            else:
                self._add(key, vtype, value)

    # ------------------------------------------------------- tensors
    def add_tensor(self, name, array, ggml_type=None):
        if name in self._names:
            raise GGUFError("duplicate tensor %r" % name)
        if isinstance(array, StackedTensor):
            a = array
            ggml_type = TYPE_F32 if ggml_type is None else ggml_type
            if ggml_type not in _TENSOR_NP or a.dtype != np.dtype(_TENSOR_NP[ggml_type]):
                raise GGUFError("stacked tensor %r: parts of %s for type %d" % (name, a.dtype, ggml_type))
            self._names.add(name)
            self.tensors.append((name, a, ggml_type))
            return
        a = np.asarray(array)
        if ggml_type is None:
            if a.dtype == np.float16:
                ggml_type = TYPE_F16
            elif a.dtype.kind in "iu":
                ggml_type = TYPE_I32
            else:
                ggml_type = TYPE_F32
        if ggml_type not in _TENSOR_NP:
            raise GGUFError("unsupported tensor type %d" % ggml_type)
        if a.ndim == 0:
            a = a.reshape(1)
        a = np.ascontiguousarray(a.astype(_TENSOR_NP[ggml_type], copy=False))
        self._names.add(name)
        self.tensors.append((name, a, ggml_type))

    # ------------------------------------------------------- output
    @staticmethod
    def _pack_value(vtype, value, etype):
        if vtype == GGUF_STRING:
            return _pack_string(value)
        if vtype == GGUF_ARRAY:
            out = struct.pack("<IQ", etype, len(value))
            if etype == GGUF_STRING:
                return out + b"".join(_pack_string(s) for s in value)
            return out + value.tobytes()
        return struct.pack(_SCALAR_FMT[vtype], value)

    def tensor_data_sha256(self):
        """SHA-256 of all tensor data bytes in file order (padding excluded)."""
        h = hashlib.sha256()
        for _, a, _ in self.tensors:
            for part in _parts(a):
                h.update(_as_bytes(part))
        return h.hexdigest()

    def _header(self):
        """The header bytes (up to the aligned data start) and each tensor's data offset."""
        parts = [struct.pack("<IIQQ", GGUF_MAGIC, GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, vtype, value, etype in self.kv:
            parts.append(_pack_string(key) + struct.pack("<I", vtype)
                         + self._pack_value(vtype, value, etype))
        offsets = []
        off = 0
        for name, a, t in self.tensors:
            off = _align(off, self.alignment)
            offsets.append(off)
            ne = list(reversed(a.shape))
            parts.append(_pack_string(name) + struct.pack("<I", len(ne))
                         + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", t, off))
            off += a.nbytes
        head = b"".join(parts)
        return head + b"\0" * (_align(len(head), self.alignment) - len(head)), offsets

    def _chunks(self):
        """The file as a sequence of (bytes-like, tensor index or -1)."""
        head, offsets = self._header()
        yield head, -1
        pos = 0
        for i, ((name, a, t), o) in enumerate(zip(self.tensors, offsets)):
            if o > pos:
                yield b"\0" * (o - pos), -1
            for part in _parts(a):
                yield _as_bytes(part), i
            pos = o + a.nbytes

    def to_bytes(self):
        return b"".join(bytes(c) for c, _ in self._chunks())

    def total_bytes(self):
        head, offsets = self._header()
        if not self.tensors:
            return len(head)
        return len(head) + offsets[-1] + self.tensors[-1][1].nbytes

    def write(self, path, progress=None):
        """Stream the file to path (no whole-file copy in memory).  It is written to a
        temporary file beside path and renamed, so an interrupted run leaves no partial
        path.  progress(tensors_done, n_tensors, bytes_written, total_bytes) is called
        after each tensor.  Returns the size in bytes."""
        tmp = "%s.tmp%d" % (path, os.getpid())
        total = self.total_bytes()
        n = len(self.tensors)
        written = 0
        last = -1
        try:
            with open(tmp, "wb") as f:
                for chunk, i in self._chunks():
                    f.write(chunk)
                    written += len(chunk)
                    if progress and i >= 0 and i != last:
                        if last >= 0:
                            progress(last + 1, n, written - len(chunk), total)
                        last = i
                if progress:
                    progress(n, n, written, total)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return written


class StackedTensor:
    """A tensor made of equal-shaped arrays stacked along a new first axis, written part by
    part (np.stack would copy them all; the MoE expert tensors of a Large model are GBs)."""

    def __init__(self, arrays):
        arrays = [np.ascontiguousarray(a) for a in arrays]
        if not arrays or any(a.shape != arrays[0].shape or a.dtype != arrays[0].dtype for a in arrays):
            raise GGUFError("stacked tensor parts must be non-empty and of one shape and type")
        self.arrays = arrays
        self.dtype = arrays[0].dtype
        self.shape = (len(arrays),) + arrays[0].shape
        self.size = arrays[0].size * len(arrays)
        self.nbytes = arrays[0].nbytes * len(arrays)
        self.ndim = len(self.shape)

    def __getitem__(self, i):
        return self.arrays[i]

    def __array__(self, dtype=None):
        a = np.stack(self.arrays)
        return a if dtype is None else a.astype(dtype)


def _parts(a):
    return a.arrays if isinstance(a, StackedTensor) else (a,)


def _as_bytes(a):
    """A contiguous array's bytes as a buffer, without a copy."""
    return memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


class _Cursor:
    def __init__(self, buf, path):
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("%s: truncated file at offset %d (need %d bytes)" % (self.path, self.pos, n))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.unpack("<Q")
        return bytes(self.take(n)).decode("utf-8")


def _read_value(cur, vtype):
    if vtype == GGUF_STRING:
        return cur.string()
    if vtype == GGUF_ARRAY:
        etype = cur.unpack("<I")
        count = cur.unpack("<Q")
        if etype == GGUF_STRING:
            return [cur.string() for _ in range(count)]
        if etype not in _SCALAR_NP:
            raise GGUFError("%s: unsupported array element type %d" % (cur.path, etype))
        dt = np.dtype(_SCALAR_NP[etype])
        a = np.frombuffer(cur.take(count * dt.itemsize), dtype=dt).copy()
        return a.astype(bool) if etype == GGUF_BOOL else a
    if vtype not in _SCALAR_FMT:
        raise GGUFError("%s: unsupported value type %d" % (cur.path, vtype))
    return cur.unpack(_SCALAR_FMT[vtype])


def read_gguf(path, with_types=False, mmap=False):
    """Read a GGUF v3 file.

    Returns (kv, tensors): kv maps key -> value (python scalar, str, list of
    str or numpy array); tensors maps name -> numpy array in numpy order.
    With with_types=True a third dict maps key -> (type, elem_type) and
    tensor names -> ('tensor', ggml_type, offset).  With mmap=True the tensors
    are read-only views of the mapped file (for files of several GB)."""
    if mmap:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    else:
        with open(path, "rb") as f:
            buf = f.read()
    cur = _Cursor(memoryview(buf), path)
    magic = cur.unpack("<I")
    if magic != GGUF_MAGIC:
        raise GGUFError("%s: not a GGUF file (bad magic)" % path)
    version = cur.unpack("<I")
    if version != GGUF_VERSION:
        raise GGUFError("%s: GGUF version %d, expected 3" % (path, version))
    n_tensors = cur.unpack("<Q")
    n_kv = cur.unpack("<Q")
    kv, types = {}, {}
    for _ in range(n_kv):
        key = cur.string()
        vtype = cur.unpack("<I")
        if key in kv:
            raise GGUFError("%s: duplicate key %r" % (path, key))
        pos = cur.pos
        kv[key] = _read_value(cur, vtype)
        etype = None
        if vtype == GGUF_ARRAY:
            etype = struct.unpack_from("<I", cur.buf, pos)[0]
        types[key] = (vtype, etype)
    alignment = int(kv.get("general.alignment", 32))
    infos = []
    for _ in range(n_tensors):
        name = cur.string()
        nd = cur.unpack("<I")
        ne = [cur.unpack("<Q") for _ in range(nd)]
        t = cur.unpack("<I")
        off = cur.unpack("<Q")
        if t not in _TENSOR_NP:
            raise GGUFError("%s: tensor %r has unsupported type %d" % (path, name, t))
        if off % alignment:
            raise GGUFError("%s: tensor %r offset %d not aligned to %d" % (path, name, off, alignment))
        infos.append((name, ne, t, off))
    data_start = _align(cur.pos, alignment)
    tensors = {}
    for name, ne, t, off in infos:
        if name in tensors:
            raise GGUFError("%s: duplicate tensor %r" % (path, name))
        dt = _TENSOR_NP[t]
        count = int(np.prod(ne)) if ne else 1
        start = data_start + off
        end = start + count * dt.itemsize
        if end > len(buf):
            raise GGUFError("%s: tensor %r leaves the file" % (path, name))
        shape = tuple(reversed(ne))
        a = np.frombuffer(buf, dtype=dt, count=count, offset=start).reshape(shape)
        tensors[name] = a if mmap else a.copy()
        types[name] = ("tensor", t, off)
    if with_types:
        return kv, tensors, types
    return kv, tensors


def tensor_data_sha256(path):
    """SHA-256 of all tensor data (in offset order, padding excluded)."""
    kv, tensors, types = read_gguf(path, with_types=True)
    names = sorted(tensors, key=lambda n: types[n][2])
    h = hashlib.sha256()
    for n in names:
        h.update(tensors[n].tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Print the keys and tensors of a GGUF v3 file.")
    ap.add_argument("file")
    args = ap.parse_args()
    kv, tensors, types = read_gguf(args.file, with_types=True)
    for k, v in kv.items():
        if isinstance(v, list):
            s = "[%d strings] %s" % (len(v), ", ".join(repr(x) for x in v[:5]))
        elif isinstance(v, np.ndarray):
            s = "[%d] %s" % (v.size, np.array2string(v[:16], separator=","))
        else:
            s = repr(v)
        print("%-50s %s" % (k, s))
    for n, a in tensors.items():
        print("%-50s %-12s %s" % (n, a.dtype, list(a.shape)))
