"""Pictures: result grids, embedding plots and curves."""
