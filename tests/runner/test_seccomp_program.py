"""The seccomp program, run through a small classic-BPF interpreter: what each syscall gets."""

from __future__ import annotations

import struct

import pytest

from rara.runner.jail import landlock, seccomp

PID = 4242
ALLOW, KILL = seccomp.RET_ALLOW, seccomp.RET_KILL_PROCESS
EPERM, ENOSYS = seccomp.RET_ERRNO | 1, seccomp.RET_ERRNO | 38
ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate the filter on one `struct seccomp_data` (the subset of BPF the filter uses)."""
    full = (*args, *([0] * (6 - len(args))))
    data = struct.pack("<iIQ6Q", nr, arch, 0, *full)
    ins = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    for _ in range(len(ins) + 1):  # no loops in classic BPF: each step moves forward
        code, jt, jf, k = ins[pc]
        if code == 0x20:
            (acc,) = struct.unpack_from("<I", data, k)
            pc += 1
        elif code in (0x15, 0x35, 0x45):
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("fell off the program")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_actions(machine: str) -> None:
    prog = seccomp.build_filter(machine, pid=PID)
    t = seccomp.TABLES[machine]
    arch = ARCH[machine]
    for name in seccomp.ERRNO_SYSCALLS:
        if name in t:
            assert run_bpf(prog, t[name], arch) == EPERM, name
    for name in seccomp.KILL_SYSCALLS:
        if name in t:
            assert run_bpf(prog, t[name], arch) == KILL, name
    assert run_bpf(prog, t["clone3"], arch) == ENOSYS
    assert run_bpf(prog, t["clone"], arch, (0x00010000 | 0x100,)) == ALLOW  # a thread
    assert run_bpf(prog, t["clone"], arch, (17,)) == EPERM  # fork(): SIGCHLD only
    assert run_bpf(prog, t["kill"], arch, (PID, 9)) == ALLOW
    assert run_bpf(prog, t["kill"], arch, (0, 9)) == ALLOW  # its own process group
    assert run_bpf(prog, t["kill"], arch, (1, 9)) == EPERM
    assert run_bpf(prog, t["kill"], arch, (0xFFFFFFFF, 9)) == EPERM  # kill(-1): everyone
    assert run_bpf(prog, t["tgkill"], arch, (PID, PID, 6)) == ALLOW  # abort()
    assert run_bpf(prog, t["tgkill"], arch, (PID + 1, PID + 1, 6)) == EPERM
    for harmless in (0, 1, 3, 9, 60, 63):  # read/write/close/... on either table
        if harmless not in set(t.values()):
            assert run_bpf(prog, harmless, arch) == ALLOW, harmless
    other = ARCH["aarch64" if machine == "x86_64" else "x86_64"]
    assert run_bpf(prog, 0, other) == KILL  # a foreign syscall table is never trusted
    assert run_bpf(prog, 0x40000000 | 59, 0x40000003) == KILL  # i386 arch


def test_x32_abi_is_killed() -> None:
    prog = seccomp.build_filter("x86_64", pid=PID)
    assert run_bpf(prog, 0x40000000 | 1, ARCH["x86_64"]) == KILL


def test_pid_is_patched_per_child() -> None:
    a = seccomp.build_filter("x86_64", pid=1)
    b = seccomp.build_filter("x86_64", pid=2)
    assert len(a) == len(b) and a != b
    assert run_bpf(a, 62, ARCH["x86_64"], (1,)) == ALLOW
    assert run_bpf(b, 62, ARCH["x86_64"], (1,)) == EPERM


def test_unknown_machine_is_refused() -> None:
    with pytest.raises(OSError):
        seccomp.build_filter("riscv64")


def test_landlock_handles_every_right_of_each_abi() -> None:
    assert landlock.handled_fs(1) == (1 << 13) - 1
    assert landlock.handled_fs(3) == (1 << 15) - 1
    assert landlock.handled_fs(7) == (1 << 16) - 1
