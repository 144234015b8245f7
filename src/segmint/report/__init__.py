"""The self-contained HTML report and terminal printing of scorecards and profiles."""

from segmint.report.html import render_report
from segmint.report.printing import print_personas, print_profile, print_scorecard

__all__ = ["print_personas", "print_profile", "print_scorecard", "render_report"]
