import pytest
import torch

from utils.config import FIM_TOKENS, UserError
from utils.models import _explain, load_student, load_teacher, load_tokenizer, resolve


def test_missing_path_is_one_clear_error():
    with pytest.raises(UserError, match="does not exist"):
        resolve("./no/such/model")


def test_hub_id_without_network_says_what_to_do():
    # HF_HUB_OFFLINE=1 (conftest): the hub cannot be reached and nothing is cached
    with pytest.raises(UserError, match="no network.*profile='tiny'.*log in"):
        load_tokenizer("bigcode/gpt_bigcode-santacoder")


def test_unknown_model_id_message():
    err = _explain("bigcode/nope", OSError("bigcode/nope is not a local folder and is not a valid model identifier"))
    assert "unknown model 'bigcode/nope'" in str(err)


def test_tiny_teacher_is_santacoder_in_miniature():
    model, tok = load_teacher("tiny-teacher", device="cpu")
    assert model.config.model_type == "gpt_bigcode" and model.config.multi_query
    for t in FIM_TOKENS:  # each FIM marker is one token
        assert len(tok.encode(t, add_special_tokens=False)) == 1
    assert tok.decode(tok.encode("\tx = {a: 1}\n  y")) == "\tx = {a: 1}\n  y"  # byte-level: lossless


def test_tiny_student_is_flan_t5_in_miniature():
    model, tok = load_student("tiny-student", device="cpu")
    assert model.config.model_type == "t5" and model.config.feed_forward_proj == "gated-gelu"
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()  # untied, like flan-t5
    assert not torch.equal(model.lm_head.weight, model.shared.weight)
    # and its tokenizer fails on code the way flan-t5's does
    vocab = tok.get_vocab()
    assert not any(c in p for p in vocab for c in "{}\n\t")
    text = "x = {\n\t  a: 1\n}"
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.unk_token_id in ids
    decoded = tok.decode(ids, skip_special_tokens=True)
    assert "\n" not in decoded and "{" not in decoded and " ".join(decoded.split()) == "x = a: 1"
