"""Repository-wide pytest hooks (tests/conftest.py holds the fixtures)."""


def pytest_collection_modifyitems(items):
    """Give nbval more than its fixed 5 s to collect a cell's output once the cell has finished.

    After a long cell (training in notebook 05) the kernel can take longer than that to flush its
    last messages on a loaded 2-core machine; nbval then fails the cell and skips the rest.
    """
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 120
