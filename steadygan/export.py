"""`steadygan export`: a run's generator (the EMA copy by default) as one file that an application loads
without steadygan: TorchScript for plain PyTorch, or ONNX for onnxruntime and the other ONNX runtimes.

The file maps latents z (and class labels, for a conditional model without a fixed `--class`) to images:
(N, C, H, W) floats in [-1, 1], or with `uint8` (N, H, W, C) bytes, ready for an image library. A
style-based G carries its mapping and synthesis networks with the truncation in w baked in (TorchScript
also offers `mapping` and `synthesis` on their own, for style mixing); a progressive G renders at its
final resolution. The graph is traced at one batch size and checked, reloaded from the written file, at
another against steadygan's own generator on the same latents: the largest difference is reported. A
short usage example is written beside the file. Existing files are replaced only when an earlier export
wrote them.
"""

from __future__ import annotations

import copy
import json
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError, OutputError, warn
from .generate import LoadedGenerator, load_generator
from .growth import last_phase
from .images import SOFTWARE, check_output_file
from .models import Generator, StyleGenerator
from .models.pggan import Progressive
from .nn.stylegan import ModulatedConv2d
from .registry import Registry
from .sampling import generate, latents_for
from .storage.atomic import atomic_path, write_atomic

WRITER = f"{SOFTWARE} export"
METADATA = "steadygan.json"  # TorchScript: an extra file in the archive; ONNX: a metadata_props entry
USAGE_MARK = f"# Written by `{WRITER}`; a new export to the same file replaces it."
TRACE_BATCH = 2  # the batch size the graph is traced at
CHECK_BATCH = 5  # ... and the one it is checked at, so that a batch size fixed in the graph shows
ONNX_OPSET = 17


def pixels(images: torch.Tensor, uint8: bool) -> torch.Tensor:
    """G's images as the export returns them: clamped to [-1, 1], or as (N, H, W, C) uint8 the way
    steadygan writes PNGs (`steadygan.images.to_uint8`)."""
    images = images.clamp(-1, 1)
    if not uint8:
        return images
    return ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)


class ExportedGenerator(nn.Module):
    """latents z (N, z_dim) [and labels (N,) int64] -> images, with the export's choices baked in: a fixed
    class, a style-based G's truncation psi, the output type. A progressive G is put at its final phase."""

    def __init__(self, generator: Generator, *, class_index: int | None, truncation: float | None, uint8: bool):
        super().__init__()
        self.generator = generator
        self.class_index, self.uint8 = class_index, uint8
        self.psi = 1.0 if truncation is None else truncation  # a style-based G's; others draw truncated z
        self.style_based = isinstance(generator, StyleGenerator)
        for module in generator.modules():
            if isinstance(module, ModulatedConv2d):
                module.grouped = False  # a graph whose batch size is free
        if isinstance(generator, Progressive):
            generator.set_phase(generator.max_depth)

    def _labels(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
        if self.class_index is None:
            return labels
        return torch.full((z.shape[0],), self.class_index, dtype=torch.long, device=z.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.style_based:
            return self.synthesis(self.mapping(z, labels))
        return pixels(self.generator(z, self._labels(z, labels)), self.uint8)

    def mapping(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """A style-based G's styles ws (N, num_ws, w_dim), truncated towards the average w by psi."""
        assert isinstance(self.generator, StyleGenerator)
        return self.generator.mapping(z, self._labels(z, labels), self.psi)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        assert isinstance(self.generator, StyleGenerator)
        return pixels(self.generator.synthesis(ws), self.uint8)


@dataclass
class Signature:
    """What the exported file takes and gives, for the metadata, the usage example and the check."""

    inputs: list[str]  # "z", and "labels" for a conditional model without a fixed class
    z_dim: int
    num_classes: int
    output: str  # the shape and type of the images
    facts: dict[str, Any] = field(default_factory=dict)  # recorded in the file's metadata


# ---------------------------------------------------------------------------------------------------
# the formats


@dataclass(frozen=True)
class ExportFormat:
    suffix: str
    module: str | None  # the package the export itself needs, if any
    save: Callable[[ExportedGenerator, tuple[torch.Tensor, ...], Signature, Path], None]
    run: Callable[[Path, list[np.ndarray]], np.ndarray]  # the written file on inputs (raises ImportError)
    runtime: str  # what loads it, for the messages
    written_by_export: Callable[[Path], bool]
    usage: Callable[[Path, Signature], str]  # the example's lines that load and run the file


FORMATS: Registry[ExportFormat] = Registry("export format")


@contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Tracing warns that torch.jit is deprecated and that sizes become constants: the first is torch's
    plan, not the user's to act on; the second is checked by running the file at another batch size."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*[Cc]onstant fold.*")
        yield


def _save_torchscript(module: ExportedGenerator, inputs: tuple[torch.Tensor, ...], signature: Signature,
                      path: Path) -> None:
    methods: dict[str, tuple[torch.Tensor, ...]] = {"forward": inputs}
    if module.style_based:
        methods.update(mapping=inputs, synthesis=(module.mapping(*inputs),))
    with _quiet_tracing():
        traced = torch.jit.trace_module(module, methods, check_trace=False)
        with atomic_path(path) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files={METADATA: json.dumps(signature.facts)})


def _run_torchscript(path: Path, inputs: list[np.ndarray]) -> np.ndarray:
    with _quiet_tracing():
        module = torch.jit.load(str(path))
    with torch.no_grad():
        return module(*(torch.from_numpy(x) for x in inputs)).numpy()


def _torchscript_by_export(path: Path) -> bool:
    """A TorchScript archive (a zip) that carries this command's metadata."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith(f"/extra/{METADATA}")), None)
            return name is not None and json.loads(archive.read(name)).get("software") == WRITER
    except (OSError, ValueError, zipfile.BadZipFile, AttributeError):
        return False


def _torchscript_usage(path: Path, signature: Signature) -> str:
    truncation = signature.facts.get("z_truncation")
    draw = (f"z = torch.nn.init.trunc_normal_(torch.empty(16, {signature.z_dim}), a=-{truncation}, b={truncation})"
            if truncation else f"z = torch.randn(16, {signature.z_dim})")
    lines = ["import numpy as np", "import torch", "from PIL import Image", "",
             f'generator = torch.jit.load(str(Path(__file__).with_name("{path.name}")))', draw]
    if "labels" in signature.inputs:
        lines.append(f"labels = torch.randint({signature.num_classes}, (16,))")
    lines += ["with torch.no_grad():", f"    images = generator({', '.join(signature.inputs)}).numpy()"]
    if signature.facts["style_based"]:
        lines.append("# style mixing: ws = generator.mapping(...) (N, num_ws, w_dim); generator.synthesis(ws)")
    return "\n".join(lines)


def _save_onnx(module: ExportedGenerator, inputs: tuple[torch.Tensor, ...], signature: Signature,
               path: Path) -> None:
    import onnx

    with _quiet_tracing(), atomic_path(path) as tmp:
        torch.onnx.export(module, inputs, str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=signature.inputs, output_names=["images"],
                          dynamic_axes={name: {0: "batch"} for name in [*signature.inputs, "images"]})
        model = onnx.load(str(tmp))
        onnx.helper.set_model_props(model, {METADATA: json.dumps(signature.facts)})
        onnx.save(model, str(tmp))


def _run_onnx(path: Path, inputs: list[np.ndarray]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs, strict=True)))[0]


def _onnx_by_export(path: Path) -> bool:
    try:
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return json.loads(props.get(METADATA, "{}")).get("software") == WRITER
    except Exception:  # noqa: BLE001  (whatever a file of someone else's makes the parser raise)
        return False


def _onnx_usage(path: Path, signature: Signature) -> str:
    truncation = signature.facts.get("z_truncation")
    lines = ["import numpy as np", "import onnxruntime", "from PIL import Image", "",
             (f'session = onnxruntime.InferenceSession(str(Path(__file__).with_name("{path.name}")), '
              'providers=["CPUExecutionProvider"])'), "rng = np.random.default_rng(0)",
             f"z = rng.standard_normal((16, {signature.z_dim})).astype(np.float32)"]
    if truncation:
        lines += [f"while (outside := np.abs(z) > {truncation}).any():  # truncation: redraw beyond +-{truncation}",
                  "    z[outside] = rng.standard_normal(int(outside.sum()))"]
    inputs = {"z": "z"}
    if "labels" in signature.inputs:
        lines.append(f"labels = rng.integers({signature.num_classes}, size=16).astype(np.int64)")
        inputs["labels"] = "labels"
    feeds = ", ".join(f'"{k}": {v}' for k, v in inputs.items())
    lines.append(f"(images,) = session.run(None, {{{feeds}}})")
    return "\n".join(lines)


FORMATS.register("torchscript")(ExportFormat(
    ".pt", None, _save_torchscript, _run_torchscript, "torch.jit.load", _torchscript_by_export, _torchscript_usage))
FORMATS.register("onnx")(ExportFormat(
    ".onnx", "onnx", _save_onnx, _run_onnx, "onnxruntime", _onnx_by_export, _onnx_usage))


# ---------------------------------------------------------------------------------------------------
# the command


@dataclass
class ExportResult:
    path: Path
    usage_path: Path
    usage: str
    max_difference: float | None  # against steadygan's generator on the same latents; None when not checked
    checked_on: int  # latents the check ran on
    note: str  # how the check went, in words


def _default_out(checkpoint: str | Path, suffix: str) -> Path:
    """RUN/export/generator.pt for a run folder; beside a loose checkpoint file otherwise."""
    path = Path(checkpoint)
    return (path if path.is_dir() else path.parent) / "export" / f"generator{suffix}"


def _usage_by_export(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == USAGE_MARK
    except (OSError, UnicodeDecodeError):
        return False


def _signature(loaded: LoadedGenerator, class_index: int | None, truncation: float | None, uint8: bool,
               ema: bool) -> Signature:
    G, data = loaded.generator, loaded.data
    channels, resolution = data["shape"][0], loaded.config.data.resolution
    conditional = loaded.num_classes > 0
    inputs = ["z", "labels"] if conditional and class_index is None else ["z"]
    output = (f"(N, {resolution}, {resolution}, {channels}) uint8" if uint8
              else f"(N, {channels}, {resolution}, {resolution}) float32 in [-1, 1]")
    style_based = isinstance(G, StyleGenerator)
    facts = {"software": WRITER, "checkpoint": str(loaded.path), "step": loaded.step,
             "weights": "EMA" if ema else "raw", "arch": loaded.config.model.arch, "data": data["name"],
             "resolution": resolution, "channels": channels,
             "z_dim": G.z_dim, "inputs": inputs, "output": output, "style_based": style_based,
             "class_names": [str(n) for n in data["class_names"]] if conditional else [],
             "class": class_index, "w_truncation": truncation if style_based else None,
             "z_truncation": None if style_based else truncation}
    return Signature(inputs, G.z_dim, loaded.num_classes, output, facts)


def _usage_text(path: Path, fmt: ExportFormat, signature: Signature) -> str:
    facts = signature.facts
    classes = facts["class_names"]
    described = [(f"{facts['arch']} G ({facts['weights']} weights) after {facts['step']:,} steps on "
                  f"{facts['data']}, from {facts['checkpoint']}."),
                 f"Inputs: z, (N, {signature.z_dim}) float32 from N(0, I)"
                 + (f"; labels, (N,) int64 class indices ({_shown_classes(classes)})" if "labels" in signature.inputs
                    else "") + ".",
                 f"Output: images, {signature.output}."]
    if facts["class"] is not None:
        described.append(f"Every image is of class {facts['class']} ({classes[facts['class']]}).")
    if facts["w_truncation"] is not None:
        described.append(f"Truncation psi = {facts['w_truncation']} is applied in w inside the file.")
    if facts["z_truncation"]:
        described.append(f"Truncation: draw z with every entry within +-{facts['z_truncation']}, as below.")
    to_bytes = ("pixels = images" if "uint8" in signature.output else
                "pixels = np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)")
    return "\n".join([
        USAGE_MARK,
        f'"""Draw 16 images from {path.name} with {fmt.runtime}; steadygan is not needed.', "",
        *described, '"""', "from pathlib import Path", "",
        fmt.usage(path, signature),
        to_bytes,
        "strip = np.concatenate(list(pixels), axis=1)  # the 16 images side by side",
        f'Image.fromarray(strip[..., 0] if strip.shape[-1] == 1 else strip).save("{path.stem}-samples.png")',
        f'print("wrote {path.stem}-samples.png from images of shape", images.shape)', ""])


def _shown_classes(names: list[str]) -> str:
    shown = ", ".join(f"{i} {name}" for i, name in enumerate(names[:10]))
    return shown + (f", ... {len(names) - 1} {names[-1]}" if len(names) > 10 else "")


def export_generator(checkpoint: str | Path, *, format: str = "torchscript", out: str | Path | None = None,
                     truncation: float | None = None, class_label: str | int | None = None, uint8: bool = False,
                     ema: bool = True, seed: int = 0) -> ExportResult:
    """Writes the generator of a run folder or checkpoint as `format` (torchscript or onnx) to `out` (default
    RUN/export/generator.pt or .onnx) and a usage example beside it, then checks the written file against
    steadygan's generator on the same latents (drawn with `seed`)."""
    fmt = FORMATS.get(format)
    if fmt.module is not None and not _importable(fmt.module):
        raise OutputError(f"--format {format} needs the {fmt.module} package, which is not installed; "
                          f"pip install 'steadygan[{format}]'")
    target = check_output_file(out or _default_out(checkpoint, fmt.suffix), fmt.suffix, WRITER,
                               replaceable=fmt.written_by_export)
    usage_path = check_output_file(target.with_name(f"{target.stem}-usage.py"), ".py", WRITER,
                                   option="the usage example", replaceable=_usage_by_export)
    loaded = load_generator(checkpoint, ema=ema)
    if loaded.data["kind"] != "image":
        raise CheckpointError("export needs an image model; this checkpoint generates 2-D points")
    class_index = loaded.class_index(class_label)
    G = loaded.generator
    if isinstance(G, Progressive):
        phase = last_phase(loaded.config, loaded.step)
        if phase is not None and (phase.depth < G.max_depth or phase.alpha < 1):
            warn(f"'{loaded.path}' is at {phase.describe()}; the export renders the final "
                 f"{loaded.config.data.resolution}px, whose newest layers have not finished growing")
        G.set_phase(G.max_depth)  # steadygan's reference renders what the export renders
    signature = _signature(loaded, class_index, truncation, uint8, ema)

    def latents(n: int, generator_seed: int) -> list[torch.Tensor]:
        rng = torch.Generator().manual_seed(generator_seed)
        z = latents_for(G, n, rng, truncation)  # also checks a truncation in z
        given = [z]
        if "labels" in signature.inputs:
            given.append(torch.randint(loaded.num_classes, (n,), generator=rng))
        return given

    module = ExportedGenerator(copy.deepcopy(G), class_index=class_index,
                               truncation=truncation if isinstance(G, StyleGenerator) else None, uint8=uint8).eval()
    fmt.save(module, tuple(latents(TRACE_BATCH, seed + 1)), signature, target)
    usage = _usage_text(target, fmt, signature)
    write_atomic(usage_path, usage.encode())

    check = latents(CHECK_BATCH, seed)
    labels = check[1] if len(check) > 1 else (
        None if class_index is None else torch.full((CHECK_BATCH,), class_index, dtype=torch.long))
    reference = pixels(generate(G, check[0], labels, truncation=truncation), uint8).numpy()
    try:
        exported = fmt.run(target, [x.numpy() for x in check])
    except ImportError as exc:
        return ExportResult(target, usage_path, usage, None, 0,
                            f"not checked: {exc.name or fmt.runtime} is not installed (pip install "
                            f"'steadygan[{format}]')")
    difference = float(np.abs(exported.astype(np.float64) - reference.astype(np.float64)).max())
    unit = " (pixel levels of 255)" if uint8 else ""
    return ExportResult(target, usage_path, usage, difference, CHECK_BATCH,
                        f"checked: {fmt.runtime} of the written file on {CHECK_BATCH} latents differs from "
                        f"steadygan's generator by at most {difference:.3g}{unit}")


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True

