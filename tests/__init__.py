"""tongban test suite."""
