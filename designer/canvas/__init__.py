"""The canvas: scene, items and view."""
