"""One factory for the classifier: a timm model, two classes, optional ImageNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from aurora_sw.errors import AuroraSWError, NetworkUnavailableError
from aurora_sw.model.config import DEFAULT_MODEL
from aurora_sw.network import host_reachable

HF_HUB = "https://huggingface.co"

CLASSES = ("no", "yes")  # index 1 = aurora
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
        A local ImageNet checkpoint file for ``name`` (``.safetensors``, ``.pth`` or ``.bin``):
        a state dict of tensors, read weights-only (see :func:`load_backbone_weights`); works
        offline.

    Raises
    ------
    NetworkUnavailableError
        ``pretrained=True`` without ``weights`` and the hub cannot be reached.
    AuroraSWError
        ``weights`` is missing, holds pickled objects, or does not fit ``name``'s backbone.
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

    if not timm.is_model(name):  # the registry's lookup, not a scan of every model name
        raise AuroraSWError(f"unknown timm model {name!r} (see timm.list_models())")
    if weights is not None:
        # Not timm's pretrained_cfg_overlay: timm 1.0.9-1.0.25 unpickle that file with
        # weights_only=False, so a crafted .pth would run code on `train --weights`.
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        load_backbone_weights(model, weights, name)
        return model
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


# Counters, not weights: some published checkpoints leave them out.
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a local weights file, read without unpickling any object.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. A ``{"state_dict": ...}`` / ``{"model": ...}`` wrapper
    (timm and torchvision training scripts) is unwrapped and a DataParallel ``module.``
    prefix removed.

    Raises
    ------
    AuroraSWError
        The file is missing, unreadable, holds pickled objects, or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise AuroraSWError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            payload = load_file(str(path), device="cpu")
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and safetensors each raise their own types
        raise AuroraSWError(
            f"{path}: refused to load: not a weights-only state dict ({type(exc).__name__}); "
            "it may hold pickled code, so it is not loaded; save model.state_dict() or use a .safetensors file"
        ) from None
    if isinstance(payload, dict):
        for key in ("state_dict", "model", "state_dict_ema"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if not isinstance(payload, dict) or not payload or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise AuroraSWError(f"{path}: not a state dict of tensors (name -> tensor); save model.state_dict() of a timm model")
    return {k.removeprefix("module."): v for k, v in payload.items()}


def load_backbone_weights(model: torch.nn.Module, weights: str | os.PathLike, name: str) -> None:
    """Put a local ImageNet checkpoint's backbone into ``model``; refuse one that does not fit.

    The classifier head of the file is dropped (``model`` keeps its own, sized for our
    classes). Every other tensor of ``model`` must be in the file with the same shape, and the
    file may hold nothing else: a file for another architecture (EfficientNet-B0 weights
    fit B1's first blocks, shape for shape) is refused instead of half-loaded.

    Parameters
    ----------
    model
        A timm model created with ``pretrained=False``.
    weights
        The file (``.safetensors``, ``.pth``, ``.bin``), read by :func:`read_state_dict`.
    name
        The timm model name, for the message.

    Raises
    ------
    AuroraSWError
        Unreadable or unsafe file, or its tensors do not fit ``name``'s backbone.
    """
    path = Path(weights)
    state = read_state_dict(path)
    heads = model.get_classifier()
    heads = heads if isinstance(heads, tuple) else (heads,)
    head_prefixes = tuple(n + "." for n, m in model.named_modules() if any(m is h for h in heads))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(head_prefixes)}
    state = {k: v for k, v in state.items() if not k.startswith(head_prefixes)}
    missing = [k for k in own if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or reshaped:
        first = (missing or unexpected or reshaped)[0]
        raise AuroraSWError(
            f"{path}: not {name} weights: {len(missing)} of its {len(own)} backbone tensors missing, "
            f"{len(unexpected)} unexpected, {len(reshaped)} of another shape (first: {first!r}); "
            f"pass an ImageNet checkpoint of {name}, or --model the architecture it was saved from"
        )
    model.load_state_dict(state, strict=False)  # strict=False only for the head and the optional counters
