"""Reads the pieces of a SentencePiece .model file (a protobuf ModelProto) without the
protobuf package, which Debian's python3-sentencepiece does not pull in. Only the fields the
GGUF export needs are decoded; the result is cross-checked against the sentencepiece library.

ModelProto: 1 = repeated SentencePiece {1 piece: string, 2 score: float, 3 type: enum},
            2 = TrainerSpec {3 model_type: enum (2 = BPE)},
            3 = NormalizerSpec {1 name: string, 3 add_dummy_prefix: bool (default true),
                                4 remove_extra_whitespaces: bool (default true)}.
"""
import struct
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
BPE = 2


@dataclass
class SpmModel:
    pieces: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    types: list[int] = field(default_factory=list)
    model_type: int = 1
    normalizer_name: str = ""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """Yields (field_number, wire_type, value) of one message; value is int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def load_spm_model(path: Path) -> SpmModel:
    model = SpmModel()
    for number, _wire, value in _fields(Path(path).read_bytes()):
        if number == 1:
            piece, score, ptype = "", 0.0, NORMAL
            for n, _w, v in _fields(value):
                if n == 1:
                    piece = v.decode("utf-8")
                elif n == 2:
                    score = struct.unpack("<f", v)[0]
                elif n == 3:
                    ptype = v
            model.pieces.append(piece)
            model.scores.append(score)
            model.types.append(ptype)
        elif number == 2:
            for n, _w, v in _fields(value):
                if n == 3:
                    model.model_type = v
        elif number == 3:
            for n, _w, v in _fields(value):
                if n == 1:
                    model.normalizer_name = v.decode("utf-8")
                elif n == 3:
                    model.add_dummy_prefix = bool(v)
                elif n == 4:
                    model.remove_extra_whitespaces = bool(v)
    _cross_check(path, model)
    return model


def _cross_check(path: Path, model: SpmModel) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(path))
    if sp.get_piece_size() != len(model.pieces):
        raise ValueError(f"{path}: parsed {len(model.pieces)} pieces, library says {sp.get_piece_size()}")
    for i, (piece, score, ptype) in enumerate(zip(model.pieces, model.scores, model.types)):
        flags = (sp.is_unknown(i), sp.is_control(i), sp.is_byte(i), sp.is_unused(i))
        expected = (ptype == UNKNOWN, ptype == CONTROL, ptype == BYTE, ptype == UNUSED)
        if sp.id_to_piece(i) != piece or abs(sp.get_score(i) - score) > 1e-6 or flags != expected:
            raise ValueError(f"{path}: piece {i} parsed as {piece!r}/{score}/{ptype}, "
                             f"library says {sp.id_to_piece(i)!r}/{sp.get_score(i)}/{flags}")
    starts_with_space = sp.encode("a", out_type=str)[0].startswith("\u2581")
    if starts_with_space != model.add_dummy_prefix:
        raise ValueError(f"{path}: add_dummy_prefix parsed as {model.add_dummy_prefix}")
