"""A generated duplicates set from real photos, with its truth (used by benchmarks/duplicates.py).

Originals are copied as they are; each gets one copy of every kind people make (KINDS). Hard
negatives: other photos of the same landmark (landmarks-dev) and of the same scene class
(scenes-test) among the unrelated photos, and bursts: successive crops of one wide photo, each
shifted 10-20 % from the last, which are similar shots, not duplicates.

Photos are split in two halves by a hash of their path: `half="calibrate"` and `half="evaluate"`
never share a source photo, so thresholds are never measured on the photos they were fitted to.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

KINDS = (
    "exact",  # the same file twice (imported from the phone twice)
    "resized",  # to 25-50 % of the pixels' side
    "recompressed",  # JPEG quality 40-70
    "cropped",  # to 80-95 % of the width and, independently, of the height
    "rotated-exif",  # pixels turned a quarter, an EXIF orientation turning them back
    "rotated",  # pixels turned a quarter, no EXIF (a "rotate and save" in a viewer)
    "brightness",  # brightness and contrast each +-(5-15) %
    "watermark",  # a text in a corner, half-transparent
    "border",  # pasted into a screenshot-like frame: a title bar and margins
    "png",  # converted to PNG
)
FOLDERS = ("everyday-dev", "landmarks-dev", "scenes-test", "camera")


@dataclass
class DupSet:
    folder: Path
    #: file name -> family: "dup-N" (an original and its copies), "burst-N", or the name itself
    family: dict[str, str] = field(default_factory=dict)
    #: file name -> kind of copy ("original" for originals, "burst" / "other" for the rest)
    kind: dict[str, str] = field(default_factory=dict)

    def save(self) -> None:
        data = {"family": self.family, "kind": self.kind}
        (self.folder.parent / "truth.json").write_text(json.dumps(data, indent=0))

    @classmethod
    def load(cls, folder: Path) -> DupSet:
        data = json.loads((folder.parent / "truth.json").read_text())
        return cls(folder, data["family"], data["kind"])


def _half(path: Path) -> str:
    return "calibrate" if hashlib.sha1(path.name.encode()).digest()[0] % 2 == 0 else "evaluate"


def _sources(data: Path, half: str) -> dict[str, list[Path]]:
    out = {}
    for name in FOLDERS:
        photos = sorted(
            p for p in (data / name).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")
        )
        out[name] = [p for p in photos if _half(p) == half]
    return out


def _upright(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def make_copy(img: Image.Image, kind: str, rng: random.Random) -> tuple[Image.Image, dict]:
    """One copy of `img` (upright RGB) and how to save it."""
    w, h = img.size
    save: dict = {"format": "JPEG", "quality": 90}
    if kind == "resized":
        f = rng.uniform(0.25, 0.5)
        img = img.resize((max(32, round(w * f)), max(32, round(h * f))), Image.Resampling.LANCZOS)
    elif kind == "recompressed":
        save["quality"] = rng.randint(40, 70)
    elif kind == "cropped":
        fw, fh = rng.uniform(0.8, 0.95), rng.uniform(0.8, 0.95)
        cw, ch = round(w * fw), round(h * fh)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = img.crop((x, y, x + cw, y + ch))
    elif kind in ("rotated", "rotated-exif"):
        clockwise = rng.random() < 0.5
        img = img.transpose(Image.Transpose.ROTATE_270 if clockwise else Image.Transpose.ROTATE_90)
        if kind == "rotated-exif":
            exif = Image.Exif()
            exif[274] = 8 if clockwise else 6  # the orientation that turns it back upright
            save["exif"] = exif.tobytes()
    elif kind == "brightness":
        b = 1 + rng.choice((-1, 1)) * rng.uniform(0.05, 0.15)
        c = 1 + rng.choice((-1, 1)) * rng.uniform(0.05, 0.15)
        img = ImageEnhance.Contrast(ImageEnhance.Brightness(img).enhance(b)).enhance(c)
    elif kind == "watermark":
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        font = _font(max(10, h // 12))
        text = rng.choice(("© Family 2024", "holiday photos", "@photographer"))
        box = draw.textbbox((0, 0), text, font=font)
        tw, th = box[2] - box[0], box[3] - box[1]
        pos = (w - tw - w // 30, h - th - h // 20) if rng.random() < 0.5 else (w // 30, h // 20)
        draw.text(pos, text, font=font, fill=(255, 255, 255, 170))
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    elif kind == "border":
        m = round(max(w, h) * rng.uniform(0.03, 0.08))
        bar = round(h * rng.uniform(0.06, 0.12))
        colour = rng.choice(((240, 240, 240), (30, 30, 30), (255, 255, 255)))
        canvas = Image.new("RGB", (w + 2 * m, h + 2 * m + bar), colour)
        ImageDraw.Draw(canvas).rectangle((0, 0, w + 2 * m, bar), fill=(60, 64, 72))
        canvas.paste(img, (m, m + bar))
        img = canvas
    elif kind == "png":
        save = {"format": "PNG", "compress_level": 1}
    else:
        raise ValueError(kind)
    return img, save


def _burst(img: Image.Image, frames: int, rng: random.Random) -> list[Image.Image]:
    """Successive crops of one wide photo, each shifted 10-20 % of its width from the last."""
    w, h = img.size
    steps = [rng.uniform(0.10, 0.20) for _ in range(frames - 1)]
    fw = 1 / (1 + sum(steps))  # frame width as a fraction of the photo's width
    cw = round(w * fw)
    x, out = 0.0, []
    for i in range(frames):
        left = round(x * w)
        out.append(img.crop((left, 0, min(w, left + cw), h)))
        if i < frames - 1:
            x += steps[i] * fw
    return out


def build(
    data: Path,
    root: Path,
    half: str = "evaluate",
    originals: int = 60,
    bursts: int = 12,
    others: int = 200,
    seed: int = 7,
) -> DupSet:
    """Write the set into `root / "photos"` and its truth next to it; returns it."""
    rng = random.Random(seed)
    folder = root / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    out = DupSet(folder)
    pools = _sources(data, half)
    for pool in pools.values():
        rng.shuffle(pool)
    per_folder = originals // len(FOLDERS)
    chosen: list[Path] = []
    for i, name in enumerate(FOLDERS):
        take = per_folder + (originals - per_folder * len(FOLDERS) if i == 0 else 0)
        chosen += [pools[name].pop() for _ in range(min(take, len(pools[name])))]
    for n, src in enumerate(chosen):
        family = f"dup-{n:03d}"
        name = f"{family}_original{src.suffix.lower()}"
        (folder / name).write_bytes(src.read_bytes())
        out.family[name], out.kind[name] = family, "original"
        img = _upright(src)
        (folder / f"{family}_exact{src.suffix.lower()}").write_bytes(src.read_bytes())
        out.family[f"{family}_exact{src.suffix.lower()}"] = family
        out.kind[f"{family}_exact{src.suffix.lower()}"] = "exact"
        for kind in KINDS[1:]:
            copy, save = make_copy(img, kind, rng)
            ext = ".png" if save["format"] == "PNG" else ".jpg"
            cname = f"{family}_{kind}{ext}"
            copy.save(folder / cname, **save)
            out.family[cname], out.kind[cname] = family, kind
    # Bursts from the widest photos left (landscape, so a 10-20 % shift stays a similar shot).
    wide = [p for name in ("camera", "landmarks-dev", "everyday-dev") for p in pools[name]]
    made = 0
    for src in wide:
        if made >= bursts:
            break
        with Image.open(src) as probe:
            if probe.width < probe.height * 1.3:
                continue
        pools_of = next(k for k, v in pools.items() if src in v)
        pools[pools_of].remove(src)
        family = f"burst-{made:03d}"
        for i, frame in enumerate(_burst(_upright(src), 4, rng)):
            name = f"{family}_{i}.jpg"
            frame.save(folder / name, quality=90)
            out.family[name], out.kind[name] = family, "burst"
        made += 1
    # Unrelated photos, landmarks and scene classes first: they share places and subjects.
    rest = pools["landmarks-dev"] + pools["scenes-test"] + pools["everyday-dev"]
    rng.shuffle(rest)
    rest = sorted(rest[:others], key=lambda p: str(p))
    for src in rest:
        name = f"other_{src.parent.name}_{src.name}"
        (folder / name).write_bytes(src.read_bytes())
        out.family[name], out.kind[name] = name, "other"
    out.save()
    return out
