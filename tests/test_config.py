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
