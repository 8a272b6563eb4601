"""The published results (no login): the latest closed period of an agency, and its badge."""
