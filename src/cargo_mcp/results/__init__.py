"""Fetching and parsing the files behind Cargo's signed download URLs."""
