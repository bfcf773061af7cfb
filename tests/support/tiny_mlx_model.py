"""A tiny random llama model that `mlx_lm.load` can open, built in the test (no download).

`write_tiny_model(path, texts)` writes config.json, model.safetensors (2 layers, hidden 64, random weights
from a fixed seed) and a WordLevel `PreTrainedTokenizerFast` whose vocabulary covers the words of `texts`,
with a ChatML chat template, so mlx-lm's chat datasets, training and generation all work on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from distill.models.mlx_runtime import load_mlx
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
WORD = re.compile(r"\w+|[^\w\s]")


def tiny_config(vocab_size: int, *, layers: int = 2, hidden: int = 64) -> dict:
    return {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": hidden,
        "num_hidden_layers": layers, "intermediate_size": 2 * hidden, "num_attention_heads": 4,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": vocab_size, "rope_theta": 10000.0,
        "max_position_embeddings": 2048, "tie_word_embeddings": True, "torch_dtype": "float32",
        "bos_token_id": 1, "eos_token_id": 3,
    }


def write_tiny_model(path: Path, texts: Iterable[str], *, layers: int = 2, hidden: int = 64, seed: int = 0) -> Path:
    """A loadable MLX model directory at `path` whose tokenizer knows every word of `texts` (and the chat roles)."""
    mx = load_mlx()
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama

    words = sorted({w for text in [*texts, "system user assistant"] for w in WORD.findall(text)} | {"\n"})
    vocab = {token: i for i, token in enumerate(SPECIALS + [w for w in words if w not in SPECIALS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
                                                     pre_tokenizers.Split(Regex(r"\w+|[^\w\s]|\n"), "isolated")])
    backend.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<|endoftext|>",
                                        eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(path))

    config = tiny_config(len(vocab), layers=layers, hidden=hidden)
    (path / "config.json").write_text(json.dumps(config, indent=2))
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    return path
