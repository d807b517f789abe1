"""Data for training and evaluating SR models: MATLAB-compatible resize, image IO, data sources,
splits, leak checks, data sets, PSNR/SSIM and the evaluation loop.

Importing this package registers the data sources (folder, div2k, skimage, set5, set14) in
:data:`hnas.registry.DATASETS`.
"""

from hnas.data.datasets import BenchmarkItem, BenchmarkSet, PatchDataset, make_loader
from hnas.data.evaluate import BicubicUpscaler, evaluate, evaluate_sets
from hnas.data.io import image_size, image_to_tensor, read_image, tensor_to_image, to_rgb, write_image
from hnas.data.metrics import PSNR_CAP, batch_psnr, psnr, psnr_ssim, rgb_to_y, ssim
from hnas.data.overlap import check_disjoint, content_hash, find_overlap
from hnas.data.resize import downscale_uint8, imresize, mod_crop, upscale_uint8
from hnas.data.sources import (
    ImageRecord,
    Source,
    SourceSpec,
    load_pair,
    open_images,
    resolve_source,
    source_label,
    validate_source,
)
from hnas.data.splits import Split, parse_split, select_split, split_range, splits_overlap

__all__ = [
    "PSNR_CAP",
    "BenchmarkItem",
    "BenchmarkSet",
    "BicubicUpscaler",
    "ImageRecord",
    "PatchDataset",
    "Source",
    "SourceSpec",
    "Split",
    "batch_psnr",
    "check_disjoint",
    "content_hash",
    "downscale_uint8",
    "evaluate",
    "evaluate_sets",
    "find_overlap",
    "image_size",
    "image_to_tensor",
    "imresize",
    "load_pair",
    "make_loader",
    "mod_crop",
    "open_images",
    "parse_split",
    "psnr",
    "psnr_ssim",
    "read_image",
    "resolve_source",
    "rgb_to_y",
    "select_split",
    "source_label",
    "split_range",
    "splits_overlap",
    "ssim",
    "tensor_to_image",
    "to_rgb",
    "upscale_uint8",
    "validate_source",
    "write_image",
]
