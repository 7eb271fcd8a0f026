"""The engine the editor and the command line share: load a model, encode styles, synthesise.

No Qt here.  Images are uint8 RGB (H, W, 3) numpy arrays and masks uint8 (H, W) index
arrays; styles are `StyleMatrix` objects (the paper's ST, one 512-d code per class).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from models.data.files import InputError, check_labels
from models.data.framing import Framing, frame_photo, looks_like_portrait, stretched_photo
from models.data.tensors import image_to_tensor, tensor_to_image
from models.device import pick_device
from models.inference.graphs import FrameGraph, can_record
from models.inference.parser import Parser
from models.inference.refiner import REFINE_LR, StyleRefiner
from models.inference.styles import CODE_RANGE, StyleMatrix, region_colours
from models.inference.weights import WEIGHTS_DIR, ModelInfo, find_parser, find_weights, load_weights
from models.nets.config import DOWNSCALE
from models.nets.sean import NUM_BLOCKS, SEAN, one_hot
from models.settings import MAX_SCENE_ASPECT


def changed_box(old: np.ndarray, new: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) around the pixels where two masks differ; None if none do."""
    diff = old != new
    rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class Engine:
    def __init__(
        self,
        model: SEAN,
        info: ModelInfo,
        style_mean: torch.Tensor,
        style_std: torch.Tensor,
        device: torch.device,
        parser_path: Path | None = None,
        dtype: torch.dtype | None = None,
        json_path: Path | None = None,
    ):
        # Half precision on CUDA (the weights ship in fp16 anyway); fp32 elsewhere.
        self.dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        self.model = model.to(device, self.dtype).eval().requires_grad_(False)  # never trained here
        self.info = info
        self.device = device
        self.parser_path = parser_path
        self.json_path = json_path  # the weights it came from, if any: another process can load them too
        self._parser: Parser | None = None
        self._prepared: tuple | None = None  # (codes, prepared styles) of the last frame
        self._frame: tuple | None = None  # (mask, prepared styles, modulations) of the last frame
        # On CUDA a frame is one recorded launch (models/inference/graphs.py); elsewhere the
        # mask-and-style work is kept between frames and redone around a brush stroke.
        self.graphs = can_record(device)
        self._frame_graph: FrameGraph | None = None
        s = info.config.num_classes
        self.mean_style = StyleMatrix(style_mean.numpy(), np.ones(s, bool))
        self.style_std = style_std.numpy()

    @classmethod
    def load(cls, model: str, device: str | None = None, weights_dir: Path = WEIGHTS_DIR) -> "Engine":
        """`model` is a name ("face"), a weights stem ("face_256") or a weights JSON path."""
        json_path = find_weights(model, weights_dir)
        net, info, mean, std = load_weights(json_path)
        return cls(net, info, mean, std, pick_device(device), find_parser(info, json_path.parent), json_path=json_path)

    @property
    def weights_dir(self) -> Path:
        """Where this model's siblings (the other models) are found."""
        return self.json_path.parent if self.json_path else WEIGHTS_DIR

    @property
    def size(self) -> int:
        return self.info.image_size

    @property
    def labels(self):
        return self.info.labels

    @property
    def has_parser(self) -> bool:
        return self.parser_path is not None

    @property
    def parser(self) -> Parser:
        if self.parser_path is None:
            raise InputError(
                f"model '{self.info.model}' has no parser to turn a photo into a mask; give the photo's mask"
            )
        if self._parser is None:
            parser = Parser.load(self.parser_path, self.device)
            if parser.info.labels.names != self.labels.names:
                raise InputError(
                    f"{self.parser_path}: that parser makes masks of other labels than model "
                    f"'{self.info.model}' draws; give the photo's mask"
                )
            self._parser = parser
        return self._parser

    def check_photo_suits(self, photo: np.ndarray, name: str) -> None:
        """Refuse a portrait as a style photo for a model that does not make faces."""
        if self.labels.framing != "face" and looks_like_portrait(photo):
            raise InputError(
                f"{name} looks like a face photo; model '{self.info.model}' does not make faces, "
                "so its styles cannot be used here (open it in a face edit instead)"
            )

    def frame_and_parse(self, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """(the photo framed as the model's training photos, its label mask, False when a
        face framing found no face and used the centre square)."""
        framing, framed = self.frame(photo)
        return framed, self.parser.parse(framed), framing.found_face

    def frame(self, photo: np.ndarray, face: int = 0, faces: list | None = None) -> tuple[Framing, np.ndarray]:
        """(where the model's square lies in the photo, the photo framed at the model's size);
        `face` picks another than the largest face."""
        framing = frame_photo(photo, self.labels.framing, face, faces)
        # a scene is resized whole (area-averaged, as its training photos were), not warped
        framed = framing.crop(photo, self.size) if self.labels.framing == "face" else stretched_photo(photo, self.size)
        return framing, framed

    def checked_mask(self, mask: np.ndarray, where: str = "mask") -> np.ndarray:
        """`mask` as uint8 class indices of this model's labels, or an InputError saying what is wrong."""
        return check_labels(np.asarray(mask), self.labels, where)

    def model_mask(self, mask: np.ndarray, where: str, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The label mask checked and resized to `shape` (default: the model's square), a new
        array: the engine keeps it to see what the next frame's mask changes."""
        h, w = shape or (self.size, self.size)
        return cv2.resize(self.checked_mask(mask, where), (w, h), interpolation=cv2.INTER_NEAREST)

    def render_shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(height, width) the generator paints a layout of `shape` at. A face: the model's
        square, framed as the training photos were. A scene: the model's height at the
        layout's own aspect (width a multiple of the generator's downscale), since the
        generator is convolutional and a street squeezed into the square comes out squeezed."""
        if self.labels.framing == "face":
            return self.size, self.size
        aspect = min(max(shape[1] / shape[0], 1 / MAX_SCENE_ASPECT), MAX_SCENE_ASPECT)
        return self.size, max(DOWNSCALE, round(self.size * aspect / DOWNSCALE) * DOWNSCALE)

    def scene_layout(self, mask: np.ndarray, aspect: float | None = None) -> np.ndarray:
        """`mask` at the shape the model paints it: at `aspect` (width / height) if given;
        else a square layout of a scheme whose training layouts were squeezed into the
        square (pix2pix's Cityscapes, from 2:1) back at that aspect, any other at its own."""
        mask = self.checked_mask(mask)
        if aspect is None:
            aspect = self.labels.aspect if mask.shape[0] == mask.shape[1] else mask.shape[1] / mask.shape[0]
        return self.model_mask(mask, "mask", self.render_shape((1, aspect)))

    def _one_hot(self, mask: np.ndarray) -> torch.Tensor:
        return one_hot(torch.from_numpy(mask)[None], self.info.config.num_classes).to(self.device, self.dtype)

    def _style_photo(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A style photo and its mask checked and resized to the model's size S: (S, S, 3)
        uint8 and (S, S) class indices."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"style image must be RGB (H, W, 3), got shape {image.shape}")
        if image.shape[:2] != mask.shape[:2]:
            raise InputError(
                f"style image is {image.shape[1]}x{image.shape[0]} but its mask is "
                f"{mask.shape[1]}x{mask.shape[0]}; they must be the same size"
            )
        small_mask = self.model_mask(mask, "style mask")
        return cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA), small_mask

    def _model_input(self, image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A style photo and its mask as the networks take them: (1, 3, S, S) in [-1, 1] and
        (1, s, S, S) one-hot."""
        return self._tensors(*self._style_photo(image, mask))

    def _tensors(self, image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A model-size style photo and mask as the networks take them."""
        return image_to_tensor(image).to(self.device, self.dtype), self._one_hot(mask)

    def encode(self, image: np.ndarray, mask: np.ndarray, refine_steps: int = 0) -> StyleMatrix:
        """Style matrix of `image` under its label `mask` (same height and width): the
        encoder's, then `refine_steps` steps of `StyleRefiner` when asked; with the colour
        statistics of the photo's regions, at the model's size."""
        img, small_mask = self._style_photo(image, mask)
        x, seg = self._tensors(img, small_mask)
        with torch.no_grad():
            codes, present = self.model.encoder(x, seg)
        colours = region_colours(img, small_mask, self.info.config.num_classes)
        # within the range a codes file may hold: what the encoder makes, a file keeps and loads
        codes = np.clip(codes[0].float().cpu().numpy(), -CODE_RANGE, CODE_RANGE)
        style = StyleMatrix(codes, present[0].cpu().numpy(), colours)
        return StyleRefiner(self.model, x, seg, style).step(refine_steps) if refine_steps else style

    def refiner(self, image: np.ndarray, mask: np.ndarray, style: StyleMatrix, lr: float = REFINE_LR) -> "StyleRefiner":
        """A `StyleRefiner` that fits `style` (the encoder's codes of `image`) to `image`."""
        return StyleRefiner(self.model, *self._model_input(image, mask), style, lr)

    def random_style(self, rng: np.random.Generator) -> StyleMatrix:
        """A style sampled per class from the training codes' mean and spread."""
        codes = self.mean_style.codes + rng.standard_normal(self.style_std.shape) * self.style_std
        return StyleMatrix(np.clip(codes, -1, 1).astype(np.float32), self.mean_style.present.copy())

    # no_grad, not inference_mode: the generator keeps constants made in its first frame
    # (fixed noise, folded norm shifts), and a StyleRefiner's backward pass must use them.
    @torch.no_grad()
    def synthesize(self, mask: np.ndarray, styles: StyleMatrix | list[StyleMatrix]) -> np.ndarray:
        """Image (H, W, 3) uint8 for `mask` with one style, or one per SEAN block, at
        `render_shape(mask.shape)`: the model's square for a face, its own aspect for a scene.

        Classes a style lacks take the training set's mean code for that class.
        """
        per_block = styles if isinstance(styles, list) else [styles]
        if len(per_block) not in (1, NUM_BLOCKS):
            raise InputError(f"give one style or one per block ({NUM_BLOCKS}), not {len(per_block)}")
        mask = self.model_mask(mask, "mask", self.render_shape(mask.shape))
        if self.graphs:
            return tensor_to_image(self._graphed_frame(mask, per_block))[0]
        seg = self._one_hot(mask)
        prepared = self.prepared_styles(per_block)
        out = self.model.generator.render(seg, prepared, self._modulations(mask, seg, prepared))
        return tensor_to_image(out)[0]

    def _filled_codes(self, per_block: list[StyleMatrix]) -> list[np.ndarray]:
        """Each style's codes, the classes it lacks taking the training set's mean code."""
        return [s.filled_from(self.mean_style).codes for s in per_block]

    def _graphed_frame(self, mask: np.ndarray, per_block: list[StyleMatrix]) -> torch.Tensor:
        """The frame as a `FrameGraph` replays it (recorded on CUDA)."""
        if self._frame_graph is None or self._frame_graph.labels.shape[-2:] != mask.shape:
            self._frame_graph = FrameGraph(self.model.generator, mask.shape, self.device, self.dtype)
        codes = self._filled_codes(per_block)
        stacked = np.stack(codes * NUM_BLOCKS if len(codes) == 1 else codes)[:, None]
        return self._frame_graph(torch.from_numpy(mask)[None], torch.from_numpy(stacked))

    def _modulations(self, mask: np.ndarray, seg: torch.Tensor, prepared: list) -> list:
        """The generator's work that depends on the mask and styles alone (every norm's
        [1 + gamma, beta]), kept between frames: after a brush stroke only the part around
        the stroke is redone."""
        last, self._frame = self._frame, None  # no stale maps survive a failure halfway
        generator = self.model.generator
        if last is None or last[1] is not prepared or last[0].shape != mask.shape:
            modulations = generator.modulations(seg, prepared)
        else:
            modulations = last[2]
            box = changed_box(last[0], mask)
            if box is not None and (box[1] - box[0]) * (box[3] - box[2]) > mask.size // 2:
                modulations = generator.modulations(seg, prepared)  # as fast as patching most of it
            elif box is not None:
                generator.update_modulations(modulations, seg, prepared, box)
        self._frame = (mask, prepared, modulations)
        return modulations

    def prepared_styles(self, per_block: list[StyleMatrix]) -> list:
        """The generator's style-only work (per-class transforms, gamma/beta tables), redone
        only when the styles change: painting the mask reuses it frame after frame."""
        codes = self._filled_codes(per_block)
        cached = self._prepared
        if (
            cached is None
            or len(cached[0]) != len(codes)
            or not all(np.array_equal(a, b) for a, b in zip(cached[0], codes))
        ):
            matrices = [torch.from_numpy(c)[None].to(self.device, self.dtype) for c in codes]
            self._prepared = cached = (
                codes,
                self.model.generator.prepare_styles(matrices if len(matrices) > 1 else matrices[0]),
            )
        return cached[1]
