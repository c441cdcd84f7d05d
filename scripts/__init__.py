"""The project's scripts; a package so that `python -m scripts.bench` (make bench) can run the bench."""
