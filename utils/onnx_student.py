"""The student under ONNX Runtime: two graphs exported from T5's own modules, and greedy decoding over them.

Why this and not the PyTorch model at inference on a CPU: at batch 1 a decoder step of flan-t5-small is about
300 small operations (eight layers of RMS norms, attention, gated GELU); PyTorch pays Python and dispatch for
each, and int8 weights alone cut only the matrix products. ONNX Runtime runs the whole step as one fused graph
in C++, and its int8 matrix kernels use the CPU's integer dot-product instructions (VNNI / AVX2).

- `export_student(model, folder)`: `encoder.onnx` (ids, mask -> every decoder layer's cross-attention keys and
  values, computed once per completion) and `decoder_step.onnx` (one token per row, the self-attention cache so
  far, the cross keys and values -> next-token logits and the grown cache). Both are written out of the model's
  own modules (its `nn.Linear`s, norms, relative position bias), so the graphs hold exactly its weights; the test
  suite checks their logits against the PyTorch model's.
- `quantize_graphs(src, dst)`: onnxruntime's dynamic int8 quantisation (every MatMul's weights to int8 once,
  activations on the fly: no calibration data).
- `OnnxStudent`: the two graphs behind the slice of transformers' `generate` this project calls (greedy,
  `generation_config`'s suppressed tokens, `min_new_tokens`, extra logits processors such as `NoBlankAnswer`),
  so `student.generate_middles`, the bench and the server use it unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import (
    AutoConfig,
    GenerationConfig,
    LogitsProcessorList,
    MinNewTokensLengthLogitsProcessor,
    PretrainedConfig,
    PreTrainedModel,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
)

ENCODER, DECODER = "encoder.onnx", "decoder_step.onnx"
MODEL_CONFIG = "model_config.json"  # not config.json: the folder is not a transformers checkpoint
NEG = torch.finfo(torch.float32).min


# --------------------------------------------------------------------------- T5, written as the graphs compute it


def _norm(layer_norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """T5's RMS norm (no mean, no bias)."""
    return layer_norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + layer_norm.variance_epsilon))


def _heads(x: torch.Tensor, config: PretrainedConfig) -> torch.Tensor:
    """(batch, time, heads x d_kv) -> (batch, heads, time, d_kv)."""
    return x.view(x.shape[0], x.shape[1], config.num_heads, config.d_kv).transpose(1, 2)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """T5 attention (no 1/sqrt(d) scaling: it is folded into the weights), heads merged back."""
    out = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1) @ v
    return out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)


def _feed_forward(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """T5's feed-forward sub-layer on its normed input: gated GELU (flan-t5) or ReLU (original T5)."""
    ff, h = layer.DenseReluDense, _norm(layer.layer_norm, x)
    return ff.wo(ff.act(ff.wi_0(h)) * ff.wi_1(h) if hasattr(ff, "wi_0") else ff.act(ff.wi(h)))


def _position_bias(attention: torch.nn.Module, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """T5's relative position bias (1, heads, queries, keys) for positions `query` and `key`, from tensors, not shapes,
    so that the exported graph takes any length (the exporter would freeze a length read from a shape)."""
    bucket = attention._relative_position_bucket(key[None, :] - query[:, None], bidirectional=not attention.is_decoder,
                                                 num_buckets=attention.relative_attention_num_buckets,
                                                 max_distance=attention.relative_attention_max_distance)
    return attention.relative_attention_bias(bucket).permute(2, 0, 1).unsqueeze(0)


def _mask_bias(attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, keys) 1/0 mask -> an additive (batch, 1, 1, keys) bias."""
    return (1.0 - attention_mask[:, None, None, :].float()) * NEG


class _Encoder(torch.nn.Module):
    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompt -> every decoder layer's cross-attention keys and values (layers, batch, heads, source, d_kv)."""
        enc, dec, c = self.model.encoder, self.model.decoder, self.model.config
        x = enc.embed_tokens(input_ids)
        positions = torch.ones_like(input_ids[0]).cumsum(0) - 1
        bias = _position_bias(enc.block[0].layer[0].SelfAttention, positions, positions) + _mask_bias(attention_mask)
        for block in enc.block:
            sa, h = block.layer[0].SelfAttention, _norm(block.layer[0].layer_norm, x)
            x = x + sa.o(_attend(_heads(sa.q(h), c), _heads(sa.k(h), c), _heads(sa.v(h), c), bias))
            x = x + _feed_forward(block.layer[1], x)
        x = _norm(enc.final_layer_norm, x)
        cross = [block.layer[1].EncDecAttention for block in dec.block]
        return torch.stack([_heads(a.k(x), c) for a in cross]), torch.stack([_heads(a.v(x), c) for a in cross])


class _DecoderStep(torch.nn.Module):
    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, token: torch.Tensor, past_keys: torch.Tensor, past_values: torch.Tensor, cross_keys: torch.Tensor,
                cross_values: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One token per row and the cache so far -> the next token's logits and the cache grown by this token."""
        dec, c = self.model.decoder, self.model.config
        x = dec.embed_tokens(token)
        cross_bias = _mask_bias(attention_mask)
        keys, values = [], []
        for i, block in enumerate(dec.block):
            sa, h = block.layer[0].SelfAttention, _norm(block.layer[0].layer_norm, x)
            keys.append(torch.cat([past_keys[i], _heads(sa.k(h), c)], dim=2))
            values.append(torch.cat([past_values[i], _heads(sa.v(h), c)], dim=2))
            if i == 0:  # every layer uses the first layer's bias: this token (the last position) against all so far
                positions = torch.ones_like(keys[0][0, 0, :, 0], dtype=torch.long).cumsum(0) - 1
                self_bias = _position_bias(sa, positions[-1:], positions)
            x = x + sa.o(_attend(_heads(sa.q(h), c), keys[i], values[i], self_bias))
            ca, h = block.layer[1].EncDecAttention, _norm(block.layer[1].layer_norm, x)
            x = x + ca.o(_attend(_heads(ca.q(h), c), cross_keys[i], cross_values[i], cross_bias))
            x = x + _feed_forward(block.layer[2], x)
        x = _norm(dec.final_layer_norm, x)
        if getattr(c, "scale_decoder_outputs", False):  # as transformers' T5 does for a head tied to the embeddings
            x = x * c.d_model**-0.5
        return self.model.lm_head(x)[:, -1], torch.stack(keys), torch.stack(values)


# --------------------------------------------------------------------------- export and quantisation


def export_student(model: PreTrainedModel, folder: str | Path) -> Path:
    """Write `model` (a T5 encoder-decoder) as encoder.onnx and decoder_step.onnx, plus its config, into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model = model.float().cpu().eval()
    c = model.config
    ids = torch.full((2, 5), 3, dtype=torch.long)
    mask = torch.ones_like(ids)
    # the wrappers are built in eval mode: the exporter puts a module back in the mode it found it in, and a
    # fresh module is in training mode, which would switch the model's dropout on
    encoder, step = _Encoder(model).eval(), _DecoderStep(model).eval()
    with torch.no_grad():
        keys, values = encoder(ids, mask)
        past = torch.zeros(c.num_decoder_layers, 2, c.num_heads, 3, c.d_kv)
        token = torch.zeros((2, 1), dtype=torch.long)
        batch, source, time = {0: "batch"}, {0: "batch", 1: "source"}, {1: "batch", 3: "time"}
        with warnings.catch_warnings():  # the TorchScript exporter's notices about traced shapes and its own deprecation
            warnings.simplefilter("ignore")
            torch.onnx.export(encoder, (ids, mask), folder / ENCODER, input_names=["input_ids", "attention_mask"],
                              output_names=["cross_keys", "cross_values"], opset_version=17, dynamo=False,
                              dynamic_axes={"input_ids": source, "attention_mask": source,
                                            "cross_keys": {1: "batch", 3: "source"}, "cross_values": {1: "batch", 3: "source"}})
            torch.onnx.export(step, (token, past, past, keys, values, mask), folder / DECODER,
                              input_names=["token", "past_keys", "past_values", "cross_keys", "cross_values", "attention_mask"],
                              output_names=["logits", "keys", "values"], opset_version=17, dynamo=False,
                              dynamic_axes={"token": batch, "past_keys": time, "past_values": time, "attention_mask": source,
                                            "cross_keys": {1: "batch", 3: "source"}, "cross_values": {1: "batch", 3: "source"},
                                            "logits": batch, "keys": time, "values": time})
    model.train(was_training)
    c.to_json_file(folder / MODEL_CONFIG)
    return folder


@contextlib.contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Drop the one warning `quantize_dynamic` logs on every call (its optional `quant_pre_process` step, measured here
    at 10% faster completions for 9 s per real-size export, is not run)."""
    advice = lambda record: not record.getMessage().startswith("Please consider to run pre-processing")  # noqa: E731
    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def quantize_graphs(src: str | Path, dst: str | Path) -> Path:
    """int8 copies of the two graphs in `src` (weights of every MatMul to int8, activations quantised at run time) into `dst`."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    with _without_preprocessing_advice():
        for name in (ENCODER, DECODER):
            quantize_dynamic(src / name, dst / name, weight_type=QuantType.QInt8)
    (dst / MODEL_CONFIG).write_text((src / MODEL_CONFIG).read_text())
    return dst


# --------------------------------------------------------------------------- inference


def _session(path: Path, threads: int | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default, every core
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxStudent(torch.nn.Module):
    """The exported student under ONNX Runtime, with the part of `generate` the project uses (greedy, batch, padding)."""

    main_input_name = "input_ids"

    def __init__(self, folder: str | Path, threads: int | None = 1):
        super().__init__()
        self.folder = Path(folder)
        if not (self.folder / DECODER).exists():
            raise FileNotFoundError(f"no {DECODER} in {self.folder}: export the student with onnx_student.export_student first")
        self.config = AutoConfig.from_pretrained(self.folder / MODEL_CONFIG)
        self.generation_config = GenerationConfig(decoder_start_token_id=self.config.decoder_start_token_id,
                                                  eos_token_id=self.config.eos_token_id, pad_token_id=self.config.pad_token_id)
        self.encoder = _session(self.folder / ENCODER, threads)
        self.decoder = _session(self.folder / DECODER, threads)

    @property
    def device(self) -> torch.device:
        """Always the CPU (ONNX Runtime's CPU provider)."""
        return torch.device("cpu")

    def megabytes(self) -> float:
        """MiB of the two graph files (their weights, int8 or fp32)."""
        return sum((self.folder / n).stat().st_size for n in (ENCODER, DECODER)) / 2**20

    def _processors(self, extra: LogitsProcessorList | None, min_new_tokens: int, eos: int) -> LogitsProcessorList:
        g = self.generation_config
        out = LogitsProcessorList()
        if g.suppress_tokens:
            out.append(SuppressTokensLogitsProcessor(g.suppress_tokens))
        if g.begin_suppress_tokens:
            out.append(SuppressTokensAtBeginLogitsProcessor(g.begin_suppress_tokens, begin_index=1))
        if min_new_tokens:
            out.append(MinNewTokensLengthLogitsProcessor(1, min_new_tokens, eos))
        out.extend(extra or [])
        return out

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 logits_processor: LogitsProcessorList | None = None, max_new_tokens: int | None = None,
                 min_new_tokens: int = 0, do_sample: bool = False, num_beams: int = 1,
                 pad_token_id: int | None = None, eos_token_id: int | None = None) -> torch.Tensor:
        """Greedy ids as transformers' `generate` returns them: decoder start, new tokens, pad after each row's EOS."""
        if do_sample or num_beams != 1:
            raise ValueError("OnnxStudent decodes greedily: do_sample=False, num_beams=1")
        g = self.generation_config
        eos = g.eos_token_id if eos_token_id is None else eos_token_id
        pad = g.pad_token_id if pad_token_id is None else pad_token_id
        mask = (torch.ones_like(input_ids) if attention_mask is None else attention_mask).cpu().numpy()
        processors = self._processors(logits_processor, min_new_tokens, eos)
        cross_keys, cross_values = self.encoder.run(None, {"input_ids": input_ids.cpu().numpy(), "attention_mask": mask})
        c = self.config
        keys = values = np.zeros((c.num_decoder_layers, len(input_ids), c.num_heads, 0, c.d_kv), dtype=np.float32)
        out = torch.full((len(input_ids), 1), g.decoder_start_token_id, dtype=torch.long)
        done = torch.zeros(len(input_ids), dtype=torch.bool)
        for _ in range(max_new_tokens or g.max_new_tokens):
            logits, keys, values = self.decoder.run(None, {
                "token": out[:, -1:].numpy(), "past_keys": keys, "past_values": values, "cross_keys": cross_keys,
                "cross_values": cross_values, "attention_mask": mask})
            step = processors(out, torch.from_numpy(logits)).argmax(-1).masked_fill(done, pad)
            out = torch.cat([out, step[:, None]], dim=1)
            done |= step == eos
            if done.all():
                break
        return out
