"""Reports from a results.json: figures, markdown and a self-contained HTML page."""

from __future__ import annotations

import json

import pytest

from backtrack.report import published_points, warnings_for, wilson_interval, winners_by_compute, write_report


def results(name: str = "demo") -> dict:
    def point(budget, samples, flops, acc):
        solved = round(acc * 200)
        return dict(
            budget=budget, samples=samples, tokens=100.0, flops=flops, accuracy=acc, solved=solved, n=200
        )

    return {
        "name": name,
        "recipe": {"name": name, "description": "a demo"},
        "environment": {"python": "3.11"},
        "models": {
            "dfs": {
                "size": "17M",
                "format": "dfs",
                "params": 17_923_072,
                "curves": [
                    {
                        "strategy": "sequential",
                        "select": None,
                        "points": [point(256, 1, 4.7e9, 0.1), point(4096, 1, 1.07e11, 0.4)],
                    },
                ],
                "trace_stats": {"mean_backtracks": 12.5, "solved_share": 0.4},
            },
            "direct": {
                "size": "17M",
                "format": "direct",
                "curves": [
                    {
                        "strategy": "parallel",
                        "select": "oracle",
                        "points": [point(None, 1, 3.8e9, 0.17), point(None, 16, 6.1e10, 0.61)],
                    },
                ],
                "pass_at_k": {"k": [1, 2, 4, 8, 16], "value": [0.17, 0.25, 0.37, 0.5, 0.61]},
            },
        },
    }


def test_report_writes_figures_markdown_and_self_contained_html(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(results()))
    page = write_report(tmp_path)
    assert page == tmp_path / "report.html"
    for figure in ("accuracy_vs_flops.png", "pass_at_k.png"):
        data = (tmp_path / "figures" / figure).read_bytes()
        assert data.startswith(b"\x89PNG")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 2  # embedded, no external files needed
    markdown = (tmp_path / "report.md").read_text()
    assert "dfs: sequential" in markdown and "direct: parallel (best-of-n, oracle)" in markdown
    assert "40.0% (80/200; 95% CI 33.5%–46.9%)" in markdown
    assert "mean_backtracks" in markdown and "| python | 3.11 |" in markdown


def test_report_html_is_rendered_not_preformatted(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(results()))
    text = write_report(tmp_path).read_text()
    assert "<table>" in text and "<h2>" in text and "<pre>" not in text.split("<details>")[0]
    assert "| model |" not in text and "\n## " not in text  # no raw markdown left


@pytest.mark.parametrize(("solved", "n", "low", "high"), [(80, 200, 0.3346, 0.4692), (0, 10, 0.0, 0.2775)])
def test_wilson_interval_matches_hand_computed_values(solved, n, low, high):
    got = wilson_interval(solved, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_the_winner_table_names_the_best_curve_at_each_compute_level():
    rows = winners_by_compute(results())
    assert rows[0]["winner"].startswith("direct") and rows[0]["flops"] >= 3.8e9
    assert rows[-1]["winner"].startswith("direct")  # 61% at 6.1e10 beats 40% at 1.07e11
    assert all("runner_up" in row for row in rows if row["flops"] >= 4.7e9)


def test_warnings_name_an_unchanged_grpo_model_a_worse_one_and_truncation():
    data = results()
    direct = data["models"]["direct"]
    data["models"]["direct-grpo"] = {
        **direct,
        "base": "direct",
        "curves": [
            {
                **direct["curves"][0],
                "points": [{**p, "accuracy": 0.0, "solved": 0} for p in direct["curves"][0]["points"]],
            }
        ],
        "rl": {"rewards": [[1, 0.0], [2, 0.0]], "weight_change": 0.0},
    }
    data["models"]["dfs"]["training"] = {"examples": 100, "truncated": 32}
    text = " ".join(warnings_for(data))
    assert "direct-grpo is direct unchanged" in text and "every GRPO reward was 0" in text
    assert "direct-grpo got worse after GRPO" in text and "61.0% → 0.0%" in text
    assert "32 of 100 training examples" in text
    assert "oracle selection" in text


def test_a_results_file_from_eval_gets_its_own_report_beside_it(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(results()))
    page = write_report(path)
    assert page == tmp_path / "mine.html"
    assert (tmp_path / "mine-figures" / "accuracy_vs_flops.png").is_file()


def test_report_needs_results(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no results\.json"):
        write_report(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"models": []}))
    with pytest.raises(ValueError, match="'models' must map"):
        write_report(tmp_path)


def test_published_points_use_the_reference_numbers_and_formula():
    from backtrack.budget import inference_flops

    points = published_points("17M", "dfs")
    assert points is not None and len(points) == 5
    assert points[-1] == (inference_flops("17M", 4096), 0.415)
    direct = published_points("17M", "direct")
    assert direct[0][1] == 0.17 and direct[-1][1] == 0.61
    assert published_points("tiny", "dfs") is None


def test_paper_runs_overlay_the_published_points(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(results("paper-countdown")))
    write_report(tmp_path)
    assert (tmp_path / "figures" / "accuracy_vs_flops.png").stat().st_size > 0
