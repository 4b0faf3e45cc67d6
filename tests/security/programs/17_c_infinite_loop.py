"""Attacks: an infinite loop in machine code (`jmp $` in an executable mmap called through
ctypes): it holds the GIL and never returns to the interpreter, so no Python-level signal
handler or timer can interrupt it.

Expected containment: the deadline is enforced from outside (the zygote kills the namespace):
status "timeout".
"""
import ctypes
import mmap

m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(b"\xeb\xfe")  # jmp $
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
print("entering C loop", flush=True)
ctypes.CFUNCTYPE(None)(addr)()
