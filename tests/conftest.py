"""Shared test set-up: offline, artifacts in a temporary folder, one tiny FIM dataset per session."""

# the environment (offline, artifacts in a temporary folder, the shared parser) is set in the root conftest.py,
# which pytest loads first whatever is selected

import pytest

from utils.config import REPO_ROOT, load_config

REAL_MOONSCRIPT = REPO_ROOT.parent / "shared" / "data" / "moonscript-real"


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Two cores shared with other work: the tiny models run fastest on one thread, and two threads fight."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fim_cfg(tmp_path_factory):
    """A tiny config whose 'fim' stage (notebook 02's artifact) is built once per session."""
    from utils.artifacts import stage_dir
    from utils.fim import build_fim, save_fim

    cfg = load_config("tiny", artifacts_dir=str(tmp_path_factory.mktemp("session-artifacts")), run_name="unit")
    save_fim(build_fim(cfg), stage_dir(cfg, "fim"))
    return cfg


@pytest.fixture
def cfg(tmp_path, fim_cfg):
    """A tiny config in a fresh folder whose 'fim' stage is the session's (linked, not rebuilt)."""
    c = load_config("tiny", artifacts_dir=str(tmp_path), run_name="unit")
    c.run_dir.mkdir(parents=True)
    (c.run_dir / "fim").symlink_to(fim_cfg.run_dir / "fim")
    return c


@pytest.fixture(scope="session")
def fim_dataset(fim_cfg):
    """The session's tiny FIM DatasetDict (train / valid / test)."""
    from utils.artifacts import load_stage

    return load_stage(fim_cfg, "fim")


def one_step(trainer, model, batch: dict, lr: float):
    """One AdamW step on `trainer.compute_loss` of `batch`: (the loss before, the loss after, under no_grad)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss = trainer.compute_loss(model, dict(batch))
    loss.backward()
    opt.step()
    with torch.no_grad():
        return loss.detach(), trainer.compute_loss(model, dict(batch))
