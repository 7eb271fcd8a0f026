"""Every reader of a user's file, fed damaged, truncated, oversized and mistyped files
(hypothesis): each answers with a correct result or an InputError (one line for the user),
never another exception.

    SEAN_FUZZ_EXAMPLES=2000 python -m pytest tests/test_bad_input_fuzz.py

tries 2000 inputs per reader (the README's reliability section gives the last such run);
CI tries fewer.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.editor.document import Document, Source
from models.data.files import MIN_SIDE, InputError, load_image, load_mask, looks_like_label_map, schemes_fitting_mask
from models.inference.styles import StyleMatrix
from models.inference.weights import load_weights
from tests.helpers import STREET, TOY, toy_mask, toy_photo
from tests.test_cli import huge_png

EXAMPLES = int(os.environ.get("SEAN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
STYLE_DIM = 16


def image_bytes(array: np.ndarray, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **options)
    return buf.getvalue()


def valid_files() -> dict[str, bytes]:
    """One good file of every kind a user hands the app."""
    mask = toy_mask()
    photo = toy_photo(mask)
    codes = io.BytesIO()
    np.savez(codes, codes=np.zeros((4, STYLE_DIM), np.float32), present=np.ones(4, bool), model=np.array("toy"))
    doc = Document(
        "toy",
        TOY.names,
        mask,
        {"s": Source("s", StyleMatrix(np.zeros((4, STYLE_DIM), np.float32), np.ones(4, bool)), photo, "photo")},
        photo,
    )
    with tempfile.TemporaryDirectory() as tmp:
        huge = huge_png(Path(tmp) / "huge.png", 12000, 12000).read_bytes()
    return {
        "png": image_bytes(photo, "PNG"),
        "jpeg": image_bytes(photo, "JPEG", quality=90),
        "grey16": image_bytes((photo[..., 0].astype(np.uint16) * 257), "PNG"),
        "mask": image_bytes(mask, "PNG"),
        "colour mask": image_bytes(TOY.colorize(mask), "PNG"),
        "codes": codes.getvalue(),
        "project": doc.to_bytes(),
        "huge": huge,
        "text": b"hello\n",
        "empty": b"",
    }


VALID = valid_files()


def damaged(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` truncated, with bytes changed or inserted, or replaced by garbage or another
    kind of file."""
    n = len(data)

    def flip(changes):
        out = bytearray(data)
        for at, value in changes:
            out[at % n] = value
        return bytes(out)

    return st.one_of(
        st.integers(0, n).map(lambda k: data[:k]),
        st.lists(st.tuples(st.integers(0, 10 * n), st.integers(0, 255)), min_size=1, max_size=24).map(flip),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=64)).map(
            lambda t: data[: t[0]] + t[1] + data[t[0] :]
        ),
        st.binary(max_size=512),
        st.sampled_from(sorted(VALID.values())),
    )


def any_file(*kinds: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(kinds).flatmap(lambda kind: damaged(VALID[kind]))


def read(data: bytes, suffix: str, reader):
    """reader(path) on a file holding `data`: its result, or None after an InputError. Any
    other exception, or a warning reaching the user, fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"file{suffix}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return reader(path)
            except InputError as e:
                assert "\n" not in str(e)
                return None


@FUZZ
@given(any_file("png", "jpeg", "grey16", "huge", "colour mask"), st.sampled_from([None, 40]))
def test_photo_reader(data, max_side):
    photo = read(data, ".jpg", lambda p: load_image(p, max_side=max_side))
    if photo is not None:
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert min(photo.shape[:2]) >= MIN_SIDE
        # scaled down to max_side, unless that would break the size rule
        assert max_side is None or max(photo.shape[:2]) <= max_side or min(photo.shape[:2]) <= MIN_SIDE + 1


@FUZZ
@given(any_file("mask", "colour mask", "png", "huge"))
def test_mask_readers(data):
    mask = read(data, ".png", lambda p: load_mask(p, TOY))
    if mask is not None:
        assert mask.dtype == np.uint8 and mask.ndim == 2 and int(mask.max()) < TOY.num_classes
    fits = read(data, ".png", lambda p: schemes_fitting_mask(p, {"toy": TOY, "street": STREET}))
    assert fits is None or set(fits) <= {"toy", "street"}
    assert isinstance(read(data, ".png", looks_like_label_map), bool)


@FUZZ
@given(any_file("codes", "project", "text"))
def test_codes_reader(data):
    style = read(data, ".npz", lambda p: StyleMatrix.load(p, 4, STYLE_DIM, "toy"))
    if style is not None:
        assert style.codes.shape == (4, STYLE_DIM) and style.present.shape == (4,)
        assert np.isfinite(style.codes).all()


@FUZZ
@given(any_file("project", "codes", "png"))
def test_project_reader(data):
    doc = read(data, ".sean", Document.load)
    if doc is not None:
        assert doc.mask.ndim == 2 and int(doc.mask.max()) < doc.num_classes
        assert len(doc.regions) == doc.num_classes
        assert all(s.style.codes.shape[0] == doc.num_classes for s in doc.sources.values())
        assert read(doc.to_bytes(), ".sean", Document.load) is not None  # saved again, it opens again


def json_values() -> st.SearchStrategy:
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=8)
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )


def edited(tree, path: list, value, delete: bool):
    """`tree` with the node at `path` (keys or indices, cut short where the tree ends)
    replaced by `value`, or deleted."""
    if not path or not isinstance(tree, (dict, list)) or not tree:
        return value
    keys = list(tree) if isinstance(tree, dict) else list(range(len(tree)))
    key = keys[path[0] % len(keys)]
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    if delete and len(path) == 1:
        del copy[key]
    else:
        copy[key] = edited(tree[key], path[1:], value, delete)
    return copy


@pytest.fixture(scope="module")
def toy_weights(tmp_path_factory):
    import torch

    from models.nets.sean import SEAN
    from tests.conftest import save_toy_weights
    from tests.helpers import tiny_config

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    json_path = save_toy_weights(folder, "toy", TOY, SEAN(tiny_config()).eval())
    return json.loads(json_path.read_text()), json_path.with_suffix(".safetensors").read_bytes()


@FUZZ
@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=5),
    json_values(),
    st.booleans(),
    st.sampled_from(["json", "json bytes", "tensors"]),
    st.data(),
)
def test_weights_reader(toy_weights, path, value, delete, damage, data):
    meta, tensors = toy_weights
    text = json.dumps(edited(meta, path, value, delete)) if damage == "json" else json.dumps(meta)
    if damage == "json bytes":
        text = data.draw(damaged(text.encode())).decode("utf-8", "replace")
    if damage == "tensors":
        tensors = data.draw(damaged(tensors))
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "toy_32.json"
        json_path.write_text(text)
        json_path.with_suffix(".safetensors").write_bytes(tensors)
        loaded = read(text.encode(), ".json", lambda p: load_weights(json_path))
    if loaded is not None:
        model, info, mean, std = loaded
        assert mean.shape == (info.config.num_classes, info.config.style_dim) == std.shape
        assert info.labels.num_classes == info.config.num_classes


@pytest.fixture(scope="module")
def street_bank(tmp_path_factory):
    from models.data.bank import SegmentBank
    from models.data.datasets import find_pairs
    from tests.test_sims import write_streets

    folder = write_streets(tmp_path_factory.mktemp("bank"), 3)
    return SegmentBank.build(find_pairs(folder), STREET, 32, "street_32")


@FUZZ
@given(st.data())
def test_bank_reader(street_bank, data):
    """A bank with one number of its records or its meta changed to anything: refused, or
    every segment can be cut from its photo."""
    from models.data.bank import SegmentBank

    meta, arrays = dict(street_bank.meta), dict(street_bank.arrays)
    if data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(k for k in arrays if k.startswith("seg_") or k.endswith("offsets"))))
        array = arrays[key].copy()
        info = np.iinfo(array.dtype)
        index = data.draw(st.integers(0, array.size - 1))
        array.flat[index] = data.draw(st.integers(info.min, info.max))
        arrays[key] = array
    else:
        key = data.draw(st.sampled_from(["size", "photos", "segments", "descriptor", "format"]))
        meta[key] = data.draw(json_values())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.npz"
        SegmentBank(meta, arrays).save(path)
        try:
            bank = SegmentBank.load(path)
            for i in range(len(bank)):
                crop, mask = bank.segment(i)
                assert crop.shape[:2] == mask.shape
        except InputError as e:
            assert "\n" not in str(e)


# -- crafted files: what an attacker would send --------------------------------------------
def npz_with_header(shape: tuple, descr: str) -> bytes:
    """An .npz whose 'codes' and 'present' arrays declare `shape` and `descr` but hold a few bytes."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.float32))
    header.update(shape=shape, descr=descr)
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(b"\0" * 64)
    buf = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("codes.npy", npy.getvalue())
        z.writestr("present.npy", npy.getvalue())
    return buf.getvalue()


@FUZZ
@given(st.lists(st.integers(0, 2**62), min_size=1, max_size=3), st.sampled_from(["<f4", "<f8", "|b1", "|O", "<i8"]))
def test_codes_reader_with_crafted_headers(shape, descr):
    """Headers declaring any shape (up to exabytes) or pickled objects: refused or read,
    never allocated beyond the limit, never a crash."""
    style = read(npz_with_header(tuple(shape), descr), ".npz", lambda p: StyleMatrix.load(p, 4, STYLE_DIM, "toy"))
    assert style is None or style.codes.shape == (4, STYLE_DIM)


@FUZZ
@given(
    st.sampled_from(["photo.jpg", "photo.png", "photo.tif", "photo.eps"]),
    st.binary(max_size=200),
    st.sampled_from([b"%!PS-Adobe-3.0 EPSF-3.0\n", b"%PDF-1.4\n", b"\xc5\xd0\xd3\xc6"]),
)
def test_postscript_and_pdf_bodies_are_never_read_as_images(name, body, magic):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(magic + b"(x) (w) file " + body)
        with pytest.raises(InputError):
            load_image(path)
        assert sorted(p.name for p in Path(tmp).iterdir()) == [name]  # it wrote nothing


@FUZZ
@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']))
def test_project_json_of_any_depth(depth, opener):
    import zipfile

    good = zipfile.ZipFile(io.BytesIO(VALID["project"]))
    closer = "]" if opener == "[" else "}"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in good.namelist():
            z.writestr(name, opener * depth + "1" + closer * depth if name == "project.json" else good.read(name))
    assert read(buf.getvalue(), ".sean", Document.load) is None


@FUZZ
@given(
    st.sampled_from(["--count", "--rows", "--limit", "--repeats", "--edit-loop", "--mask-noise"]),
    st.one_of(st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e300", "", "x"]), st.integers().map(str)),
)
def test_numeric_flags_take_a_value_in_range_or_say_why(flag, value):
    from app.cli import main

    command = {
        "--count": ["lab", "samples"],
        "--rows": ["lab", "figure"],
        "--edit-loop": ["lab", "bench"],
        "--repeats": ["lab", "bench"],
    }.get(flag, ["lab", "eval"])
    code = main([*command, flag, value, "--help"])  # a value in range reaches --help (0); any other, 2
    assert code in (0, 2)
    if value in ("nan", "inf", "-inf", "", "x", "1e300") or value.startswith("-"):
        assert code == 2
