"""The model catalog, downloads and installs, and the machine's hardware."""
