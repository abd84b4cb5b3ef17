// Filled in by issue 16.
