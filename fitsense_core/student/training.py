"""LoRA fine-tuning of the student: base model preparation, training, merge.

One function per phase (prepare the base model, train, merge); hyper-parameters are data
(:class:`TrainingConfig`). Training uses transformers + peft + trl's ``SFTTrainer`` on
prompt-completion examples, so the loss covers the assistant's tokens only. It evaluates
on the validation split before the first step (the base model's loss: where the curve
starts) and as it goes, checkpoints, and resumes from the last checkpoint after an
interruption; the loss curves (:mod:`fitsense_core.student.curves`) come with the result.
CPU by default; on a CUDA GPU the same code trains in bf16.

Heavy imports (torch, transformers, peft, trl) happen inside the functions so that
importing this module (and loading the Dagster code location) stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fitsense_core.errors import ConfigurationError, DataValidationError, FitSenseError
from fitsense_core.student.curves import loss_curve

SHIPPED_BASE_MODEL = "shipped:SmolLM2-135M-Instruct"
BASE_MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
MIN_TRAIN_EXAMPLES = 8


class TrainingError(FitSenseError):
    """Training or export could not produce a complete model."""


@dataclass(frozen=True)
class TrainingConfig:
    """Every hyper-parameter of a training run (stored in the model's lineage)."""

    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    learning_rate: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    # Where the validation curve flattens: a 60-step run (959 training examples) was still
    # falling (2.62 at step 0, 1.36 at 30, 0.76 at 60); at the 8 s/step measured on 2 idle cores,
    # 100 steps and 6 validation passes fit the 15-minute budget.
    max_steps: int = 100
    num_train_epochs: float = 1.0
    batch_size: int = 2
    grad_accumulation: int = 2
    # The training set's (student.training_set.DEFAULT_MAX_LENGTH): every example of a
    # 1,200-record run fits (longest 799 tokens); 512 dropped all 6-7 day updates.
    max_length: int = 1024
    eval_steps: int = 20
    save_steps: int = 20
    max_eval_examples: int = 16
    # Recomputes activations in the backward pass to save memory: a large model on a small
    # GPU needs it; the 135M student on CPU is ~1/3 faster without it (trl turns it on).
    activation_checkpointing: bool = False
    seed: int = 42

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


@dataclass(frozen=True)
class BaseModel:
    path: Path
    digest: str
    source: str


@dataclass
class TrainingResult:
    adapter_dir: Path
    log_history: list[dict[str, Any]]
    steps: int
    seconds: float
    resumed_from: str | None
    train_examples: int
    eval_examples: int
    tokens_seen: int
    peak_rss_mb: float
    device: str
    metrics: dict[str, Any] = field(default_factory=dict)
    # Training loss per logging step and validation loss per evaluation (curves.loss_curve).
    curve: dict[str, Any] = field(default_factory=dict)


def directory_digest(path: Path, names: tuple[str, ...] = BASE_MODEL_FILES) -> str:
    h = hashlib.sha256()
    for name in names:
        file = path / name
        if not file.exists():
            raise DataValidationError(f"{file} is missing")
        h.update(name.encode())
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _clear_gguf_quantization(model: Any) -> None:
    """Weights loaded from a GGUF are dense, but transformers remembers the GGUF
    "quantization" and refuses to save; forget it (the saved tensors are identical)."""
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def prepare_base_model(
    source: str, cache_dir: Path, progress: Callable[[str], None] = lambda _m: None
) -> BaseModel:
    """Dense HF weights + tokenizer for ``source``: the shipped GGUF (default), a local HF
    directory, or a hub id (only where the hub is reachable)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = source or SHIPPED_BASE_MODEL
    if source == SHIPPED_BASE_MODEL:
        from fitsense_core.student.base_model import base_model_gguf

        gguf = base_model_gguf()
        target = cache_dir / "shipped-smollm2-135m-instruct"
        if all((target / n).exists() for n in BASE_MODEL_FILES):
            return BaseModel(target, directory_digest(target), source)
        progress(f"converting {gguf.name} to dense weights")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
            )
        except Exception as exc:  # transformers raises many kinds for a bad file
            raise TrainingError(f"the base model {gguf} cannot be read: {exc}") from exc
        _clear_gguf_quantization(model)
        partial = target.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        return BaseModel(target, directory_digest(target), source)
    path = Path(source)
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigurationError(f"base model directory {path} has no config.json")
        names = tuple(n for n in BASE_MODEL_FILES if (path / n).exists())
        return BaseModel(path, directory_digest(path, names), source)
    target = cache_dir / source.replace("/", "--")
    if not (target / "config.json").exists():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source)
        except Exception as exc:
            raise ConfigurationError(
                f"base model {source!r} is neither the shipped model, a local directory nor a "
                f"reachable hub model: {exc}"
            ) from exc
        model.save_pretrained(target, safe_serialization=True)
        tokenizer.save_pretrained(target)
    names = tuple(n for n in BASE_MODEL_FILES if (target / n).exists())
    return BaseModel(target, directory_digest(target, names), source)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_student(
    config: TrainingConfig,
    base: BaseModel,
    train_rows: list[dict[str, Any]],
    val_rows: list[dict[str, Any]],
    output_dir: Path,
    progress: Callable[[str], None] = lambda _m: None,
) -> TrainingResult:
    """LoRA SFT; resumes from the newest checkpoint in ``output_dir`` when there is one."""
    if len(train_rows) < MIN_TRAIN_EXAMPLES:
        raise TrainingError(
            f"the training split has {len(train_rows)} examples; at least "
            f"{MIN_TRAIN_EXAMPLES} are needed"
        )
    if not val_rows:
        raise TrainingError("the validation split is empty")
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    device = _device()
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    torch.manual_seed(config.seed)
    checkpoints = output_dir / "checkpoints"
    resume = None
    if checkpoints.exists():
        found = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        resume = str(found[-1]) if found else None

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def tokens(row: dict[str, Any]) -> int:
        text = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        return len(tokenizer(text).input_ids)

    # Nothing is left out here: the training set (student.training_set) drops what is too
    # long and records it; an example over max_length reaching training is an error, as
    # truncation would cut the answer and dropping it would lose it silently.
    too_long = [
        f"{row.get('id', i)} ({n} tokens)"
        for i, row in enumerate([*train_rows, *val_rows])
        if (n := tokens(row)) > config.max_length
    ]
    if too_long:
        raise TrainingError(
            f"{len(too_long)} examples are longer than max_length {config.max_length}: "
            f"{', '.join(too_long[:5])}; build the training set with this max_length "
            "(it records what it leaves out)"
        )
    model = AutoModelForCausalLM.from_pretrained(
        base.path, dtype=torch.bfloat16 if bf16 else torch.float32
    )

    def columns(rows: list[dict[str, Any]]) -> Dataset:
        return Dataset.from_list(
            [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
        )

    args = SFTConfig(
        output_dir=str(checkpoints),
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        num_train_epochs=config.num_train_epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=round(config.warmup_ratio * config.max_steps) if config.max_steps > 0 else 0,
        max_length=config.max_length,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        # One more evaluation before training: the curve's starting point (a few seconds
        # on max_eval_examples; on resume it repeats at the resumed step, which the curve
        # drops).
        eval_on_start=True,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=1,
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=device == "cpu",
        bf16=bf16,
        dataloader_num_workers=0,
        # Batches of similar length: less padding, which is most of the waste on a CPU.
        train_sampling_strategy="group_by_length",
        completion_only_loss=True,
        activation_checkpointing=config.activation_checkpointing,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )

    class Progress(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kwargs):
            if logs and "loss" in logs:
                progress(f"step {state.global_step}/{state.max_steps}: loss {logs['loss']:.4f}")
            if logs and "eval_loss" in logs:
                progress(f"step {state.global_step}: validation loss {logs['eval_loss']:.4f}")

    val = val_rows[: config.max_eval_examples]
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=columns(train_rows),
        eval_dataset=columns(val),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Progress()],
    )
    # Progress reports each log line once; transformers' printer would repeat it raw.
    trainer.remove_callback(PrinterCallback)
    if resume:
        progress(f"resuming from {Path(resume).name}")
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    # The last step's scheduled validation is the final one; evaluate only when it was not.
    final_eval = (
        next(
            (
                h
                for h in reversed(trainer.state.log_history)
                if "eval_loss" in h and h.get("step") == trainer.state.global_step
            ),
            None,
        )
        or trainer.evaluate()
    )
    adapter_dir = output_dir / "adapter"
    trainer.model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    history = [dict(h) for h in trainer.state.log_history]
    tokens = int(max((h.get("num_tokens", 0) for h in history), default=0))
    curve = loss_curve(history)
    result = TrainingResult(
        adapter_dir=adapter_dir,
        log_history=history,
        steps=trainer.state.global_step,
        seconds=seconds,
        resumed_from=resume,
        train_examples=len(train_rows),
        eval_examples=len(val),
        tokens_seen=tokens,
        peak_rss_mb=_peak_rss_mb(),
        device=device,
        metrics={
            "final_eval_loss": final_eval.get("eval_loss"),
            "first_train_loss": next((h["loss"] for h in history if "loss" in h), None),
            "last_train_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
            "best_val_loss": curve["summary"]["best_val_loss"],
            "best_val_step": curve["summary"]["best_val_step"],
        },
        curve=curve,
    )
    (output_dir / "training_metrics.json").write_text(
        json.dumps(
            {
                **result.metrics,
                "steps": result.steps,
                "seconds": result.seconds,
                "tokens_seen": tokens,
                "peak_rss_mb": result.peak_rss_mb,
                "device": device,
                "log_history": history,
                "curve": curve,
            },
            indent=2,
            default=str,
        )
    )
    return result


def merge_adapter(base: BaseModel, adapter_dir: Path, out_dir: Path) -> Path:
    """Base + adapter merged into plain safetensors weights (what GGUF and vLLM load)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    partial = out_dir.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(partial, safe_serialization=True)
    AutoTokenizer.from_pretrained(base.path).save_pretrained(partial)
    shutil.rmtree(out_dir, ignore_errors=True)
    partial.rename(out_dir)
    return out_dir


def set_threads() -> None:
    """Use every core for CPU training (torch defaults can be lower in containers)."""
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
