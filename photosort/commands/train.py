"""``photosort train``: train an encoder from a folder of photos and export it to models/.

Needs the ``train`` extra (PyTorch); imports happen inside :func:`run` so that the command line
starts without torch.
"""

from __future__ import annotations

import argparse
import sys

NAME = "train"
HELP = "train an encoder (AE, VAE, content models) on a folder of photos and export it to ONNX"

ARCHS = ("ae", "vae", "content", "content-vae", "general-vae", "reference")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        help="folder of photos (sub-folders allowed); general-vae takes several (repeat --data)",
    )
    parser.add_argument(
        "--arch",
        choices=ARCHS,
        default="ae",
        help="ae / vae: pixel autoencoders; content: EfficientNet-Lite features with GeM "
        "pooling and a whitening fitted on --data; content-vae: VAE over those features that "
        "also reconstructs pixels; general-vae: the default content VAE (pooled features and "
        "ImageNet class probabilities, projections fitted without labels on every --data "
        "folder, a colour layout, a decoder); reference: export the plain ImageNet backbone for photosort eval",
    )
    parser.add_argument("--loss", choices=("mse", "mae"), default="mse", help="pixel loss")
    parser.add_argument("--out", required=True, help="models/NAME: writes NAME.json + ONNX files")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--latent", type=int, default=None, help="latent size (default per arch)")
    parser.add_argument("--image-size", type=int, default=64, help="pixel models' input side")
    parser.add_argument("--kl-weight", type=float, default=0.02, help="VAE KL weight")
    parser.add_argument(
        "--backbone", default="lite0", choices=("lite0", "lite1", "lite2"), help="content models"
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="content models: side of the square the photo is resized to (default: the "
        "backbone's native 224/240/260; smaller is faster to index)",
    )
    parser.add_argument(
        "--distill-epochs",
        type=int,
        default=0,
        help="content models and general-vae with --input-size below the backbone's own: first "
        "fine-tune the backbone's upper blocks for N epochs so its features at that size match "
        "its features at full size (no labels used; 0 = plain ImageNet weights)",
    )
    parser.add_argument(
        "--distill-teacher",
        choices=("lite0", "lite1", "lite2"),
        default=None,
        help="the network whose full-size features the distillation imitates (default: "
        "--backbone itself)",
    )
    parser.add_argument(
        "--distill-images",
        type=int,
        default=6000,
        help="content models: photos of --data the distillation learns from (a seeded sample); "
        "general-vae: photos per distillation epoch (a new seeded sample of the fitting split "
        "each epoch)",
    )
    parser.add_argument(
        "--whitening",
        choices=("class", "none"),
        default="class",
        help="content: after the PCA, divide out the within-class covariance of --data's "
        "sub-folders (learned whitening); 'none' keeps the plain PCA projection",
    )
    parser.add_argument(
        "--pixel-latent",
        type=int,
        default=16,
        help="content-vae: latent floats encoded from a 64x64 thumbnail (colour, composition); "
        "the rest of --latent comes from the content features; 0 = features only",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-images", type=int, default=None, help="use at most N photos")
    parser.add_argument(
        "--checkpoint-dir",
        default=None,
        help="where checkpoints and caches go (default ~/.cache/photosort-train)",
    )
    parser.add_argument(
        "--docs-dir", default="docs/models", help="loss curve and reconstruction grid PNGs"
    )
    parser.add_argument(
        "--feature-dims", type=int, default=None, help="general-vae: principal directions kept"
    )
    parser.add_argument(
        "--class-dims", type=int, default=None, help="general-vae: class-embedding directions"
    )
    parser.add_argument(
        "--class-weight", type=float, default=None, help="general-vae: weight of the classes"
    )
    parser.add_argument(
        "--resize", choices=("squash", "center-crop"), default=None, help="general-vae input"
    )
    parser.add_argument(
        "--colour-weight",
        type=float,
        default=None,
        help="general-vae: weight of the 4x4 colour layout appended to the latent (0: none)",
    )
    parser.add_argument(
        "--max-per-collection",
        type=int,
        default=None,
        help="general-vae: fit on at most N photos of each collection (a seeded sample)",
    )
    parser.add_argument("--name", default=None, help="display name in the manifest")
    parser.add_argument("--description", default=None, help="manifest description")


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        print("photosort train needs PyTorch: pip install 'photosort[train]'")
        return 1
    from photosort.training.trainer import DEFAULT_CHECKPOINT_DIR, TrainConfig, train

    ckpt = args.checkpoint_dir or str(DEFAULT_CHECKPOINT_DIR)
    if args.arch == "reference":
        from photosort.training.general import build_reference_encoder

        build_reference_encoder(args.out, args.backbone, args.input_size)
        return 0
    if not args.data:
        print("photosort train: --data FOLDER is required", file=sys.stderr)
        return 2
    if args.arch == "general-vae":
        return _run_general(args, ckpt)
    if len(args.data) > 1:
        print(f"photosort train: --arch {args.arch} takes one --data folder", file=sys.stderr)
        return 2
    args.data = args.data[0]
    if args.arch in ("ae", "vae"):
        cfg = TrainConfig(
            data=args.data,
            out=args.out,
            arch=args.arch,
            loss=args.loss,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            latent_size=args.latent or 64,
            image_size=args.image_size,
            kl_weight=args.kl_weight,
            seed=args.seed,
            threads=args.threads,
            max_images=args.max_images,
            checkpoint_dir=ckpt,
            docs_dir=args.docs_dir,
            name=args.name,
            description=args.description,
        )
        summary = train(cfg, resume=args.resume)
        return 3 if summary.get("interrupted") else 0
    from photosort.training.trainer import TrainingInterrupted

    try:
        return _run_content(args, ckpt)
    except TrainingInterrupted:  # the distillation saved its checkpoint and said where
        return 3


def _run_general(args: argparse.Namespace, ckpt: str) -> int:
    from photosort.training.backbones import BACKBONES
    from photosort.training.general import (
        GeneralRecipe,
        distill_general_backbone,
        train_general_vae,
    )

    recipe = GeneralRecipe(backbone=args.backbone, seed=args.seed)
    for field, value in (
        ("input_size", args.input_size),
        ("resize", args.resize),
        ("feature_dims", args.feature_dims),
        ("class_dims", args.class_dims),
        ("class_weight", args.class_weight),
        ("colour_weight", args.colour_weight),
        ("max_per_collection", args.max_per_collection),
        ("epochs", args.epochs),
        ("batch_size", args.batch_size),
        ("lr", args.lr),
    ):
        if value is not None:
            setattr(recipe, field, value)
    if args.distill_epochs > 0 and recipe.input_size < BACKBONES[recipe.backbone][2]:
        from photosort.training.trainer import TrainingInterrupted

        try:
            weights = distill_general_backbone(
                args.data, recipe, ckpt, args.distill_epochs, args.distill_images,
                threads=args.threads,
            )  # fmt: skip
        except TrainingInterrupted:  # it saved its checkpoint and said where
            return 3
        recipe.backbone_weights = str(weights)
    summary = train_general_vae(
        args.data,
        args.out,
        recipe,
        checkpoint_dir=ckpt,
        docs_dir=args.docs_dir,
        threads=args.threads,
        resume=args.resume,
        name=args.name,
        description=args.description,
    )
    return 3 if summary.get("interrupted") else 0


def _run_content(args: argparse.Namespace, ckpt: str) -> int:
    from photosort.training import content

    distill = content.Distillation(args.distill_epochs, args.distill_images, args.distill_teacher)
    if args.arch == "content":
        content.build_content_encoder(
            data=args.data,
            out=args.out,
            backbone=args.backbone,
            latent_size=args.latent or 64,
            checkpoint_dir=ckpt,
            threads=args.threads,
            max_images=args.max_images,
            whitening=args.whitening,
            input_size=args.input_size,
            distill=distill,
            name=args.name,
            description=args.description,
        )
        return 0
    summary = content.train_content_vae(
        data=args.data,
        out=args.out,
        backbone=args.backbone,
        latent_size=args.latent or 64,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        image_size=args.image_size,
        loss=args.loss,
        seed=args.seed,
        checkpoint_dir=ckpt,
        docs_dir=args.docs_dir,
        threads=args.threads,
        max_images=args.max_images,
        resume=args.resume,
        whitening=args.whitening,
        pixel_latent=args.pixel_latent,
        input_size=args.input_size,
        distill=distill,
        name=args.name,
        description=args.description,
    )
    return 3 if summary.get("interrupted") else 0
