"""Analyzers: one module per model family behind one small interface (base.Analyzer)."""
