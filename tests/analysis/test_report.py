"""End to end: a tiny results directory (2 seeds × random/oracle), metrics, plots, report."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml

from recarena.analysis.business import CAMPAIGN_METRICS, METRIC_BOUNDS, Metric
from recarena.analysis.registry import SECTIONS
from recarena.analysis.report import (
    ReportContext,
    ReportSection,
    Section,
    SectionOutput,
    build_context,
    format_value,
    print_summary,
    write_report,
)
from recarena.analysis.results import ResultsError, RunDirectory
from recarena.analysis.stats import ARM, CI_HIGH, CI_LOW, MEAN, METRIC, N_SEEDS, SEED
from recarena.policies.registry import make
from recarena.simulator.log import Table
from recarena.simulator.params import (
    BehaviourParams,
    CatalogueParams,
    OfferParams,
    PopulationParams,
    ScheduleParams,
    WorldParams,
)
from recarena.simulator.simulation import simulate
from tests.simulator.helpers import DENSE_BEHAVIOUR, DENSE_POPULATION

SEEDS = (1, 2)
ARMS = ("random", "oracle")


def _make_results(out: Path) -> Path:
    """The runner's layout, written by hand around :func:`simulate`."""
    world = WorldParams(
        population=PopulationParams(n_users=300, arrivals_per_day=10, **DENSE_POPULATION),
        catalogue=CatalogueParams(n_items=50),
        behaviour=BehaviourParams(**DENSE_BEHAVIOUR),
        offers=[OfferParams(name="voucher"), OfferParams(name="bundle", value=50.0)],
    )
    schedule = ScheduleParams(days=5.0, slate_size=5, decision_window=0.1, campaign_days=[2.0])
    records = []
    for seed in SEEDS:
        for arm in ARMS:
            run_dir = out / "runs" / f"seed={seed}" / f"arm={arm}"
            result = simulate(world, schedule, seed, make({"kind": arm}), make({"kind": arm}),
                              log_path=run_dir, policy_stream=arm)  # fmt: skip
            record = {"seed": seed, "arm": arm, "horizon_days": schedule.days,
                      "seconds": result.stats.seconds,
                      "stats": {"decisions": result.stats.decisions,
                                "seconds": result.stats.seconds}}  # fmt: skip
            (run_dir / "run.json").write_text(json.dumps(record))
            records.append(record)
    scenario = {
        "name": "tiny",
        "description": "Two arms on a tiny world <for tests>.",
        "seeds": list(SEEDS),
        "world": world.model_dump(mode="json"),
        "schedule": schedule.model_dump(mode="json"),
        "arms": [{"name": a, "policy": {"kind": a}, "campaign_policy": {"kind": a}} for a in ARMS],
    }
    (out / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    manifest = {"scenario": "tiny", "seeds": list(SEEDS), "arms": list(ARMS),
                "versions": {"python": "3.11", "recarena": "0.1.0"}, "git": "abc123",
                "runs": records}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest))
    # A half-written run of the runner (no run.json) must be ignored.
    (out / "runs" / ".tmp-seed=3-arm=random-1").mkdir()
    (out / "runs" / "seed=3" / "arm=random").mkdir(parents=True)
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def report(results: Path) -> Path:
    return write_report(results)


def test_run_directory_lists_finished_runs_lazily(results: Path) -> None:
    rd = RunDirectory(results)
    assert [(r.seed, r.arm) for r in rd.runs()] == [(1, "random"), (2, "random"),
                                                    (1, "oracle"), (2, "oracle")]  # fmt: skip
    assert list(rd.iter_runs()) == rd.runs()
    assert rd.arms == list(ARMS) and rd.seeds == list(SEEDS)
    assert rd.name == "tiny" and rd.scenario["schedule"]["days"] == 5.0
    assert rd.manifest["git"] == "abc123"
    run = rd.run(2, "oracle")
    assert Table.CAMPAIGNS in run.tables and "nonsense" not in run.tables
    assert run.tables.loaded() == []  # membership does not read anything
    assert len(run.table(Table.DECISIONS)) == run.info["stats"]["decisions"]
    assert run.tables.loaded() == [Table.DECISIONS]
    assert set(run.tables) == {Table.DECISIONS, Table.CONVERSIONS, Table.CAMPAIGNS,
                               Table.LIFECYCLE, Table.SNAPSHOTS, Table.FITS}  # fmt: skip
    assert rd.horizon(run) == 5.0
    with pytest.raises(KeyError, match="seed=9"):
        rd.run(9, "oracle")
    with pytest.raises(ResultsError, match="runs/"):
        RunDirectory(results / "runs")


def test_write_report_files(results: Path, report: Path) -> None:
    assert report == results / "report.html"
    for name in ("per_run.csv", "per_run.json", "summary.csv", "summary.json", "daily.csv",
                 "curves.csv", "retention.csv", "timings.csv"):  # fmt: skip
        assert (results / "metrics" / name).stat().st_size > 0, name
    pngs = sorted((results / "plots").glob("*.png"))
    names = {p.stem for p in pngs}
    assert {"cumulative_reward", "cumulative_regret", "cumulative_regret_logt", "retention",
            "key_metrics", "business_metrics", "campaign_metrics"} <= names  # fmt: skip
    per_run = pd.read_csv(results / "metrics" / "per_run.csv")
    assert len(per_run) == 4 and list(per_run.columns[:2]) == [SEED, ARM]
    as_json = json.loads((results / "metrics" / "per_run.json").read_text())
    assert len(as_json) == 4 and as_json[0][Metric.DECISIONS] == per_run[Metric.DECISIONS][0]
    daily = pd.read_csv(results / "metrics" / "daily.csv")
    assert len(daily) == 4 * 5


def test_html_is_self_contained_with_every_plot_inline(results: Path, report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    pngs = sorted((results / "plots").glob("*.png"))
    assert page.count("data:image/png;base64,") == len(pngs)
    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode("ascii") in page, png.name
    assert "<style>" in page and "<link" not in page and "<script" not in page
    assert "<pre>" in page and "campaign_policy" in page  # the scenario YAML
    assert "&lt;for tests&gt;" in page  # text is escaped
    assert "abc123" in page  # manifest versions / git
    assert "Campaigns" in page and "Retention" in page


def test_oracle_has_no_regret_and_random_does(results: Path, report: Path) -> None:
    per_run = pd.read_csv(results / "metrics" / "per_run.csv")
    oracle = per_run[per_run[ARM] == "oracle"]
    rand = per_run[per_run[ARM] == "random"]
    assert np.abs(oracle[Metric.REGRET_PER_DECISION]).max() < 1e-6
    assert (rand[Metric.REGRET_PER_DECISION] > 0.01).all()
    assert (oracle[Metric.CTR].mean()) > rand[Metric.CTR].mean()


def test_summary_intervals_bracket_means(results: Path, report: Path) -> None:
    summary = pd.read_csv(results / "metrics" / "summary.csv")
    assert list(summary.columns) == [ARM, METRIC, MEAN, CI_LOW, CI_HIGH, N_SEEDS, "interval"]
    assert list(dict.fromkeys(summary[ARM])) == list(ARMS)
    # each metric's interval stays in its range (two seeds: a t-interval would not)
    by_metric = summary.set_index(METRIC)
    assert set(by_metric.loc["ctr", "interval"]) == {"wilson_kg"}
    assert set(by_metric.loc["value_clicks", "interval"]) == {"log_t"}
    for metric, (low, high) in METRIC_BOUNDS.items():
        if metric in by_metric.index:
            rows = by_metric.loc[[metric]].dropna(subset=[CI_LOW])
            assert (rows[CI_LOW] >= low).all() and (rows[CI_HIGH] <= high).all(), metric
    defined = summary.dropna(subset=[CI_LOW, CI_HIGH])
    assert len(defined) > 0.9 * len(summary)
    assert (defined[CI_LOW] <= defined[MEAN] + 1e-12).all()
    assert (defined[MEAN] <= defined[CI_HIGH] + 1e-12).all()
    assert (summary[N_SEEDS] == 2).all()
    text = print_summary(summary)
    lines = text.splitlines()
    assert lines[0].startswith(ARM) and "ctr" in lines[0]
    assert lines[2].startswith("random") and lines[3].startswith("oracle") and "±" in lines[2]


def test_plots_leave_pyplot_alone(results: Path, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    write_report(results, sections=[s for s in SECTIONS if s.title == "Retention"])
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend


def test_custom_sections_skipping_and_name_clashes(results: Path) -> None:
    from recarena.analysis import plots

    def extra(ctx: ReportContext) -> SectionOutput:
        fig = plots.new_figure()
        fig.add_subplot().plot([0, 1], [0, 1])
        return SectionOutput(
            html="<p>extra body</p>",
            tables={"extra_table": ctx.per_run},
            figures={"extra_fig": fig},
            captions={"extra_fig": "a line"},
        )

    def absent(ctx: ReportContext) -> SectionOutput | None:
        return None

    sections = [Section("Extra analysis", extra), Section("Not applicable", absent)]
    assert all(isinstance(s, ReportSection) for s in sections)
    page = write_report(results, sections=sections).read_text(encoding="utf-8")
    assert "extra body" in page and "Not applicable" not in page and "a line" in page
    assert (results / "metrics" / "extra_table.csv").exists()
    assert (results / "plots" / "extra_fig.png").exists()
    clash = Section("Clash", lambda ctx: SectionOutput(tables={"summary": ctx.summary}))
    with pytest.raises(ValueError, match="summary"):
        write_report(results, sections=[clash])


def test_campaign_section_skipped_without_campaigns(results: Path) -> None:
    ctx = build_context(results)
    campaigns = next(s for s in SECTIONS if s.title == "Campaigns")
    assert campaigns.build(ctx) is not None
    no_campaign = [c for c in ctx.per_run.columns if c not in CAMPAIGN_METRICS]
    ctx.per_run = ctx.per_run[no_campaign]
    assert campaigns.build(ctx) is None


def test_format_value() -> None:
    assert format_value(float("nan")) == "–" and format_value(None) == "–"
    assert format_value(0.123456) == "0.1235" and format_value(12345.6) == "12,346"
    assert format_value(150.0) == "150" and format_value(7) == "7"


def test_recsys_loops_plot_exposure_concentration(tmp_path: Path) -> None:
    """The feedback-loop plots tell a random arm from a focused one.

    Exposure concentration, not "catalogue shown so far": every arm with any exploration
    shows nearly the whole catalogue within a day.
    """
    from recarena.analysis.sections import recsys
    from recarena.experiment.evaluate import write_evaluations

    out = _make_results(tmp_path)
    scenario = yaml.safe_load((out / "scenario.yaml").read_text())
    scenario["analysis"] = {"recsys": {"offline": False}}
    (out / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    for info in out.glob("runs/*/*/run.json"):  # the runner records the catalogue size
        record = json.loads(info.read_text())
        info.write_text(json.dumps({**record, "n_items": 50}))
    write_evaluations(out)
    ctx = build_context(out)
    output = recsys.build(ctx)
    assert output is not None
    assert {"recsys_exposure_gini", "recsys_popularity_percentile", "recsys_overlap"} <= set(
        output.figures
    )
    _, daily = recsys.online_table(ctx)
    gini = daily.groupby(ARM)["exposure_gini"].mean()
    # Seeds 1–2, 50 items: random ≈ 0.10, the oracle (each user's own best slate) ≈ 0.67.
    assert gini["random"] < 0.2 < gini["oracle"], gini


def test_summary_text_leads_with_the_headlines(results: Path) -> None:
    from recarena.analysis.report import read_headlines, summary_text

    report = write_report(results)
    level, headlines = read_headlines(results)
    assert level == 0.95
    titles = [h.title for h in headlines]
    assert titles[0] == "Long-term value per starting user and counterfactual regret"
    assert titles[1].startswith("Key metrics per arm") and "pilot" in titles[1]
    assert titles[2].startswith("Difference from random, paired by seed")
    # a metric is not repeated: value in the first table, the rest in the second
    assert not set(headlines[0].metrics) & set(headlines[1].metrics)
    text = summary_text(results)
    assert text.splitlines()[0] == "tiny: Two arms on a tiny world <for tests>."
    assert "overrides" not in text
    # ± is explained before the first table that uses it
    legend = text.index("± half-width where it is symmetric, [low, high] where it is not")
    assert text.index("±") == legend and text.index("Key metrics per arm") > legend
    assert "95% confidence interval over seeds, inside the metric's range" in text
    page = report.read_text(encoding="utf-8")
    assert page.index("Key metrics per arm") < page.index('id="fig-key_metrics"')


def test_baseline_arm_picks_the_paired_reference(results: Path, tmp_path: Path) -> None:
    from recarena.analysis.report import read_headlines

    write_report(results, baseline="oracle")
    paired = pd.read_csv(results / "metrics" / "paired_differences.csv")
    assert set(paired[ARM]) == {"random"}
    assert read_headlines(results)[1][2].title.startswith("Difference from oracle")
    with pytest.raises(ValueError, match=r"'nope' is not an arm .*\['random', 'oracle'\]"):
        write_report(results, baseline="nope")
    write_report(results)  # back to the first arm for the other tests
    assert set(pd.read_csv(results / "metrics" / "paired_differences.csv")[ARM]) == {"oracle"}


def test_metrics_that_cannot_tell_arms_apart_are_hidden() -> None:
    from recarena.analysis.report import varies

    per_run = pd.DataFrame(
        {
            SEED: [1, 1, 2, 2],
            ARM: ["a", "b", "a", "b"],
            "zero": [0.0, 0.0, 0.0, 0.0],  # revenue on a banner surface
            "same": [3.0, 3.0, 5.0, 5.0],  # equal across arms on each seed
            "moves": [3.0, 3.5, 5.0, 5.0],
            "undefined": [np.nan] * 4,
        }
    )
    assert [m for m in ("zero", "same", "moves", "undefined") if varies(per_run, m)] == ["moves"]
    assert varies(per_run[per_run[ARM] == "a"], "same")  # one arm: not all zero is enough


def test_recorded_overrides_open_the_summary_and_the_report(results: Path, tmp_path: Path) -> None:
    import shutil

    from recarena.analysis.report import summary_text

    copy = shutil.copytree(results, tmp_path / "copy")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["overrides"] = ["schedule.days=5", "world.population.n_users=300"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    page = write_report(copy).read_text(encoding="utf-8")
    line = "overrides: schedule.days=5, world.population.n_users=300"
    assert summary_text(copy).splitlines()[2] == f"run with {line}"
    assert page.index(f"Run with {line}") < page.index("Two arms on a tiny world")
