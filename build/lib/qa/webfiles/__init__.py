"""Templates and static files, installed as the package `qa.webfiles` (see `qa.resources`)."""
