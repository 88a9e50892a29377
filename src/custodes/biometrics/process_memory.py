"""How the face engine's process asks the C allocator to hand large blocks back.

glibc's malloc serves a block of 128 KiB or more with its own mmap and returns it on free, but
after the first such free it raises that bar (up to 32 MiB) to the size just freed. From then on
onnxruntime's and OpenCV's per-face buffers (hundreds of KiB to several MiB each) come from the
heap, and the heap keeps what they free, scattered: measured on 2026-12-02, a process that enrolled
three people grew from 212 to 277 MB peak, 236 MB with the bar held at 128 KiB. The bar is held
at 1 MiB: a 640x480 frame (0.9 MiB) stays on the heap, where its memory is reused, while the
models' larger buffers are mapped and unmapped; at 128 KiB the extra page faults cost ~10 ms of
CPU per check-in, at 1 MiB ~5-10 ms for the same peak within ~4 MB (noisy: 2 shared cores).
Holding the bar changes where memory comes from, never a result. A no-op where the C library is
not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 1024 * 1024

_done = False
_lock = threading.Lock()


def hold_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold for this process (once); False if not glibc."""
    global _done
    with _lock:
        if _done:
            return True
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name)
            mallopt = libc.mallopt
        except (OSError, AttributeError, TypeError):
            return False
        mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        _done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        return _done
