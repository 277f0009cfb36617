"""The report's sections, in the order they appear: one explicit list, read by
:func:`recarena.analysis.report.write_report`.

A section that takes options names its key under the scenario's ``analysis:`` block
(:attr:`recarena.analysis.report.Section.options`); the key's typed model lives in
:class:`recarena.analysis.options.AnalysisOptions`, which the scenario schema composes, so
every option a section reads is validated before anything runs. A test checks that every
options key has exactly one section and every section's key a model.
"""

from __future__ import annotations

from recarena.analysis.report import CORE_SECTIONS, PROVENANCE, Section
from recarena.analysis.sections import experiments, ope, personalization, recsys

__all__ = ["SECTIONS", "by_options"]

#: Every report section, in report order.
SECTIONS: tuple[Section, ...] = (
    *CORE_SECTIONS,
    experiments.SECTION,
    ope.SECTION,
    *personalization.SECTIONS,
    recsys.SECTION,
    PROVENANCE,
)


def by_options() -> dict[str, Section]:
    """The sections that take options, by their ``analysis:`` key."""
    return {s.options: s for s in SECTIONS if s.options is not None}
