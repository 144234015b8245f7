"""Tests of segmint.clv: a package, so its conftest and test module names cannot clash with other folders."""
