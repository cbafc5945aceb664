"""MNIST: building the data file (``hng data fetch``), finding it, and loading it once per process."""
