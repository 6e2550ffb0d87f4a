"""Pictures of arrays: image samples and feature maps, as small pixmaps."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def array_pixmap(sample, size: int = 48) -> QPixmap:
    """A small picture of one image sample (grey or RGB, any value range)."""
    a = np.asarray(sample, dtype=np.float64)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    lo, hi = a.min(), a.max()
    a = ((a - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    if a.ndim == 2:
        h, w = a.shape
        img = QImage(np.ascontiguousarray(a).data, w, h, w, QImage.Format_Grayscale8).copy()
    else:
        h, w, _ = a.shape
        img = QImage(np.ascontiguousarray(a[..., :3]).data, w, h, 3 * w,
                     QImage.Format_RGB888).copy()
    return QPixmap.fromImage(img).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)
