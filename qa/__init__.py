"""Offline question answering over a folder of documents."""
