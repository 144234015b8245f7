"""Tests of segmint.server: a package, so its conftest and module names cannot clash with other folders."""
