"""Editors' evaluation: gold queries against an index, metrics, reports and the regression gate."""
