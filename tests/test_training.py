"""Step-by-step training: data building, collator, loss, a real tiny run, resume, NaN and missing inputs."""

import json
import math

import pytest
import torch
from datasets import Dataset, DatasetDict
from transformers import GenerationConfig, TrainerCallback

from conftest import one_step
from utils.config import HOLE, UserError, load_config
from utils.artifacts import save_stage, stage_dir
from utils.tokenization import decode_ids, encode_text, is_code_safe
from utils.student import (
    encode_inputs,
    generate_middles,
    generation_config,
    load_trained,
    no_blank_processor,
    prepare_student,
    variant_dir,
)
from utils.training import (
    EXPLAIN,
    PREDICT,
    StepByStepCollator,
    StepByStepTrainer,
    apply_teacher_filter,
    build_task_dataset,
    VARIANT_SPECS,
    load_training_data,
    parse_variant_name,
    train_subset,
    evaluate_middles,
    train_variant,
    update_budget,
    variant_name,
    variant_names,
    teacher_filter_table,
    training_arguments,
    variant_spec,
)

# small and fast: every run below takes seconds on one CPU core
FAST = dict(
    max_target_tokens=32,
    max_rationale_tokens=24,
    student_max_input_tokens=160,
    train_batch_size=8,
    eval_batch_size=32,
    learning_rate=3e-3,
    warmup_steps=0.1,
)


@pytest.fixture(scope="module")
def data(fim_dataset) -> DatasetDict:
    """The tiny FIM rows with teacher middles and rationales (synthetic: notebooks 03/04 are not run here)."""

    def add(split):
        rows = fim_dataset[split]
        middles = list(rows["middle"])
        first_lines = [next((line for line in m.splitlines(keepends=True) if line.strip()), m) for m in middles]
        teacher = [first if i % 3 else m for i, (m, first) in enumerate(zip(middles, first_lines))]
        rationale = [f"The hole holds code starting with {(m.split() or ['x'])[0]}." for m in middles]
        if split == "train":
            teacher[1], teacher[2] = None, "  "  # a teacher that failed, one that answered blanks
            rationale[4] = None  # no rationale: predict only
        return rows.add_column("teacher_middle", teacher).add_column("rationale", rationale)

    return DatasetDict({s: add(s) for s in fim_dataset})


@pytest.fixture(scope="module")
def student():
    """The untrained tiny student with its code-safe tokenizer."""
    return prepare_student(load_config("tiny", **FAST))


def _small(data: DatasetDict, n_train: int, n_valid: int) -> DatasetDict:
    return DatasetDict({"train": data["train"].select(range(n_train)), "valid": data["valid"].select(range(n_valid))})


def test_prepared_student_is_code_safe_and_cannot_answer_nothing(student):
    model, tok = student
    assert is_code_safe(tok)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    gen = model.generation_config
    assert gen.decoder_start_token_id == tok.pad_token_id == 0
    assert gen.begin_suppress_tokens == [tok.eos_token_id]
    assert tok.convert_tokens_to_ids(HOLE) in gen.suppress_tokens
    assert tok.convert_tokens_to_ids("<extra_id_7>") in gen.suppress_tokens
    assert gen.max_new_tokens == load_config("tiny", **FAST).max_target_tokens


def test_task_dataset_counts_drops_fallbacks_and_truncation(data, student):
    _, tok = student
    cfg = load_config("tiny", **FAST)
    ds, stats = build_task_dataset(data["train"], tok, cfg, variant_spec(cfg, "step_by_step"))
    assert stats["no_label_dropped"] == 2  # None and blank teacher answers
    assert stats["no_rationale_predict_only"] == 1
    assert stats["input_truncated"] > 0  # 160 tokens is less than most segments
    assert len(ds) == len(data["train"]) - 2
    hole = tok.convert_tokens_to_ids(HOLE)
    for row in ds.select(range(20)):
        assert len(row["input_ids"]) <= cfg.student_max_input_tokens
        assert row["input_ids"][-1] == tok.eos_token_id and row["labels"][-1] == tok.eos_token_id
        assert row["input_ids"].count(hole) == 1  # truncation keeps the hole
        assert decode_ids(tok, row["input_ids"][:12]).startswith(" predict:")  # `▁predict`: T5's own piece
    # gold labels (finetune): nothing dropped, labels are the true middles
    gold, gstats = build_task_dataset(data["train"], tok, cfg, variant_spec(cfg, "finetune"))
    assert gstats["no_label_dropped"] == 0 and "expl_labels" not in gold.column_names
    whole = [i for i in range(len(gold)) if len(gold[i]["labels"]) < cfg.max_target_tokens]
    assert whole and 0 < gstats["label_truncated"] <= len(gold) - len(whole)
    for i in whole[:10]:  # labels are the true middles, byte for byte
        assert decode_ids(tok, gold[i]["labels"], skip_special_tokens=True) == data["train"][i]["middle"]


def test_truncation_keeps_text_on_both_sides_of_the_hole(student):
    _, tok = student
    text = "a = 1\n" * 200 + HOLE + "\nb = 2" * 200
    (ids,), cut = encode_inputs(tok, [text], "predict", 64)
    assert cut == [True] and len(ids) == 64
    at = ids.index(tok.convert_tokens_to_ids(HOLE))
    assert 20 < at < 44  # balanced around the hole


def test_collator_builds_both_tasks_with_labels_padded_minus_100(data, student):
    model, tok = student
    cfg = load_config("tiny", **FAST)
    ds, _ = build_task_dataset(data["train"].select(range(5, 11)), tok, cfg, variant_spec(cfg, "step_by_step"))
    features = [ds[i] for i in range(len(ds))]
    features[0]["expl_input_ids"], features[0]["expl_labels"] = [], []  # one row without rationale
    batch = StepByStepCollator(tok, model=model)(features)
    n = len(features)
    assert batch["task"].tolist() == [PREDICT] * n + [EXPLAIN] * (n - 1)
    assert batch["input_ids"].shape[0] == batch["labels"].shape[0] == 2 * n - 1
    labels = batch["labels"]
    for row, feature_labels in zip(labels, [f["labels"] for f in features] + [f["expl_labels"] for f in features[1:]]):
        k = len(feature_labels)
        assert row[:k].tolist() == feature_labels
        assert (row[k:] == -100).all()  # padding is ignored by the loss, never the pad id
    assert (labels != tok.pad_token_id).all()
    # decoder input = labels shifted right, starting from pad (T5's decoder start)
    assert (batch["decoder_input_ids"][:, 0] == tok.pad_token_id).all()
    shifted = labels[:, :-1].masked_fill(labels[:, :-1] == -100, tok.pad_token_id)
    assert torch.equal(batch["decoder_input_ids"][:, 1:], shifted)
    assert (batch["attention_mask"].sum(1) == torch.tensor([len(f["input_ids"]) for f in features] + [len(f["expl_input_ids"]) for f in features[1:]])).all()


def test_loss_is_alpha_weighted_and_one_step_lowers_it(data, tmp_path):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), **FAST)
    model, tok = prepare_student(cfg)
    ds, _ = build_task_dataset(data["train"].select(range(3, 11)), tok, cfg, variant_spec(cfg, "step_by_step"))
    batch = StepByStepCollator(tok, model=model)([ds[i] for i in range(len(ds))])
    trainer = StepByStepTrainer(model=model, args=training_arguments(cfg, tmp_path / "out", has_valid=False), processing_class=tok, alpha=0.3)
    model.eval()  # no dropout: the check is exact

    def loss_of(rows):
        sub = {k: v[rows] for k, v in batch.items()}
        labels = sub.pop("labels")
        sub.pop("task")
        logits = model(**sub).logits
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)

    with torch.no_grad():
        combined = trainer.compute_loss(model, dict(batch))
        expected = 0.3 * loss_of(batch["task"] == PREDICT) + 0.7 * loss_of(batch["task"] == EXPLAIN)
    assert torch.allclose(combined, expected, rtol=1e-4)

    before, after = one_step(trainer, model, batch, lr=1e-3)
    assert after < before


def test_tiny_run_beats_untrained_self_without_empty_outputs(data, tmp_path):
    # full-length answers (as in the notebook): a 32-token cap flatters the untrained student's noise
    settings = {**FAST, "max_target_tokens": 128, "max_steps": 120, "eval_steps": 40, "logging_steps": 10}
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), **settings)
    log = train_variant(cfg, "finetune", data=data)
    untrained, untrained_tok = prepare_student(cfg)
    valid_inputs, valid_middles = list(data["valid"]["student_input"]), list(data["valid"]["middle"])
    before = evaluate_middles(generate_middles(untrained, untrained_tok, valid_inputs, cfg), valid_middles)
    assert before["edit_similarity"] < log["best"]["edit_similarity"]
    assert log["best"]["empty_rate"] <= 0.05
    assert log["best_step"] > 0
    # the kept checkpoint is the one with the lowest valid loss, below the untrained student's
    evals = {h["step"]: h["eval_loss"] for h in log["log_history"] if "eval_loss" in h}
    assert log["best"]["loss"] == min(evals.values()) == evals[log["best_step"]] < log["untrained"]["loss"] == evals[0]
    folder = variant_dir(cfg, "finetune")
    saved = json.loads((folder / "train_log.json").read_text())
    assert saved["best"] == log["best"] and saved["log_history"] == log["log_history"]
    assert "edit similarity" in (folder / "README.md").read_text()
    saved_gen = GenerationConfig.from_pretrained(folder)  # the project's decoding, not the defaults evaluation fills in
    assert saved_gen.max_new_tokens == 128 and saved_gen.begin_suppress_tokens and saved_gen.max_length != 20
    assert not (folder / "checkpoints").exists()  # cleaned up once finished
    model, tok = load_trained(cfg, "finetune")
    assert is_code_safe(tok)
    # flan-t5's separate output head survives training, saving and loading (not re-tied to the embeddings)
    assert model.get_output_embeddings().weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()
    outs = generate_middles(model, tok, list(data["valid"]["student_input"][:8]), cfg)
    assert len(outs) == 8 and sum(not o.strip() for o in outs) <= 1
    # an identical run is reused, not retrained
    assert train_variant(cfg, "finetune", data=data).get("reused")


class _Kill(TrainerCallback):
    """Simulates a killed run: interrupt right after step `at`."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_resume_after_kill(data, tmp_path):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), max_steps=12, eval_steps=5, logging_steps=5, keep_checkpoints=True, **FAST)
    small = _small(data, 32, 4)
    with pytest.raises(KeyboardInterrupt):
        train_variant(cfg, "step_by_step", data=small, callbacks=[_Kill(7)])
    ckpts = variant_dir(cfg, "step_by_step") / "checkpoints"
    assert (ckpts / "checkpoint-5").is_dir()
    log = train_variant(cfg, "step_by_step", data=small)
    assert log["resumed_from_step"] == 5
    assert log["global_step"] == 12
    assert any(h.get("step") == 0 and "eval_loss" in h for h in log["log_history"])  # history kept


class _Poison(TrainerCallback):
    """Makes the weights NaN after step `at`, as an fp16 overflow would."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == self.at:
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(math.nan)


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(data, tmp_path):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), max_steps=20, eval_steps=5, logging_steps=5, **FAST)
    with pytest.raises(UserError, match=r"NaN.*checkpoint-5.*learning_rate"):
        train_variant(cfg, "distill", data=_small(data, 32, 4), callbacks=[_Poison(6)])
    folder = variant_dir(cfg, "distill")
    good = folder / "checkpoints" / "checkpoint-5"
    assert good.is_dir() and not (folder / "checkpoints" / "checkpoint-10").exists()
    assert not (folder / "train_log.json").exists()
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(str(good / "model.safetensors")).values())


def test_missing_teacher_or_rationale_names_the_notebook(cfg, fim_dataset):
    with pytest.raises(UserError, match="03_teacher_generation"):
        load_training_data(cfg, ["distill"])
    with pytest.raises(UserError, match="variants=finetune,finetune_explain"):
        load_training_data(cfg, ["distill"])
    assert "middle" in load_training_data(cfg, ["finetune"])["train"].column_names  # true middles need no teacher
    with pytest.raises(UserError, match="04_rationale_generation"):
        load_training_data(cfg, ["finetune_explain"])
    save_stage(DatasetDict({s: fim_dataset[s].add_column("teacher_middle", list(fim_dataset[s]["middle"])) for s in fim_dataset}), stage_dir(cfg, "teacher"))
    with pytest.raises(UserError, match="04_rationale_generation"):
        load_training_data(cfg, ["step_by_step"])
    assert "teacher_middle" in load_training_data(cfg, ["distill"])["train"].column_names


def test_bad_settings_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="multiple of logging_steps"):
        training_arguments(load_config("tiny", eval_steps=7, logging_steps=5), tmp_path)
    with pytest.raises(UserError, match="variant"):
        variant_spec(load_config("tiny"), "distilbert")
    with pytest.raises(UserError, match="label_type.*removed.*finetune_explain"):
        load_config("tiny", label_type="gold")
    for fractions in ([0.5], [0, 1.0], [0.5, 1.5]):
        with pytest.raises(UserError, match="data_fractions"):
            load_config("tiny", data_fractions=fractions)
    with pytest.raises(UserError, match="variants"):
        load_config("tiny", variants=["finetune", "distil"])
    for bad in ("distill@0", "distill@150", "distill@half", "step-by-step"):
        with pytest.raises(UserError):
            parse_variant_name(bad)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="bf16"):
            training_arguments(load_config("tiny", bf16=True), tmp_path)


def test_generation_config_bans_sentinels(student):
    _, tok = student
    gen = generation_config(tok, load_config("tiny"))
    assert len([i for i in gen.suppress_tokens if tok.convert_ids_to_tokens(i).startswith("<extra_id_")]) == 100
    assert tok.eos_token_id not in gen.suppress_tokens


def test_no_blank_answer_processor(student):
    _, tok = student
    proc = no_blank_processor(tok)[0]
    nl, word = tok.convert_tokens_to_ids("\n"), encode_text(tok, "x")[-1]
    start = tok.pad_token_id
    ids = torch.tensor([[start, nl], [start, word]])
    scores = proc(ids, torch.zeros(2, len(tok)))
    assert scores[0, tok.eos_token_id] < -1e30 and scores[1, tok.eos_token_id] == 0  # blank so far: no EOS
    assert scores[0, nl] == 0  # a middle may start with whitespace
    long_blank = torch.tensor([[start] + [nl] * 16])
    scores = proc(long_blank, torch.zeros(1, len(tok)))
    assert scores[0, nl] < -1e30 and scores[0, word] == 0  # 16 blank tokens: something visible now


def test_task_dataset_is_built_with_map_and_keyed_by_fingerprint(data, student):
    _, tok = student
    cfg = load_config("tiny", **FAST)
    spec = variant_spec(cfg, "distill")
    first, _ = build_task_dataset(data["train"], tok, cfg, spec)
    again, _ = build_task_dataset(data["train"], tok, cfg, spec)
    other, _ = build_task_dataset(data["train"].select(range(40)), tok, cfg, spec)
    assert first._fingerprint == again._fingerprint  # same rows, tokenizer and settings: same key
    assert other._fingerprint != first._fingerprint
    longer, _ = build_task_dataset(data["train"], tok, load_config("tiny", **{**FAST, "max_target_tokens": 64}), spec)
    assert longer._fingerprint != first._fingerprint


def test_generation_runs_on_the_configured_threads(student, monkeypatch):
    model, tok = student
    seen = []
    real = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k))
    before = torch.get_num_threads()
    generate_middles(model, tok, ["x = 1\n" + HOLE + "\ny = 2"], load_config("tiny", torch_threads=3, **FAST))
    assert seen == [3] and torch.get_num_threads() == before
    assert load_config("tiny").torch_threads == 1 and load_config("colab").torch_threads is None


def test_unguarded_decoding_of_a_blank_answering_model_is_empty(tmp_path):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), **FAST)
    model, tok = prepare_student(cfg)
    nl = tok.convert_tokens_to_ids("\n")

    def newlines_first(module, args, logits):  # a student that answers every hole with newlines, then stops
        forced = torch.zeros_like(logits)
        forced[..., nl], forced[..., tok.eos_token_id] = 10.0, 5.0
        return forced

    model.lm_head.register_forward_hook(newlines_first)
    inputs = ["x = 1\n" + HOLE + "\ny = 2", "f = ->\n" + HOLE]
    assert all(not o.strip() for o in generate_middles(model, tok, inputs, cfg, no_blank=False))
    assert all(o.strip() for o in generate_middles(model, tok, inputs, cfg))  # the guard forces something visible


def test_empty_or_missing_valid_split_trains_without_evaluation(data, tmp_path, capsys):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), max_steps=4, eval_steps=2, logging_steps=2, **FAST)
    for valid in (data["valid"].select([]), None):
        parts = {"train": data["train"].select(range(16))} | ({"valid": valid} if valid is not None else {})
        log = train_variant(cfg, "finetune", data=DatasetDict(parts), retrain=True)
        assert log["global_step"] == 4 and log["best_step"] is None and log["best"] == {}
        assert not any("eval_loss" in h for h in log["log_history"])
        assert "no valid rows" in capsys.readouterr().out
        assert (variant_dir(cfg, "finetune") / "model.safetensors").exists()


def test_truncated_checkpoint_falls_back_to_the_one_before(data, tmp_path, capsys):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), max_steps=6, eval_steps=2, logging_steps=2, keep_checkpoints=True, **FAST)
    small = _small(data, 16, 4)
    with pytest.raises(KeyboardInterrupt):
        train_variant(cfg, "finetune", data=small, callbacks=[_Kill(5)])
    ckpts = variant_dir(cfg, "finetune") / "checkpoints"
    weights = ckpts / "checkpoint-4" / "model.safetensors"
    with open(weights, "r+b") as fh:  # a disk that filled up mid-save
        fh.truncate(weights.stat().st_size // 2)
    log = train_variant(cfg, "finetune", data=small)
    out = capsys.readouterr().out
    assert "skipped" in out and "checkpoint-4" in out and "model.safetensors cannot be read" in out
    assert log["resumed_from_step"] == 2 and log["global_step"] == 6


def _judged(data: DatasetDict, n: int = 12) -> "Dataset":
    """The first n train rows with a non-empty teacher middle; rows 0 and 5 break their file (teacher_parses False)."""
    rows = data["train"].filter(lambda t: bool(t and t.strip()), input_columns=["teacher_middle"]).select(range(n)).to_list()
    for i, row in enumerate(rows):
        row["teacher_parses"] = None if i == 7 else i not in (0, 5)  # row 7 was not judged: always kept
        if i in (0, 5):
            row["teacher_middle"] = "(((\n"  # what a broken answer looks like
    return Dataset.from_list(rows)


def test_teacher_filter_keeps_drops_or_relabels_the_rows_that_break_their_file(data, student):
    _, tok = student
    rows = _judged(data)
    built = {}
    for mode in ("keep", "drop", "gold"):
        cfg = load_config("tiny", teacher_filter=mode, **FAST)
        built[mode] = build_task_dataset(rows, tok, cfg, variant_spec(cfg, "distill"))
    (keep, ks), (drop, ds), (gold, gs) = built["keep"], built["drop"], built["gold"]
    assert ks["teacher_breaks_file"] == ds["teacher_breaks_file"] == gs["teacher_breaks_file"] == 2
    assert (ks["teacher_filter_dropped"], ks["teacher_filter_gold"], len(keep)) == (0, 0, 12)
    assert (ds["teacher_filter_dropped"], len(drop)) == (2, 10)
    assert (gs["teacher_filter_gold"], len(gold)) == (2, 12)
    # what is trained on differs: the breaking rows' labels are the teacher's, gone, or the true middles
    cut = FAST["max_target_tokens"] - 1
    teacher0 = encode_text(tok, rows[0]["teacher_middle"])[:cut]
    true0 = encode_text(tok, rows[0]["middle"])[:cut]
    assert keep[0]["labels"][:-1] == teacher0 and gold[0]["labels"][:-1] == true0 and teacher0 != true0
    assert drop[0]["labels"] == keep[1]["labels"]  # row 0 is gone
    assert keep[1]["labels"] == gold[1]["labels"]  # rows that parse are untouched
    # finetune (true middles) ignores the filter
    cfg = load_config("tiny", teacher_filter="drop", **FAST)
    ft, fstats = build_task_dataset(rows, tok, cfg, variant_spec(cfg, "finetune"))
    assert len(ft) == 12 and "teacher_filter_dropped" not in fstats
    table = teacher_filter_table(rows)
    assert table.loc["keep", "rows trained on"] == 12 and table.loc["drop", "dropped"] == 2
    assert table.loc["gold", "true middle instead"] == 2


def test_teacher_filter_without_a_judgement_changes_nothing_and_reads_na(data):
    rows = data["train"].select(range(6))
    for mode in ("drop", "gold"):
        out, stats = apply_teacher_filter(rows.add_column("teacher_parses", [None] * 6), mode)
        assert len(out) == 6 and stats["teacher_breaks_file"] is None
        assert list(out["teacher_middle"]) == list(rows["teacher_middle"])
    assert (teacher_filter_table(rows)["dropped"] == "n/a").all()
    with pytest.raises(UserError, match="teacher_filter"):
        load_config("tiny", teacher_filter="maybe")


def test_the_2x2_variants_and_their_specs():
    cfg = load_config("tiny")
    assert cfg.variants == tuple(VARIANT_SPECS)[:4] == ("finetune", "finetune_explain", "distill", "step_by_step")
    assert tuple(VARIANT_SPECS)[4:] == ("logit_distill",)  # beyond the 2x2: trained only when named (tests/test_logit_distill.py)
    assert all(load_config(p).variants == cfg.variants for p in ("colab", "full"))
    recipes = {v: (variant_spec(cfg, v).labels, variant_spec(cfg, v).explain) for v in cfg.variants}
    assert recipes == {"finetune": ("gold", False), "finetune_explain": ("gold", True),
                       "distill": ("teacher", False), "step_by_step": ("teacher", True)}
    assert len({variant_spec(cfg, v).description for v in cfg.variants}) == 4
    assert variant_spec(cfg, "distill@25").labels == "teacher" and variant_spec(cfg, "distill@25").fraction == 0.25


def test_variant_names_and_parse_variant_name_round_trip():
    cfg = load_config("tiny", data_fractions=[1.0, 0.125, 0.5])
    names = variant_names(cfg)
    assert names[:4] == list(cfg.variants) and len(names) == 12 and "distill@12.5" in names and "step_by_step@50" in names
    parsed = [parse_variant_name(n) for n in names]
    assert {f for _, f in parsed} == {1.0, 0.5, 0.125} and {v for v, _ in parsed} == set(cfg.variants)
    assert [variant_name(v, f) for v, f in parsed] == names
    assert parse_variant_name("distill") == ("distill", 1.0) and parse_variant_name("distill@25") == ("distill", 0.25)


def test_data_fractions_are_nested_seeded_subsets_shared_by_every_variant(data, student):
    _, tok = student
    cfg = load_config("tiny", **FAST)
    rows = data["train"]
    ids = {f: set(train_subset(rows, f, cfg.seed)["id"]) for f in (0.25, 0.5, 1.0)}
    assert ids[0.25] < ids[0.5] < ids[1.0] == set(rows["id"])
    assert len(ids[0.25]) == math.ceil(0.25 * len(rows))
    assert ids[0.5] != set(train_subset(rows, 0.5, cfg.seed + 1)["id"])  # seeded, not the first rows
    counts = {v: build_task_dataset(train_subset(rows, 0.25, cfg.seed), tok, cfg, variant_spec(cfg, f"{v}@25"))[1]["rows_in"]
              for v in cfg.variants}
    assert set(counts.values()) == {len(ids[0.25])}


def test_every_point_gets_the_same_number_of_updates(data, tmp_path):
    cfg = load_config("tiny", artifacts_dir=str(tmp_path), max_steps=4, eval_steps=4, logging_steps=2,
                      variants=["finetune", "step_by_step"], data_fractions=[0.25, 1.0], **FAST)
    logs = {n: train_variant(cfg, n, data=_small(data, 24, 2)) for n in variant_names(cfg)}
    saved = {n: json.loads((variant_dir(cfg, n) / "train_log.json").read_text()) for n in logs}
    assert list(saved) == ["finetune", "step_by_step", "finetune@25", "step_by_step@25"]
    assert {log["global_step"] for log in saved.values()} == {4}
    assert {log["data"]["train"]["rows_in"] for n, log in saved.items() if "@" in n} == {6}
    epochs = load_config("tiny", max_steps=-1, num_train_epochs=2, train_batch_size=8)
    assert update_budget(epochs, 100) == 25  # epochs of the whole train split, whatever share a point trains on


def test_same_settings_train_identical_weights_and_predictions(data, tmp_path):
    from safetensors.torch import load_file

    small = _small(data, 24, 2)
    runs = []
    for name in ("a", "b"):
        cfg = load_config("tiny", artifacts_dir=str(tmp_path / name), max_steps=6, eval_steps=6, logging_steps=3,
                          **{**FAST, "student_dropout": 0.1})  # dropout on: its randomness must be seeded too
        train_variant(cfg, "step_by_step@50", data=small)
        model, tok = load_trained(cfg, "step_by_step@50")
        weights = load_file(str(variant_dir(cfg, "step_by_step@50") / "model.safetensors"))
        runs.append((weights, generate_middles(model, tok, list(data["valid"]["student_input"][:6]), cfg)))
    (w1, p1), (w2, p2) = runs
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert p1 == p2
    assert not torch.are_deterministic_algorithms_enabled()  # switched on for training only



def test_only_the_tied_embeddings_notice_is_dropped_from_the_trainers_log():
    import logging

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    trainer_log, keep = logging.getLogger("transformers.trainer"), Keep()
    trainer_log.addHandler(keep)  # transformers' loggers do not propagate to the root logger
    level = trainer_log.level
    trainer_log.setLevel(logging.WARNING)  # whatever verbosity an earlier test left transformers at
    try:
        trainer_log.warning("There were missing keys in the checkpoint model loaded: ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'].")
        trainer_log.warning("There were missing keys in the checkpoint model loaded: ['lm_head.weight'].")
    finally:
        trainer_log.removeHandler(keep)
        trainer_log.setLevel(level)
    assert keep.messages == ["There were missing keys in the checkpoint model loaded: ['lm_head.weight']."]
