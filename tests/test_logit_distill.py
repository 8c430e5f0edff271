"""Logit distillation (utils/logits.py): the ULD loss, the alignment of two tokenizers, one training step, resume."""

import pytest
import torch
from datasets import Dataset

from utils.config import UserError, load_config
from utils.logits import (
    TeacherDistributions,
    align_positions,
    alignment_table,
    char_spans,
    compute_distributions,
    load_distributions,
    logits_cache_path,
    plot_topk,
    target_text,
    text_hash,
    token_bytes,
    topk_example,
    uld_loss,
)
from utils.models import load_teacher, load_tokenizer
from utils.student import prepare_student
from utils.teacher import TransformersBackend, encode
from utils.tokenization import encode_text, make_code_safe
from utils.training import (
    LogitCollator,
    LogitDistillTrainer,
    StepByStepTrainer,
    _fingerprint,
    build_task_dataset,
    training_arguments,
    variant_names,
    variant_spec,
)

from conftest import REAL_MOONSCRIPT, one_step

FAST = dict(max_target_tokens=32, student_max_input_tokens=160, max_new_tokens=24, teacher_batch_size=2, logit_top_k=4)


@pytest.fixture(scope="module")
def teacher():
    """The tiny teacher, loaded once for the module."""
    return load_teacher("tiny-teacher", "cpu")


@pytest.fixture(scope="module")
def student_tok():
    """The tiny student's code-safe tokenizer (no model)."""
    return make_code_safe(load_tokenizer("tiny-student"))


@pytest.fixture
def rows(fim_dataset) -> Dataset:
    """Six real train rows whose teacher middle is their first line (synthetic: notebook 03 is not run here)."""
    part = fim_dataset["train"].select(range(6))
    firsts = [next((line for line in m.splitlines(keepends=True) if line.strip()), m) for m in part["middle"]]
    return part.add_column("teacher_middle", firsts)


@pytest.fixture
def lcfg(cfg):
    for key, value in FAST.items():
        setattr(cfg, key, value)
    return cfg


# --------------------------------------------------------------------------- the loss


def _topk(probs: torch.Tensor, k: int) -> torch.Tensor:
    return probs.topk(k, dim=-1).values


def test_uld_is_zero_for_identical_distributions_even_across_vocabularies():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 50) * 3
    probs = logits.softmax(-1)
    mask = torch.ones(2, 5, dtype=torch.bool)
    assert uld_loss(logits, _topk(probs, 8), mask).item() == pytest.approx(0, abs=1e-6)
    # the same probabilities on other tokens of a larger vocabulary: ULD compares sorted vectors, so still zero
    other = torch.full((2, 5, 80), -1e4)
    other[..., torch.randperm(80)[:50]] = logits
    assert uld_loss(other, _topk(probs, 8), mask).item() == pytest.approx(0, abs=1e-5)
    # positions without a teacher distribution count for nothing
    junk = _topk(probs, 8).clone()
    junk[1, 2] = torch.full((8,), 0.125)  # a flat teacher where the student is sure
    partial = mask.clone()
    partial[1, 2] = False
    assert uld_loss(logits, junk, partial).item() == pytest.approx(0, abs=1e-6)
    assert uld_loss(logits, junk, mask).item() > 0.01


def test_uld_grows_monotonically_as_the_student_moves_away():
    torch.manual_seed(1)
    logits = torch.randn(3, 4, 40) * 2
    teacher = _topk(logits.softmax(-1), 6)
    mask = torch.ones(3, 4, dtype=torch.bool)
    uniform = torch.full_like(logits, 1 / 40)
    mixed = [uld_loss(((1 - w) * logits.softmax(-1) + w * uniform).log(), teacher, mask).item() for w in (0, 0.2, 0.4, 0.6, 0.8, 1)]
    assert mixed[0] == pytest.approx(0, abs=1e-6)
    assert all(a < b for a, b in zip(mixed, mixed[1:])), mixed
    hotter = [uld_loss(logits / t, teacher, mask).item() for t in (1, 1.5, 2, 4, 8)]
    assert all(a < b for a, b in zip(hotter, hotter[1:])), hotter
    colder = [uld_loss(logits / t, teacher, mask).item() for t in (1, 0.7, 0.4, 0.1)]
    assert all(a < b for a, b in zip(colder, colder[1:])), colder


def test_uld_with_the_whole_vocabulary_is_the_papers_sorted_l1():
    torch.manual_seed(2)
    t_logits, s_logits = torch.randn(1, 3, 30), torch.randn(1, 3, 30)
    t_probs = t_logits.softmax(-1)
    paper = (t_probs.sort(-1, descending=True).values - s_logits.softmax(-1).sort(-1, descending=True).values).abs().sum(-1).mean()
    assert uld_loss(s_logits, t_probs, torch.ones(1, 3, dtype=torch.bool)).item() == pytest.approx(paper.item(), rel=1e-5)


# --------------------------------------------------------------------------- offsets and alignment


def _ids(tok, text: str) -> list[int]:
    """Teacher ids as generation sees them, student ids as training does."""
    return encode_text(tok, text) if getattr(tok, "init_kwargs", {}).get("code_safe") else encode(tok, text)


def _check_spans(tok, text: str) -> list[tuple[int, int]]:
    ids = _ids(tok, text)
    spans = char_spans(tok, text, ids)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] and a[0] <= a[1] for a, b in zip(spans, spans[1:]))  # contiguous: every character once
    raw, end, undecodable = text.encode(), 0, 0
    for (s, e), piece in zip(spans, token_bytes(tok, ids)):
        end += len(piece)
        assert raw[:end].decode(errors="ignore") == text[:e]  # a token's span ends after the last character it completes
        try:
            assert text[s:e] == piece.decode()  # a token of whole characters spans exactly its text
        except UnicodeDecodeError:
            undecodable += 1
    assert end == len(raw)
    _check_spans.undecodable = undecodable
    return spans


@pytest.mark.skipif(not REAL_MOONSCRIPT.is_dir(), reason="no real MoonScript beside the checkout (../shared/data/moonscript-real)")
def test_offsets_cover_real_moonscript_exactly_for_both_tokenizers(teacher, student_tok):
    _, teacher_tok = teacher
    files = sorted(REAL_MOONSCRIPT.rglob("*.moon"))[:40]
    assert files
    for path in files:
        text = path.read_text()
        t_spans, s_spans = _check_spans(teacher_tok, text), _check_spans(student_tok, text)
        pairs = align_positions(s_spans, t_spans, "offsets")
        assert pairs[-1] == len(t_spans)  # the two ends (the whole text read) are compared
        for j, m in enumerate(pairs[:-1]):
            if m >= 0:
                assert s_spans[j][0] == t_spans[m][0]  # both have read exactly the same text
        assert sum(m >= 0 for m in pairs) > len(s_spans) / 3  # on code most student boundaries are teacher boundaries
        assert align_positions(s_spans, t_spans, "position")[: len(t_spans)] == list(range(min(len(s_spans) + 1, len(t_spans) + 1)))[: len(t_spans)]


def test_offsets_of_characters_cut_into_bytes(teacher, student_tok):
    _, teacher_tok = teacher
    text = "greet = (name) -> print \"héllo #{name} ✓ 日本\"\n\tx = {}\n"
    cut = 0
    for tok in (teacher_tok, student_tok):
        spans = _check_spans(tok, text)
        cut += _check_spans.undecodable
        assert len(_ids(tok, text)) == len(spans)
    assert cut > 0  # some token holds part of a character: the case checked here
    t_spans, s_spans = _check_spans(teacher_tok, text), _check_spans(student_tok, text)
    pairs = align_positions(s_spans, t_spans, "offsets")
    starts = [s for s, _ in t_spans]
    for j, m in enumerate(pairs[:-1]):  # a token inside a character is never a boundary
        if m >= 0:
            assert starts.index(s_spans[j][0]) == m and (j == 0 or s_spans[j - 1][0] != s_spans[j][0])
    with pytest.raises(ValueError):
        char_spans(teacher_tok, "something else", encode(teacher_tok, text))


def test_position_alignment_is_the_papers_and_truncates_to_the_shorter():
    s, t = [(0, 1), (1, 2), (2, 4)], [(0, 2), (2, 4)]
    assert align_positions(s, t, "position") == [0, 1, 2, -1]  # student: 3 tokens + </s>; teacher: 2 tokens + the end
    assert align_positions(s, t, "offsets") == [0, -1, 1, 2]  # starts 0 and 2 shared; both ends after the whole text
    assert align_positions([(0, 1), (1, 3), (3, 4)], t, "offsets") == [0, -1, -1, 2]  # 3 starts no teacher token
    assert align_positions(s, t, "offsets", student_complete=False)[-1] == -1  # labels cut short: </s> is not the end
    with pytest.raises(UserError):
        align_positions(s, t, "nearest")


# --------------------------------------------------------------------------- stored distributions: resume


def test_an_interrupted_run_resumes_without_recomputing_finished_examples(lcfg, rows, teacher, monkeypatch):
    import utils.logits as logits

    backend = TransformersBackend(lcfg, *teacher)
    whole, stats = compute_distributions(lcfg, rows, backend, cache=lcfg.run_dir / "whole.jsonl", progress=False)
    assert stats["computed"] == 6 and len(whole) == 6
    real, seen = logits.teacher_topk, []

    def counted(model, batch, starts, k, pad_id):  # the forward pass, counted per example
        seen.extend(batch)
        if crash and len(seen) > 2:
            raise KeyboardInterrupt  # killed during the second batch
        return real(model, batch, starts, k, pad_id)

    monkeypatch.setattr(logits, "teacher_topk", counted)
    crash = True
    with pytest.raises(KeyboardInterrupt):
        compute_distributions(lcfg, rows, backend, progress=False)
    assert len(logits_cache_path(lcfg).read_text().splitlines()) == 2  # the finished batch, on disk
    crash, seen[:] = False, []
    resumed, stats = compute_distributions(lcfg, rows, backend, progress=False)
    assert stats["reused_from_cache"] == 2 and stats["computed"] == 4 and len(seen) == 4  # 4 forward rows, not 6
    key = lambda recs: {r["id"]: (r["topk_ids"], r["topk_probs"], r["offsets"]) for r in recs}  # noqa: E731
    assert key(resumed) == key(whole)
    seen[:] = []
    _, stats = compute_distributions(lcfg, rows, backend, progress=False)
    assert stats["computed"] == 0 and not seen
    lcfg.logit_top_k = 5  # another setting: computed again, not served stale
    _, stats = compute_distributions(lcfg, rows, backend, progress=False)
    assert stats["computed"] == 6


def test_stored_distributions_are_the_teachers_own(lcfg, rows, teacher):
    model, tok = teacher
    records, _ = compute_distributions(lcfg, rows.select(range(2)), TransformersBackend(lcfg, model, tok), progress=False)
    rec, row = records[0], rows[0]
    text = target_text(row, lcfg)
    assert rec["text_sha"] == text_hash(text) and rec["tokens"] == encode(tok, text)
    assert len(rec["topk_probs"]) == len(rec["tokens"]) + 1 and len(rec["topk_probs"][0]) == lcfg.logit_top_k
    ids = encode(tok, row["teacher_input"]) + rec["tokens"]
    with torch.no_grad():
        full = model(torch.tensor([ids])).logits[0].softmax(-1)  # unpadded, the whole head: the reference
    start = len(ids) - len(rec["tokens"])
    for n, (top_ids, top_probs) in enumerate(zip(rec["topk_ids"], rec["topk_probs"])):
        expected = full[start - 1 + n].topk(lcfg.logit_top_k)
        assert top_ids == expected.indices.tolist()
        assert top_probs == pytest.approx(expected.values.tolist(), abs=1e-4)
    with pytest.raises(UserError, match="teacher-logits"):
        load_distributions(lcfg)  # training logit_distill before the distributions exist names the command
    lcfg.teacher_backend = "openai"
    with pytest.raises(UserError, match="echo"):
        compute_distributions(lcfg, rows, progress=False)


# --------------------------------------------------------------------------- the join, the collator, one step


@pytest.mark.parametrize("alignment", ["position", "offsets"])
def test_one_step_lowers_the_loss_and_the_loss_is_ce_plus_beta_uld(lcfg, rows, teacher, alignment, tmp_path):
    lcfg.logit_alignment = alignment
    records, _ = compute_distributions(lcfg, rows, TransformersBackend(lcfg, *teacher), progress=False)
    model, tok = prepare_student(lcfg)
    spec = variant_spec(lcfg, "logit_distill")
    changed = rows.map(lambda r, i: {"teacher_middle": r["teacher_middle"] + "x" if i == 5 else r["teacher_middle"]}, with_indices=True)
    join = TeacherDistributions({r["id"]: r for r in records}, tok, lcfg.logit_top_k, alignment)
    ds, stats = build_task_dataset(changed, tok, lcfg, spec, join)
    assert stats["no_teacher_distribution"] == 1  # the label text changed after the distributions were taken
    assert stats["uld_positions"] > 0 and "teacher_probs" not in stats
    batch = LogitCollator(tok, model=model)([ds[i] for i in range(len(ds))])
    assert batch["teacher_probs"].shape == (*batch["labels"].shape, lcfg.logit_top_k)
    assert not batch["teacher_mask"][5].any() and batch["teacher_mask"][0].any()
    assert not batch["teacher_mask"][batch["labels"] == -100].any()  # padding is never compared
    args = training_arguments(lcfg, tmp_path / "out", has_valid=False)
    trainer = LogitDistillTrainer(model=model, args=args, processing_class=tok, beta=0.7)
    plain = StepByStepTrainer(model=model, args=args, processing_class=tok)
    model.eval()
    with torch.no_grad():
        total = trainer.compute_loss(model, dict(batch))
        ce = plain.compute_loss(model, {k: v for k, v in batch.items() if not k.startswith("teacher_")})
        logits = model(**{k: v for k, v in batch.items() if k not in ("labels", "task", "teacher_probs", "teacher_mask")}).logits
        uld = uld_loss(logits, batch["teacher_probs"], batch["teacher_mask"])
    assert 0 < uld.item() <= 2 and torch.allclose(total, ce + 0.7 * uld, rtol=1e-5)
    before, after = one_step(trainer, model, batch, lr=3e-3)
    assert after < before
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k not in ("labels", "task", "teacher_probs", "teacher_mask")}).logits
        assert uld_loss(logits, batch["teacher_probs"], batch["teacher_mask"]) < uld  # the ULD part itself went down
    if alignment == "offsets":
        first = ds[0]
        spans = char_spans(tok, changed[0]["teacher_middle"], first["labels"][:-1])
        rec = next(r for r in records if r["id"] == changed[0]["id"])
        starts = {s: m for m, (s, _) in reversed(list(enumerate(rec["offsets"])))}
        for j, on in enumerate(first["teacher_mask"][:-1]):
            if on:
                assert first["teacher_probs"][j] == pytest.approx(rec["topk_probs"][starts[spans[j][0]]])


def test_topk_example_and_alignment_table_for_a_notebook(lcfg, rows, teacher, student_tok):
    text = "x = {1, 2}\n\tfor v in *x\n\t\tprint v\n"
    aligned = alignment_table(teacher[1], student_tok, text)
    assert "".join(aligned["student token"][:-1]) == text and aligned["student token"].iloc[-1] == "</s>"
    assert aligned["teacher token (offsets)"].iloc[-1] == "(end)"
    shared = aligned.dropna(subset=["teacher token (offsets)"])[:-1]
    assert len(shared) and all(text[s:].startswith(t) for s, t in zip(shared["start"], shared["teacher token (offsets)"]))
    table = topk_example(lcfg, rows[0], teacher, prepare_student(lcfg), k=3)
    plot_topk(table, positions=2, path=lcfg.run_dir / "topk.png")
    assert (lcfg.run_dir / "topk.png").stat().st_size > 0
    assert set(table["system"]) == {"teacher", "student"}
    for system, part in table.groupby("system"):
        assert (part.groupby("position")["rank"].count() == 3).all()
        sums = part.groupby("position")["prob"].sum()
        assert ((sums > 0) & (sums <= 1 + 1e-5)).all()
        assert part.sort_values(["position", "rank"]).groupby("position")["prob"].apply(lambda p: p.is_monotonic_decreasing).all()


# --------------------------------------------------------------------------- the variant


def test_logit_variant_is_named_trained_at_full_data_only_and_keyed_by_its_settings(lcfg, rows):
    cfg = load_config("tiny", variants=["distill", "logit_distill"], data_fractions=[0.5, 1.0])
    assert variant_names(cfg) == ["distill", "logit_distill", "distill@50"]
    assert load_config("tiny").variants == ("finetune", "finetune_explain", "distill", "step_by_step")  # default unchanged
    spec = variant_spec(cfg, "logit_distill")
    assert spec.logits and spec.labels == "teacher" and not spec.explain and "beta=1.0" in spec.description
    assert variant_spec(load_config("tiny", logit_labels="gold"), "logit_distill").labels == "gold"
    assert not variant_spec(cfg, "distill").logits
    for bad in (dict(logit_top_k=0), dict(beta=-1), dict(logit_alignment="nearest"), dict(logit_labels="both"),
                dict(variants=["logit_step"])):
        with pytest.raises(UserError):
            load_config("tiny", **bad)
    ds = Dataset.from_dict({"input_ids": [[1]], "labels": [[1]]})
    keys = {}
    for beta in (1.0, 0.5):
        cfg.beta = beta
        keys[beta] = {v: _fingerprint(cfg, variant_spec(cfg, v), ds, None, 30) for v in ("distill", "logit_distill")}
    assert keys[1.0]["distill"] == keys[0.5]["distill"]  # the 2x2 keeps its keys: finished runs are reused
    assert keys[1.0]["logit_distill"] != keys[0.5]["logit_distill"]
