#!/usr/bin/python3
# no-openat2.py CMD [ARGS...]: run CMD as on a kernel without openat2(2) - a
# seccomp filter makes the syscall fail with ENOSYS - so that etcdpilot takes
# its component-by-component fallback for every path under --root.  With no
# command it checks that the filter works: exit 0 when openat2 is ENOSYS.
import ctypes, errno, os, sys

SYS_OPENAT2 = 437  # the same number on every architecture (asm-generic)
libc = ctypes.CDLL(None, use_errno=True)


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
prog = (SockFilter * 4)(
    SockFilter(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    SockFilter(BPF_JEQ_K, 0, 1, SYS_OPENAT2),
    SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
)
fprog = SockFprog(len(prog), prog)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    sys.exit("no-openat2: seccomp: %s" % os.strerror(ctypes.get_errno()))

if len(sys.argv) < 2:
    r = libc.syscall(SYS_OPENAT2, -100, b"/", None, 0)
    sys.exit(0 if r < 0 and ctypes.get_errno() == errno.ENOSYS else 1)
os.execvp(sys.argv[1], sys.argv[1:])
