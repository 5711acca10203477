"""Hand-written protobuf wire encoding for the two hot responses (PredictResponse and
BatchPredictResponse), and bulk decoding of numeric `rows`.

Building 1,024 Prediction messages with their probability maps through the protobuf API
costs ~4.5 ms; writing their bytes from per-class fragments computed once and a numpy
float64 block costs ~0.3 ms. The service registers a response serializer that passes
these bytes through (service.py). Anything unusual (raw outputs asked for, labels that
are not among the classes) goes through the protobuf API instead (returns None here).
tests/prediction/test_wire.py checks every shape against protobuf's own parser.

Wire facts used (proto/chatdb/prediction/v1):
  PredictResponse       1 model (LEN) · 2 version (VARINT) · 3 predictions (LEN, repeated)
                        · 4 outputs · 5 inference_duration (LEN)
  BatchPredictResponse  1 model · 2 version · 3 predictions · 4 inference_duration
  Prediction            1 label (LEN, google.protobuf.Value) · 2 probabilities (LEN map
                        entries {1 key LEN, 2 value I64}) · 3 value (I64, optional)
  Value                 2 number_value (I64) · 3 string_value (LEN)
  Duration              1 seconds (VARINT) · 2 nanos (VARINT)
Field order inside a message does not matter to a parser; map entries may come in any
order. Each Prediction is written probabilities first, then its label.
"""

from __future__ import annotations

import functools
import struct

import numpy as np

from .domain import Predictions

_DOUBLE = struct.Struct("<d")


_SMALL = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


@functools.lru_cache(maxsize=4096)
def _header(model: str, version: int) -> bytes:
    head = _field(0x0A, model.encode("utf-8"))
    if version:
        head += b"\x10" + varint(version)
    return head


def _duration(tag: int, seconds: float) -> bytes:
    nanos_total = max(0, int(seconds * 1e9))
    secs, nanos = divmod(nanos_total, 1_000_000_000)
    payload = (b"\x08" + varint(secs) if secs else b"") + (b"\x10" + varint(nanos) if nanos else b"")
    return _field(tag, payload)


class _ClassFragments:
    """Per-class bytes of one classifier, computed once per class list."""

    def __init__(self, classes: tuple[str, ...]) -> None:
        self.classes = classes
        self.index = {c: i for i, c in enumerate(classes)}
        keys = [c.encode("utf-8") for c in classes]
        # Map entry k without its 8 value bytes: 12 <len> 0a <len key> key 11
        self.entry_prefixes = [b"\x12" + varint(len(_field(0x0A, k)) + 9) + _field(0x0A, k) + b"\x11" for k in keys]
        self.block_dtype = np.dtype([
            field for i, prefix in enumerate(self.entry_prefixes)
            for field in ((f"p{i}", f"V{len(prefix)}"), (f"v{i}", "<f8"))
        ])
        self.block_width = self.block_dtype.itemsize
        # Label Value{string_value}: 0a <len> 1a <len s> s
        self.labels = [_field(0x0A, _field(0x1A, k)) for k in keys]
        # Whole Prediction heads (1a <len>) for rows with probabilities, by class.
        self.heads_with_probabilities = [b"\x1a" + varint(self.block_width + len(label)) for label in self.labels]
        # Whole Predictions for models without probabilities (linear_svc), by class.
        self.label_only = [_field(0x1A, label) for label in self.labels]
        self._prefix_template = np.zeros(1, dtype=self.block_dtype)
        for i, prefix in enumerate(self.entry_prefixes):
            self._prefix_template[f"p{i}"] = np.frombuffer(prefix, dtype=f"V{len(prefix)}")[0]

    def row(self, probabilities: list[float]) -> bytes:
        """The probability entries of one row (struct is faster than numpy for one)."""
        prefixes = self.entry_prefixes
        return b"".join([prefixes[i] + _DOUBLE.pack(v) for i, v in enumerate(probabilities)])

    def block(self, probabilities: np.ndarray) -> bytes:
        """The probability entries of every row, row after row (block_width bytes each)."""
        n = probabilities.shape[0]
        out = np.repeat(self._prefix_template, n)
        values = probabilities.astype(np.float64, copy=False)
        for i in range(len(self.classes)):
            out[f"v{i}"] = values[:, i]
        return out.tobytes()


@functools.lru_cache(maxsize=256)
def _fragments(classes: tuple[str, ...]) -> _ClassFragments:
    return _ClassFragments(classes)


_VALUE_DTYPE = np.dtype([("h", "V3"), ("v", "<f8")])
_VALUE_HEAD = np.frombuffer(b"\x1a\x09\x19", dtype="V3")[0]


def predictions_bytes(p: Predictions) -> bytes | None:
    """Field 3 of either response for every row, or None when the protobuf API must do it."""
    if p.scores is not None or p.anomalies is not None:
        return None  # anomaly detection: score and is_anomaly through protobuf (convert.py)
    if p.labels is not None:
        if not p.classes or p.labels.dtype != object:
            return None
        frags = _fragments(tuple(p.classes))
        if p.label_codes is not None:
            codes = p.label_codes.tolist()
        else:
            index = frags.index
            try:
                codes = [index[label] for label in p.labels.tolist()]
            except (KeyError, TypeError):
                return None
        if p.probabilities is None:
            label_only = frags.label_only
            return b"".join([label_only[c] for c in codes])
        probabilities = p.probabilities
        if probabilities.ndim != 2 or probabilities.shape[1] != len(frags.classes):
            return None
        heads, labels = frags.heads_with_probabilities, frags.labels
        if len(codes) == 1:
            c = codes[0]
            return heads[c] + frags.row(probabilities[0].tolist()) + labels[c]
        block = frags.block(probabilities)
        width = frags.block_width
        parts: list[bytes] = []
        add = parts.append
        for i, c in enumerate(codes):
            add(heads[c])
            add(block[i * width : (i + 1) * width])
            add(labels[c])
        return b"".join(parts)
    if p.values is not None:
        out = np.empty(len(p.values), dtype=_VALUE_DTYPE)
        out["h"] = _VALUE_HEAD
        out["v"] = p.values
        return out.tobytes()
    return b"\x1a\x00" * p.rows


def predict_response_bytes(p: Predictions) -> bytes | None:
    """A serialized PredictResponse (without raw outputs), or None."""
    if p.outputs:
        return None
    body = predictions_bytes(p)
    if body is None:
        return None
    return _header(p.model, p.version) + body + _duration(0x2A, p.inference_s)


def batch_predict_response_bytes(p: Predictions) -> bytes | None:
    """A serialized BatchPredictResponse, or None."""
    body = predictions_bytes(p)
    if body is None:
        return None
    return _header(p.model, p.version) + body + _duration(0x22, p.inference_s)


# --- numeric rows ---------------------------------------------------------------------------

_CELL_PREFIX = np.array([0x0A, 0x09, 0x11], dtype=np.uint8)  # ListValue.values[i] = Value{number_value}


def numeric_rows_block(serialized_request: bytes, start: int, n: int, width: int, tail: bytes) -> np.ndarray | None:
    """The float64 [n, width] matrix of BatchPredictRequest.rows (field 6) when every value
    is a number, read from the request's own serialization. `start` is where field 6
    begins (the size of fields 1–5) and `tail` how fields 7 and 9 serialize (8, tensors,
is empty when rows are given). With every value a
    number, each row is `32 <len>` then `width` cells of `0a 09 11 <8 bytes>`; the check
    that the rows fill exactly [start, len - len(tail)) with that pattern at every stride
    proves the layout. None for anything else (the caller decodes value by value)."""
    if n == 0 or width == 0:
        return None
    row_payload = width * 11
    row_head = b"\x32" + varint(row_payload)
    entry = len(row_head) + row_payload
    end = len(serialized_request) - len(tail)
    if end - start != n * entry or serialized_request[end:] != tail:
        return None
    rows = np.frombuffer(serialized_request, dtype=np.uint8, count=n * entry, offset=start).reshape(n, entry)
    if not (rows[:, : len(row_head)] == np.frombuffer(row_head, dtype=np.uint8)).all():
        return None
    cells = rows[:, len(row_head) :].reshape(n * width, 11)
    if not (cells[:, :3] == _CELL_PREFIX).all():
        return None
    return cells[:, 3:].copy().view("<f8").reshape(n, width)


def len_field_size(payload_bytes: int) -> int:
    """Bytes of a LEN field with a one-byte tag and `payload_bytes` of payload."""
    return 1 + len(varint(payload_bytes)) + payload_bytes


def batch_size_tail(batch_size: int) -> bytes:
    """How field 7 (int32 batch_size) serializes: nothing when 0."""
    if batch_size == 0:
        return b""
    if batch_size < 0:
        return b"\x38" + varint(batch_size & 0xFFFFFFFFFFFFFFFF)
    return b"\x38" + varint(batch_size)



def view_tail(view: int) -> bytes:
    """How field 9 (enum view) serializes: nothing when 0."""
    return b"" if view == 0 else b"\x48" + varint(view)


# --- records (google.protobuf.Struct per row), decoded column by column ------------------------
#
# PredictRequest / BatchPredictRequest  4 records (LEN, repeated Struct)
# Struct                                1 fields (LEN, repeated map entry)
# map entry                             1 key (LEN, string) · 2 value (LEN, Value)
# Value                                 1 null_value (VARINT) · 2 number_value (I64)
#                                       · 3 string_value (LEN) · 4 bool_value (VARINT)
#                                       · 5 struct_value · 6 list_value
#
# Rows written by one client (or transcoded by Envoy from JSON objects with the same keys
# in the same order) have the same layout byte for byte except for the numbers and bools
# they hold: one record is read field by field as the template, and every other record
# is compared with it in one numpy operation, the 8 bytes of each number and the byte of
# each bool masked out. A few records that differ (a null or a string where the template
# has a number) are read one by one. Anything else (keys in another order or missing in
# many records, a list, an object, a duplicate key) returns None and the caller decodes
# with protobuf as before, so odd input and every error keep the exact behaviour of the
# protobuf path.


class RecordsLayout:
    """Records of a request read from its bytes: `names` (the keys, record 0's order),
    `columns` (one per key: a float64 array for numbers, else a list of plain values)
    and `matrix` (float64 [n, len(names)] when every value is a number)."""

    __slots__ = ("names", "columns", "matrix", "rows")

    def __init__(self, names: tuple[str, ...], columns: list, matrix: np.ndarray | None, rows: int) -> None:
        self.names = names
        self.columns = columns
        self.matrix = matrix
        self.rows = rows


class _Odd(Exception):
    """Bytes this decoder leaves to protobuf."""


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    b = data[i]
    if b < 0x80:
        return b, i + 1
    result, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise _Odd


def split_records(data: bytes, other_forms: frozenset[int]) -> tuple[bytes, np.ndarray, np.ndarray] | None:
    """The request's bytes without its records (field 4), and each record's payload
    [start, end), when it holds two or more records one after the other. None when it
    holds fewer, records apart, a field in `other_forms` (another form of inputs), or
    bytes that are not plain wire format."""
    try:
        return _split_records(data, other_forms)
    except (_Odd, IndexError):
        return None


def _field_end(data: bytes, i: int, size: int) -> tuple[int, int, int]:
    """(field number, where its payload starts, where it ends) of the field at i."""
    tag, j = _read_varint(data, i)
    wire_type = tag & 7
    if wire_type == 2:
        length, j = _read_varint(data, j)
        end = j + length
    elif wire_type == 0:
        _, end = _read_varint(data, j)
    elif wire_type == 1:
        end = j + 8
    elif wire_type == 5:
        end = j + 4
    else:
        raise _Odd
    if end > size or tag < 8:
        raise _Odd
    return (tag >> 3) if wire_type == 2 or tag >> 3 != 4 else -1, j, end


def _split_records(data: bytes, other_forms: frozenset[int]) -> tuple[bytes, np.ndarray, np.ndarray] | None:
    size = len(data)
    i = 0
    while True:  # the fields before the first record
        if i >= size:
            return None
        field, j, end = _field_end(data, i, size)
        if field in other_forms:
            return None
        if field == 4:
            break
        i = end
    before = i
    if data[end : end + 1] != b"\x22":
        return None  # one record (or records apart): protobuf is as fast
    buf = np.frombuffer(data, dtype=np.uint8)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    while True:  # runs of records of one size
        head = data[i:j]
        stride = end - i
        count = (size - end) // stride
        at = end + np.arange(count, dtype=np.int64) * stride
        same = np.ones(count, dtype=bool)
        for t, byte in enumerate(head):
            same &= buf[at + t] == byte
        run = count if same.all() else int(np.argmin(same))
        first = np.arange(run + 1, dtype=np.int64) * stride + j
        starts.append(first)
        ends.append(first + (end - j))
        i = end + run * stride
        if i >= size or data[i] != 0x22:
            break
        field, j, end = _field_end(data, i, size)
    after = i
    while i < size:  # the fields after the records
        field, j, end = _field_end(data, i, size)
        if field in other_forms or field == 4:
            return None
        i = end
    return data[:before] + data[after:], np.concatenate(starts), np.concatenate(ends)


_NUMBER, _NULL, _BOOL = 0, 1, 2


def _entry(record: bytes, i: int, size: int) -> tuple[str, int, int]:
    """The map entry of a Struct at offset i, in the layout protobuf writes (field 1,
    then the key first): its key, where the key ends and where the entry ends; _Odd for
    anything else."""
    if record[i] != 0x0A:
        raise _Odd
    length, i = _read_varint(record, i + 1)
    end = i + length
    if end > size or record[i] != 0x0A:
        raise _Odd
    key_length, k = _read_varint(record, i + 1)
    key_end = k + key_length
    try:
        return record[k:key_end].decode("utf-8"), key_end, end
    except UnicodeDecodeError:
        raise _Odd from None


def _record_entries(record: bytes) -> list[tuple[str, int, int]]:
    """Record 0's entries: (key, kind, offset of the value's payload), strictly in the
    layout protobuf writes; _Odd for anything else."""
    out = []
    i, size = 0, len(record)
    while i < size:
        key, key_end, end = _entry(record, i, size)
        if key_end + 2 > end or record[key_end] != 0x12:
            raise _Odd
        value_length = record[key_end + 1]
        v = key_end + 2
        if v + value_length != end:
            raise _Odd
        tag = record[v] if value_length else -1
        if tag == 0x11 and value_length == 9:
            out.append((key, _NUMBER, v + 1))
        elif tag == 0x08 and value_length == 2 and record[v + 1] == 0:
            out.append((key, _NULL, v + 1))
        elif tag == 0x20 and value_length == 2 and record[v + 1] <= 1:
            out.append((key, _BOOL, v + 1))
        else:
            raise _Odd
        i = end
    return out


_ODD_SHARE = 4  # at most one record in this many may be decoded one by one


def _record_values(record: bytes) -> dict:
    """One record's values (number → float, null or an empty Value → None, bool, UTF-8
    string → str), strictly in the layout protobuf writes; _Odd for anything else
    (lists, objects, a key twice, other encodings)."""
    out: dict = {}
    i, size = 0, len(record)
    while i < size:
        key, key_end, end = _entry(record, i, size)
        if key_end + 2 > end or record[key_end] != 0x12 or key in out:
            raise _Odd
        value_length, v = _read_varint(record, key_end + 1)
        if v + value_length != end:
            raise _Odd
        tag = record[v] if value_length else -1
        if tag == 0x11 and value_length == 9:
            out[key] = _DOUBLE.unpack_from(record, v + 1)[0]
        elif tag == -1 or (tag == 0x08 and value_length == 2 and record[v + 1] == 0):
            out[key] = None
        elif tag == 0x20 and value_length == 2 and record[v + 1] <= 1:
            out[key] = record[v + 1] == 1
        elif tag == 0x1A:
            text_length, t = _read_varint(record, v + 1)
            if t + text_length != end:
                raise _Odd
            try:
                out[key] = record[t:end].decode("utf-8")
            except UnicodeDecodeError:
                raise _Odd from None
        else:
            raise _Odd
        i = end
    return out


def decode_records(data: bytes, starts: np.ndarray, ends: np.ndarray) -> RecordsLayout | None:
    """The records at [starts, ends) of `data` column by column, or None. The template is
    the first record of the most common size (numbers, nulls and bools only); the records
    that match it byte for byte but for their numbers and bools are read together, the
    others (a null or a string where the template has a number, say: at most one in
    _ODD_SHARE) one by one. Every record must have exactly the template's keys."""
    try:
        return _decode_records(data, starts, ends)
    except (_Odd, IndexError, struct.error):
        return None


def _decode_records(data: bytes, starts: np.ndarray, ends: np.ndarray) -> RecordsLayout | None:
    n = len(starts)
    if n == 0:
        return None
    lengths = ends - starts
    length = int(lengths[0])
    if (lengths == length).all():
        sized = None  # every record: the common case
        first = 0
    else:
        length = int(np.bincount(lengths).argmax())
        sized = np.flatnonzero(lengths == length)
        if n - len(sized) > n // _ODD_SHARE:
            return None
        first = int(sized[0])
    if length == 0:
        return None
    at = int(starts[first])
    entries = _record_entries(data[at : at + length])
    names = tuple(key for key, _, _ in entries)
    if len(set(names)) != len(names):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    if sized is None and n > 1 and (np.diff(starts) == int(starts[1] - starts[0])).all():
        stride = int(starts[1] - starts[0])
        rows = np.lib.stride_tricks.as_strided(buf[int(starts[0]) :], shape=(n, length), strides=(stride, 1))
    else:
        picked = starts if sized is None else starts[sized]
        rows = buf[picked[:, None] + np.arange(length, dtype=np.int64)]
    template = buf[at : at + length]
    free = np.zeros(length, dtype=bool)
    bools = []
    for _, kind, offset in entries:
        if kind == _NUMBER:
            free[offset : offset + 8] = True
        elif kind == _BOOL:
            free[offset] = True
            bools.append(offset)
    differs = rows != template
    differs &= ~free
    bad = differs.any(axis=1)
    for offset in bools:
        bad |= rows[:, offset] > 1
    # Positions (in 0..n-1) of the records read together, and of the others.
    sized_positions = np.arange(n) if sized is None else sized
    if bad.any():
        good_positions = sized_positions[~bad]
        rows = rows[~bad]
    else:
        good_positions = sized_positions
    if len(good_positions) == n:
        odd_positions: list[int] = []
    else:
        mask = np.ones(n, dtype=bool)
        mask[good_positions] = False
        odd_positions = np.flatnonzero(mask).tolist()
        if len(odd_positions) > n // _ODD_SHARE:
            return None
    odd_values = []
    wanted = set(names)
    for r in odd_positions:
        values = _record_values(data[int(starts[r]) : int(ends[r])])
        if len(values) != len(names) or values.keys() != wanted:
            return None  # a key missing or extra: the protobuf path reports it
        odd_values.append(values)
    everything = len(odd_positions) == 0
    numbers = [offset for _, kind, offset in entries if kind == _NUMBER]
    block = None
    if numbers:
        index = (np.array(numbers, dtype=np.int64)[:, None] + np.arange(8, dtype=np.int64)).ravel()
        block = np.ascontiguousarray(rows[:, index]).view("<f8")  # [good rows, len(numbers)]
        if not everything:
            full = np.empty((n, len(numbers)), dtype=np.float64)
            full[good_positions] = block
            block = full
    columns: list = []
    all_numbers = True
    number_i = 0
    for key, kind, offset in entries:
        if kind == _NUMBER:
            column = block[:, number_i]
            number_i += 1
            if not everything:
                odd = [values[key] for values in odd_values]
                if all(type(v) is float for v in odd):
                    column[odd_positions] = odd
                else:
                    column = column.tolist()
                    for r, v in zip(odd_positions, odd, strict=True):
                        column[r] = v
                    all_numbers = False
        else:
            all_numbers = False
            column = [None] * n
            if kind == _BOOL:
                for r, bit in zip(good_positions.tolist(), (rows[:, offset] == 1).tolist(), strict=True):
                    column[r] = bit
            for r, values in zip(odd_positions, odd_values, strict=True):
                column[r] = values[key]
        columns.append(column)
    matrix = block if all_numbers and block is not None and len(numbers) == len(entries) else None
    return RecordsLayout(names, columns, matrix, n)
