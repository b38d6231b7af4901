"""Pure IRT mathematics: numpy and scipy only (see ARCHITECTURE.md)."""
