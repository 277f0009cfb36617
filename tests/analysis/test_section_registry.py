"""The report's section registry and the typed ``analysis:`` options agree."""

from __future__ import annotations

from recarena.analysis.options import AnalysisOptions, SectionOptions
from recarena.analysis.registry import SECTIONS, by_options


def test_every_options_key_has_exactly_one_section() -> None:
    keys = [s.options for s in SECTIONS if s.options is not None]
    assert len(keys) == len(set(keys))
    section_fields = {
        name for name, field in AnalysisOptions.model_fields.items() if name != "baseline_arm"
    }
    assert set(by_options()) == section_fields
    for name in section_fields:
        annotation = AnalysisOptions.model_fields[name].annotation
        assert any(
            isinstance(arg, type) and issubclass(arg, SectionOptions)
            for arg in getattr(annotation, "__args__", ())
        ), name


def test_sections_are_in_report_order_and_unique() -> None:
    titles = [s.title for s in SECTIONS]
    assert len(titles) == len(set(titles))
    assert titles[0] == "Overview" and titles[-1] == "Configuration and provenance"
