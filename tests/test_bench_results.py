"""Every benchmark refuses, before it trains anything, to replace a results file that no benchmark wrote, and marks
the files it writes as its own."""

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import common


@pytest.mark.parametrize("module, option", [
    ("doctor", "--out"), ("stacked_mnist", "--out"), ("seed_lanes", "--out"), ("loader_memory", "--out"),
    ("pggan", "--out"), ("throughput", "--out"), ("small_data", "--results"), ("compare_cifar", "--results"),
    ("compare_flowers", "--results"), ("stem_stride", "--results"), ("mixtures", "--out"),
    ("ema_statistics", "--out"),
])
def test_a_results_file_of_someone_else_is_refused_before_any_work(module, option, tmp_path, capsys):
    mine = tmp_path / "notes.md"
    mine.write_text("my own notes")
    target = tmp_path / "notes" if module == "mixtures" else mine  # mixtures takes a prefix for .md and .png
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main([option, str(target)])
    assert stop.value.code == 2
    assert "was not written by a benchmark" in capsys.readouterr().err
    assert mine.read_text() == "my own notes"


def test_a_file_a_benchmark_wrote_may_be_written_again(tmp_path, capsys):
    path = tmp_path / "deep" / "table.md"
    common.publish_result(path, "| a |\n")
    assert capsys.readouterr().out == f"| a |\n\nwrote {path}\n"
    assert path.read_text() == f"| a |\n\n{common.RESULT_MARK}\n"
    assert common.result_path(str(path)) == path
    common.publish_result(path, "| b |")
    assert path.read_text().startswith("| b |")
