"""One factory for the classifier: a timm model, two classes, optional ImageNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.network import host_reachable

HF_HUB = "https://huggingface.co"

CLASSES = ("no", "yes")  # index 1 = aurora
DEFAULT_MODEL = "efficientnet_b1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def create_model(
    name: str = DEFAULT_MODEL,
    pretrained: bool = False,
    weights: str | os.PathLike | None = None,
    num_classes: int = len(CLASSES),
):
    """A timm classifier with a fresh ``num_classes`` head.

    Parameters
    ----------
    name
        Any timm model name; ``efficientnet_b1`` by default (the seed study's network).
    pretrained
        Load ImageNet weights from the Hugging Face hub through timm (needs the network).
    weights
        A local ImageNet checkpoint file for ``name`` (``.safetensors``, ``.pth`` or ``.bin``),
        loaded through timm's ``pretrained_cfg_overlay``; works offline.

    Raises
    ------
    NetworkUnavailableError
        ``pretrained=True`` without ``weights`` and the hub cannot be reached.
    """
    model = _create(name, pretrained, weights, num_classes)
    # A fresh head starts at zero: timm's EfficientNet init draws it in +-1/sqrt(num_classes),
    # which for 2 classes gives logits of ~+-14 and a diverging first epoch.
    head = model.get_classifier()
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    return model


def _create(name: str, pretrained: bool, weights: str | os.PathLike | None, num_classes: int):
    import timm

    if name not in timm.list_models():
        raise AuroraSWError(f"unknown timm model {name!r} (see timm.list_models())")
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise AuroraSWError(f"{path}: weights file not found")
        return timm.create_model(name, pretrained=True, num_classes=num_classes, pretrained_cfg_overlay=dict(file=str(path)))
    if pretrained:
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True") and not host_reachable(HF_HUB):
            raise NetworkUnavailableError(
                f"no network: cannot reach huggingface.co for ImageNet weights of {name}; pass --weights FILE (a local checkpoint) or --from-scratch"
            )
        try:
            return timm.create_model(name, pretrained=True, num_classes=num_classes)
        except Exception as exc:  # huggingface_hub raises several offline error types
            if "LocalEntryNotFound" in type(exc).__name__ or "offline" in str(exc).lower() or "connect" in str(exc).lower():
                raise NetworkUnavailableError(
                    f"no network: cannot download ImageNet weights for {name} from the Hugging Face hub; "
                    "pass --weights FILE (a local checkpoint) or --from-scratch"
                ) from None
            raise
    return timm.create_model(name, pretrained=False, num_classes=num_classes)
