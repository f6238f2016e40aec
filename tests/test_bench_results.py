"""Every benchmark refuses, before it trains anything, to replace a results file that it did not write itself (no
benchmark's, or another benchmark's), and marks the files it writes as its own."""

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import common

BENCHMARKS = [
    ("doctor", "--out"), ("stacked_mnist", "--out"), ("seed_lanes", "--out"), ("loader_memory", "--out"),
    ("pggan", "--out"), ("throughput", "--out"), ("small_data", "--results"), ("compare_cifar", "--results"),
    ("compare_flowers", "--results"), ("stem_stride", "--results"), ("mixtures", "--out"),
    ("ema_statistics", "--out"),
]


def refusal(module: str, option: str, tmp_path: Path, text: str, capsys) -> str:
    """The error line of `module` started with a results file holding `text`, which must be left as it was."""
    existing = tmp_path / "notes.md"
    existing.write_text(text)
    target = tmp_path / "notes" if module == "mixtures" else existing  # mixtures takes a prefix for .md and .png
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main([option, str(target)])
    assert stop.value.code == 2
    assert existing.read_text() == text
    return capsys.readouterr().err


@pytest.mark.parametrize("module, option", BENCHMARKS)
def test_a_results_file_of_someone_else_is_refused_before_any_work(module, option, tmp_path, capsys):
    assert "was not written by a benchmark" in refusal(module, option, tmp_path, "my own notes", capsys)


@pytest.mark.parametrize("module, option", BENCHMARKS)
def test_the_results_of_another_benchmark_are_refused_before_any_work(module, option, tmp_path, capsys):
    other = "pggan" if module != "pggan" else "doctor"
    written = common.ResultsFile(f"{other}.py").mark
    assert f"holds the results of bench/{other}.py" in refusal(module, option, tmp_path, f"| a |\n\n{written}\n",
                                                                capsys)


@pytest.mark.parametrize("module, option", [b for b in BENCHMARKS if b[0] != "mixtures"])  # mixtures: a prefix
def test_a_folder_is_refused_in_one_line(module, option, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main([option, str(tmp_path)])
    assert stop.value.code == 2
    assert f"'{tmp_path}' is a folder; give the path of a results file" in capsys.readouterr().err


def test_every_recorded_result_names_the_benchmark_that_wrote_it():
    scripts = {path.name for path in common.RESULTS.parent.glob("*.py")}
    for path in common.RESULTS.glob("*.md"):
        if path.stem in ("fuzz", "install"):  # written by hand from those scripts' output
            continue
        text = path.read_text()
        found = common.RESULT_MARK.search(text)
        assert found is not None and found[1] in scripts, path
        # one mark, on the last line: parts appended to a file leave none of theirs in the middle
        assert text.count("<!-- written by") == 1 and text.rstrip("\n").endswith(found[0]), path


def test_a_file_a_benchmark_wrote_may_be_written_again(tmp_path, capsys):
    path = tmp_path / "deep" / "table.md"
    results = common.ResultsFile("/somewhere/bench/mixtures.py")
    results.publish(path, "| a |\n")
    assert capsys.readouterr().out == f"| a |\n\nwrote {path}\n"
    assert path.read_text() == "| a |\n\n<!-- written by steadygan's bench/mixtures.py -->\n"
    assert results.check(str(path)) == path
    results.publish(path, "| b |")
    assert path.read_text().startswith("| b |")


def test_an_appended_part_follows_the_earlier_parts_under_one_mark(tmp_path, capsys):
    path = tmp_path / "table.md"
    results = common.ResultsFile("stacked_mnist.py")
    results.publish(path, "| first |", append=True)  # no file yet: written as it is
    capsys.readouterr()
    results.publish(path, "| second |\n", append=True)
    assert capsys.readouterr().out == f"| second |\n\nwrote {path}\n"  # the new part alone is printed
    assert path.read_text() == ("| first |\n\n---\n\n| second |\n\n"
                                "<!-- written by steadygan's bench/stacked_mnist.py -->\n")
    assert results.check(str(path)) == path


def test_a_file_changed_during_a_run_is_kept_and_the_results_go_beside_it(tmp_path, capsys):
    path = tmp_path / "table.md"
    results = common.ResultsFile("stacked_mnist.py")
    results.publish(path, "| first |")
    results.check(str(path))  # the benchmark starts: the file is its own
    path.write_text("my notes, saved over the table while the benchmark trained\n")
    capsys.readouterr()
    assert results.publish(path, "| second |", append=True) == tmp_path / "table-1.md"
    assert path.read_text() == "my notes, saved over the table while the benchmark trained\n"
    assert (tmp_path / "table-1.md").read_text().startswith("| second |")
    assert f"'{path}' changed while this benchmark ran; its results go to '{tmp_path / 'table-1.md'}'" in \
        capsys.readouterr().err


def test_two_runs_started_on_one_results_file_both_keep_their_table(tmp_path):
    path = tmp_path / "table.md"
    first, second = common.ResultsFile("mixtures.py"), common.ResultsFile("mixtures.py")
    first.check(str(path))  # both start before either has written
    second.check(str(path))
    assert first.publish(path, "| first run |") == path
    assert second.publish(path, "| second run |") == tmp_path / "table-1.md"
    assert path.read_text().startswith("| first run |")
    assert first.publish(path, "| first run, again |") == path  # what a run wrote itself, it may write again


@pytest.mark.parametrize("module", ["mixtures", "stacked_mnist"])
def test_an_estimate_refuses_a_file_of_someone_else_before_any_work(module, tmp_path, capsys):
    existing = tmp_path / "notes-estimate.md"
    existing.write_text("my own notes")
    target = tmp_path / ("notes" if module == "mixtures" else "notes.md")  # mixtures takes a prefix
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(module).main(["--estimate", "1", "--out", str(target)])
    assert stop.value.code == 2 and existing.read_text() == "my own notes"
    assert "was not written by a benchmark" in capsys.readouterr().err
