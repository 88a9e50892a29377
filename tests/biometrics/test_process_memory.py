"""The engine holds glibc's mmap threshold, so large freed buffers go back to the system."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from custodes.biometrics import process_memory


def test_the_engine_holds_the_mmap_threshold(engine):
    assert process_memory.hold_mmap_threshold() is True  # glibc here, already held by the engine
    assert process_memory._done


def test_a_large_freed_block_is_returned_to_the_system():
    """In a fresh process: in the suite's own, earlier tests' heap can already hold the block resident."""
    code = textwrap.dedent('''
        import ctypes, ctypes.util
        from custodes.biometrics import process_memory
        process_memory.hold_mmap_threshold()
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
        libc.free.argtypes = (ctypes.c_void_p,)
        def rss_kb():
            return int(next(x for x in open("/proc/self/status") if x.startswith("VmRSS:")).split()[1])
        # Free one mapped block, which without the held bar would raise it to 8 MiB; the next 8 MiB
        # block must still be mapped, so touching and freeing it leaves the resident set where it was.
        first = libc.malloc(8 << 20)
        libc.free(first)
        before = rss_kb()
        block = libc.malloc(8 << 20)
        ctypes.memset(block, 1, 8 << 20)
        touched = rss_kb()
        libc.free(block)
        print(touched - before, rss_kb() - before)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    grew, left = int(out[0]), int(out[1])
    assert grew > 7000
    assert left < 1000
