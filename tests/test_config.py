import pytest

from utils.config import PROFILES, STUDENT_HUB_ID, TEACHER_HUB_ID, UserError, load_config


def test_tiny_is_offline_default():
    cfg = load_config()
    assert cfg.profile == "tiny"
    assert cfg.teacher == "tiny-teacher" and cfg.student == "tiny-student"
    assert cfg.corpus == "sample"


@pytest.mark.parametrize("profile", ["colab", "full"])
def test_real_profiles_name_the_real_models(profile):
    cfg = load_config(profile)
    assert (cfg.teacher, cfg.student, cfg.corpus) == (TEACHER_HUB_ID, STUDENT_HUB_ID, "the-stack")
    assert cfg.run_dir.name == profile


def test_any_single_value_can_be_overridden():
    cfg = load_config("colab", max_new_tokens=7, run_name="mine")
    assert cfg.max_new_tokens == 7 and cfg.run_dir.name == "mine"
    assert load_config("colab").max_new_tokens == PROFILES["colab"]["max_new_tokens"]  # no leak between calls


def test_unknown_profile_names_the_choices():
    with pytest.raises(UserError, match="unknown profile 'big'.*tiny, colab, full"):
        load_config("big")


def test_unknown_setting_suggests_the_close_one():
    with pytest.raises(UserError, match="max_new_tokens"):
        load_config("tiny", max_new_token=3)


def test_none_is_a_real_value_never_a_dropped_override():
    """`None` from papermill or a caller means None, not "keep the profile's value"."""
    assert load_config("tiny", student_dropout=None).student_dropout is None
    assert load_config("colab", max_files=None).max_files is None
    assert load_config("tiny", run_name=None).run_name == "tiny"  # run_name=None: the profile's folder


@pytest.mark.parametrize(
    "setting, value, says",
    [
        ("max_files", "abc", "max_files='abc' is not valid: it takes int | None"),
        ("split_fractions", "0.9,0.2,0.1", "summing to 1"),
        ("split_fractions", "0.5,0.5", "split_fractions='0.5,0.5' is not valid"),
        ("alpha", 2, "alpha=2.0 is out of range: it takes a number from 0 to 1"),
        ("train_batch_size", 0, "above 0"),
        ("fim_mode", "mps", "one of psm, spm"),
        ("variants", ["finetune", "distil"], "finetune, finetune_explain, distill, step_by_step"),
        ("do_sample", "maybe", "not valid"),
    ],
)
def test_settings_are_checked_before_any_work(setting, value, says):
    with pytest.raises(UserError) as err:
        load_config("tiny", **{setting: value})
    assert says in str(err.value) and setting in str(err.value)


def test_text_from_the_command_line_is_coerced_to_each_fields_type():
    from utils.config import parse_overrides

    cfg = load_config("tiny", **parse_overrides([
        "split_fractions=0.7,0.2,0.1", "max_files=12", "variants=finetune,distill", "do_sample=true",
        "rationale_price_per_mtok=[0.15, 0.6]", "teacher_base_url=none", "warmup_steps=5",
    ]))
    assert cfg.split_fractions == (0.7, 0.2, 0.1) and cfg.max_files == 12 and cfg.variants == ("finetune", "distill")
    assert cfg.do_sample is True and cfg.rationale_price_per_mtok == (0.15, 0.6) and cfg.teacher_base_url is None
    assert cfg.warmup_steps == 5 and isinstance(cfg.warmup_steps, int)
    with pytest.raises(UserError, match="key=value"):
        parse_overrides(["alpha"])


def test_the_cli_refuses_a_bad_setting_in_one_line(capsys):
    from utils.__main__ import main

    assert main(["fim", "--set", "max_files=abc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: setting max_files='abc' is not valid: it takes int | None"]
