"""Files made by an attacker: nothing in them runs code, picks where we write or hangs.

Pillow identifies images by content and would open an EPS through Ghostscript, running
its PostScript; every image a user hands us is opened through `open_image`, which reads
only an allowlist of formats decoded by Pillow itself."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.editor.document import Document, Source
from models.data.files import IMAGE_READ_FORMATS, InputError, load_image, load_mask, photo_from_bytes, photo_metadata
from models.inference.styles import CODE_RANGE, StyleMatrix
from tests.helpers import TOY, toy_mask, toy_photo

ROOT = Path(__file__).resolve().parents[1]


def eps_body(target: Path) -> bytes:
    """An EPS whose PostScript writes `target` when Ghostscript runs it."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
        + f"({target}) (w) file (x) writestring\n".encode()
        + b"showpage\n%%EOF\n"
    )


def test_an_eps_named_like_a_photo_is_refused_and_runs_nothing(tmp_path: Path):
    pwned = tmp_path / "pwned.txt"
    for name in ("photo.jpg", "photo.png", "photo.eps"):
        (tmp_path / name).write_bytes(eps_body(pwned))
        with pytest.raises(InputError, match="not an image of a format we read"):
            load_image(tmp_path / name)
        with pytest.raises(InputError):
            load_mask(tmp_path / name, TOY)
        assert photo_metadata(tmp_path / name) == {}
    with pytest.raises(InputError):
        photo_from_bytes(eps_body(pwned), "original")
    assert not pwned.exists()


@pytest.mark.parametrize("entry", ["mask.png", "photo.png", "thumbnails/0.png"])
def test_a_project_with_an_eps_entry_is_refused_and_runs_nothing(tmp_path: Path, entry: str):
    pwned = tmp_path / "pwned.txt"
    mask = toy_mask()
    photo = toy_photo(mask)
    doc = Document(
        "toy",
        TOY.names,
        mask,
        {"s": Source("s", StyleMatrix(np.zeros((4, 16), np.float32), np.ones(4, bool)), photo)},
        photo,
    )
    good = zipfile.ZipFile(io.BytesIO(doc.to_bytes()))
    crafted = tmp_path / "crafted.sean"
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            z.writestr(name, eps_body(pwned) if name == entry else good.read(name))
    with pytest.raises(InputError):
        Document.load(crafted)
    assert not pwned.exists()


def names_a_file(arg: ast.expr) -> bool:
    """Whether a Qt image constructor's first argument looks like a file name."""
    if isinstance(arg, (ast.Constant, ast.JoinedStr)):
        return isinstance(arg, ast.JoinedStr) or isinstance(arg.value, str)
    text = ast.unparse(arg).lower()
    return any(word in text for word in ("path", "file", "name"))


def test_every_image_a_file_becomes_goes_through_open_image():
    """No `Image.open`, `cv2.imread`, `QImage(path)` or `QPixmap(path)` outside the one
    helper: any other would read formats (EPS, PDF) that run other programs."""
    offenders = []
    for path in [ROOT / "main.py", *sorted((ROOT / "app").rglob("*.py")), *sorted((ROOT / "models").rglob("*.py"))]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            helper = path.name == "files.py" and path.parent.name == "data"
            if name.endswith("Image.open") and not helper or name in ("cv2.imread", "cv2.imreadmulti"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
            if name in ("QImage", "QPixmap", "QIcon") and node.args and names_a_file(node.args[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}(path)")
            if name.endswith("QImageReader"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offenders == []


def test_the_allowlist_reads_what_users_have_and_nothing_that_runs_programs():
    assert {"JPEG", "PNG", "WEBP", "TIFF", "BMP"} <= set(IMAGE_READ_FORMATS)
    assert not {"EPS", "PS", "PDF", "XVThumb", "WMF", "EMF"} & set(IMAGE_READ_FORMATS)


def test_a_project_never_chooses_the_file_save_writes(tmp_path: Path):
    """`autosave_of` in a project names the file an autosave was made of; a crafted one
    must not make Save overwrite another file (only a real autosave is trusted)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    mask = toy_mask()
    doc = Document("toy", TOY.names, mask)
    crafted = tmp_path / "crafted.sean"
    good = zipfile.ZipFile(io.BytesIO(doc.snapshot(autosave_of=str(victim)).to_bytes()))
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            z.writestr(name, good.read(name))
    opened = Document.load(crafted)
    assert opened.path == crafted
    meta = json.loads(good.read("project.json"))
    assert meta["autosave_of"] == str(victim)
    assert victim.read_text() == "precious"
    # Even an autosave of ours names only a project file, never a text file.
    assert Document.load(crafted, recovering=True).path == crafted


def test_odd_names_in_the_autosave_folder_are_not_autosaves(tmp_path: Path):
    from app.editor.autosave import Autosave

    store = Autosave(tmp_path, pid=1)
    store.folder.mkdir(parents=True)
    for name in ("99999999999999999999.sean", "\u00b2.sean", "-1.sean"):
        (store.folder / name).write_bytes(b"x")
    assert store.orphans() == []


def npz_declaring(shape: tuple, dtype: str = "<f4", body: bytes = b"") -> bytes:
    """An .npz whose one array's header declares `shape` but holds only `body`."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.float32))
    header.update(shape=shape, descr=dtype)
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(body)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("codes.npy", npy.getvalue())
        z.writestr("present.npy", npy.getvalue())
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(1 << 33, 512), (1 << 62,), (37 << 28,)])
def test_a_codes_file_declaring_huge_arrays_is_refused_before_allocating(tmp_path, shape):
    from models.inference.styles import read_codes_file

    path = tmp_path / "bomb.npz"
    path.write_bytes(npz_declaring(shape))
    with pytest.raises(InputError, match="declares|MB"):
        read_codes_file(path)


def test_an_npz_of_pickled_objects_is_refused(tmp_path):
    from models.inference.styles import read_codes_file

    path = tmp_path / "pickle.npz"
    path.write_bytes(npz_declaring((2,), "|O", b"\x80\x04N."))
    with pytest.raises(InputError, match="pickled"):
        read_codes_file(path)


def test_a_project_entry_that_inflates_past_its_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    import app.editor.project_file as project_file

    monkeypatch.setattr(project_file, "JSON_LIMIT", 1 << 16)
    mask = toy_mask()
    doc = Document("toy", TOY.names, mask)
    good = zipfile.ZipFile(io.BytesIO(doc.to_bytes()))
    meta = json.loads(good.read("project.json"))
    crafted = tmp_path / "bomb.sean"
    with zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as z:
        for name in good.namelist():
            if name == "project.json":  # megabytes of whitespace: a few kilobytes deflated
                z.writestr(name, json.dumps(meta) + " " * (1 << 20))
            else:
                z.writestr(name, good.read(name))
    assert crafted.stat().st_size < 64 << 10
    with pytest.raises(InputError, match="inflates to more than"):
        Document.load(crafted)


def test_a_project_json_nested_without_end_is_refused(tmp_path):
    mask = toy_mask()
    good = zipfile.ZipFile(io.BytesIO(Document("toy", TOY.names, mask).to_bytes()))
    crafted = tmp_path / "deep.sean"
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            z.writestr(name, "[" * 100_000 + "]" * 100_000 if name == "project.json" else good.read(name))
    with pytest.raises(InputError):
        Document.load(crafted)


def test_a_huge_thumbnail_in_a_project_is_refused(tmp_path):
    from PIL import Image

    mask = toy_mask()
    photo = toy_photo(mask)
    doc = Document(
        "toy",
        TOY.names,
        mask,
        {"s": Source("s", StyleMatrix(np.zeros((4, 16), np.float32), np.ones(4, bool)), photo)},
        photo,
    )
    good = zipfile.ZipFile(io.BytesIO(doc.to_bytes()))
    big = io.BytesIO()
    Image.new("RGB", (2000, 1000)).save(big, format="PNG")
    crafted = tmp_path / "thumbs.sean"
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            z.writestr(name, big.getvalue() if name.startswith("thumbnails/") else good.read(name))
    with pytest.raises(InputError, match="larger than such an image"):
        Document.load(crafted)


def test_outputs_replace_only_regular_files_and_say_what_they_hold(tmp_path):
    import os

    from models.data.files import save_image, save_mask

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        save_image(fifo, toy_photo(toy_mask()))
    assert fifo.exists() and not fifo.is_file()  # left as it was
    with pytest.raises(InputError, match="ending in .png"):
        save_mask(tmp_path / "m.jpg", toy_mask(), TOY)
    with pytest.raises(InputError, match="ending in .npz"):
        StyleMatrix(np.zeros((4, 16), np.float32), np.ones(4, bool)).save(tmp_path / "photo.jpg", "toy", TOY.names)
    with pytest.raises(InputError, match="ending in .sean"):
        Document("toy", TOY.names, toy_mask()).save(tmp_path / "victim.txt")


@pytest.mark.parametrize("name", ["/etc", "/etc/passwd", "a**b", "../weights/face", ""])
def test_a_model_name_is_a_name_or_a_weights_file(name):
    from models.inference.weights import find_weights

    with pytest.raises(InputError):
        find_weights(name)


def test_render_refuses_a_project_with_codes_that_do_not_fit_the_model(
    tmp_path, capsys, weights_json, toy_parser, monkeypatch
):
    import models.data.framing as framing
    from app.cli import main
    from models.inference.composite import start_edit
    from models.inference.engine import Engine

    monkeypatch.setattr(framing, "detect_faces", lambda photo: [(59, 45, 41, 41)])
    engine = Engine.load(str(weights_json), "cpu")
    from tests.test_photo_edit import big_photo

    photo = big_photo(shape=(120, 160))
    edit, own, framed = start_edit(engine, photo, "p")
    for codes in (np.full_like(own.codes, np.nan), np.full_like(own.codes, 50.0), np.zeros((4, 7), np.float32)):
        doc = Document(
            "toy", TOY.names, edit.mask, {"p": Source("p", StyleMatrix(codes, own.present))}, framed, photo_edit=edit
        )
        doc.save(tmp_path / "p.sean")
        monkeypatch.setattr(Engine, "load", classmethod(lambda cls, *a, **k: engine))
        assert main(["render", str(tmp_path / "p.sean"), "--out", str(tmp_path / "o.png")]) == 2
        assert "do not fit" in capsys.readouterr().err
        assert not (tmp_path / "o.png").exists()


def test_a_killed_writes_partial_files_are_removed_by_the_next_write_once_stale(tmp_path):
    import os
    import time

    from models.data.files import save_image

    old, fresh, other = tmp_path / ".out-abcd1234.png", tmp_path / ".out-zzzz9999.png", tmp_path / ".out-mine.png"
    for f in (old, fresh, other):
        f.write_bytes(b"partial")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    save_image(tmp_path / "out.png", toy_photo(toy_mask()))
    assert not old.exists() and fresh.exists() and other.exists()  # only our own name, only when stale


@pytest.mark.parametrize("name", ["meta", "xpu", "hpu", "cuda:99"])
def test_devices_we_do_not_run_on_are_refused(name):
    from models.device import pick_device

    with pytest.raises(InputError):
        pick_device(name)


def test_a_photo_longer_than_opencv_reaches_is_refused_before_decoding(tmp_path):
    from tests.test_cli import huge_png

    with pytest.raises(InputError, match="too long a side"):
        load_image(huge_png(tmp_path / "long.png", 40000, 40))


@pytest.mark.parametrize(
    "framing",
    [
        {"x": float("inf"), "y": 0, "side": 10, "found_face": True},
        {"x": 0, "y": 0, "side": 1e300, "found_face": True},
        {"x": 0, "y": 0, "side": -5, "found_face": True},
    ],
)
def test_absurd_framings_are_refused(framing):
    from models.data.framing import Framing

    with pytest.raises(ValueError):
        Framing.from_dict(framing)


def test_a_project_naming_a_style_it_does_not_hold_is_refused(tmp_path):
    doc = Document("toy", TOY.names, toy_mask())
    good = zipfile.ZipFile(io.BytesIO(doc.to_bytes()))
    meta = json.loads(good.read("project.json"))
    meta["regions"][1]["source_a"] = "photo:/somewhere/else.jpg"
    crafted = tmp_path / "ghost.sean"
    with zipfile.ZipFile(crafted, "w") as z:
        for name in good.namelist():
            z.writestr(name, json.dumps(meta) if name == "project.json" else good.read(name))
    with pytest.raises(InputError, match="does not hold"):
        Document.load(crafted)


@pytest.mark.parametrize("poison", ["nan", "int8"])
def test_weights_that_are_not_finite_floats_are_refused(tmp_path, weights_json, poison):
    import torch
    from safetensors.torch import load_file, save_file

    from models.inference.weights import load_weights

    tensors = load_file(weights_json.with_suffix(".safetensors"))
    key = next(iter(tensors))
    tensors[key] = tensors[key].fill_(float("nan")) if poison == "nan" else tensors[key].to(torch.int8)
    save_file(tensors, weights_json.with_suffix(".safetensors"))
    with pytest.raises(InputError, match="not finite floating-point"):
        load_weights(weights_json)


def test_codes_far_outside_the_encoders_range_are_refused(tmp_path):
    path = tmp_path / "loud.npz"
    np.savez(path, codes=np.full((4, 16), 1e6, np.float32), present=np.ones(4, bool))
    with pytest.raises(InputError, match="within"):
        StyleMatrix.load(path, 4, 16)


def test_the_encoders_own_codes_load_again_though_they_pass_1(tmp_path, weights_json, monkeypatch):
    """The encoder's tanh plus its context's residual passes 1 on every real photo (up
    to 1.76): `encode --refine 0` wrote files that `synth --codes` then refused. What it
    makes is clipped to the range a file may hold, and such a file loads."""
    import torch

    from models.inference.engine import Engine
    from tests.helpers import toy_mask, toy_photo

    engine = Engine.load(str(weights_json), "cpu")
    real = engine.model.encoder.forward

    def past_one(image, seg):  # an encoder whose context pushes codes far past its tanh
        codes, present = real(image, seg)
        return codes * 0 + torch.linspace(-9, 9, codes.shape[-1]), present

    monkeypatch.setattr(engine.model.encoder, "forward", past_one)
    mask = toy_mask()
    style = engine.encode(toy_photo(mask), mask)
    assert np.abs(style.codes).max() == pytest.approx(CODE_RANGE)
    style.save(tmp_path / "own.npz", engine.info.model, engine.labels.names)
    cfg = engine.info.config
    loaded = StyleMatrix.load(tmp_path / "own.npz", cfg.num_classes, cfg.style_dim, engine.info.model)
    np.testing.assert_array_equal(loaded.codes, style.codes)


def test_a_weights_description_nested_without_end_is_refused(tmp_path, weights_json):
    from models.inference.weights import load_weights

    weights_json.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested too deep"):
        load_weights(weights_json)
