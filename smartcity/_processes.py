"""Small process and port helpers shared by the local stack's services."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import signal
import socket
import stat
import time
from pathlib import Path

from smartcity.errors import BinaryMissingError, PortInUseError


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(service: str, host: str, port: int, variable: str) -> None:
    """Raise :class:`PortInUseError` naming the service, the port and the setting to change."""
    if not port_is_free(host, port):
        raise PortInUseError(
            f"{service}: port {host}:{port} is taken by another process; set {variable} to a free port"
        )


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """Poll until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def find_binary(name: str, *candidates: Path, package: str) -> Path:
    """The first existing executable among ``candidates`` or on PATH.

    Raises:
        BinaryMissingError: naming the Debian package that provides it.
    """
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise BinaryMissingError(f"{name} not found: install the Debian package {package} (run scripts/setup)")


def read_pid(pid_file: Path, expect: str = "") -> int | None:
    """The pid in ``pid_file`` when that process is alive (and its command line holds ``expect``), else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if expect:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        if expect not in cmdline:
            return None  # the pid was reused by a process we did not start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM ``pid``, then SIGKILL if it is still alive after ``timeout_s``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def service_user(name: str) -> pwd.struct_passwd | None:
    """The unprivileged account a server runs as when we are root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise BinaryMissingError(
            f"running as root, but the system user '{name}' that should run the server does not exist"
        ) from None


def reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """True when ``user`` can traverse every folder from / down to ``path``."""
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    current = path if path.is_dir() else path.parent
    for folder in [current, *current.parents]:
        st = folder.stat()
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


# Unix socket paths are limited to 107 bytes; leave room for "/.s.PGSQL.NNNNN".
_SOCKET_PATH_ROOM = 90


def service_dir(home: Path, name: str, user: pwd.struct_passwd | None) -> Path:
    """The folder a server keeps its files in: ``home/name``, or a link from there.

    A server run as an unprivileged ``user`` (we are root) cannot use a project folder
    it cannot reach (a clone inside a private folder), and a socket path must stay
    short; in either case the files go under /var/tmp/smartcity (root) or
    /tmp/smartcity-<uid>, and ``home/name`` is a symbolic link to them.
    """
    home.mkdir(parents=True, exist_ok=True)
    link = home / name
    if link.is_symlink():
        target = link.resolve()
        target.mkdir(parents=True, exist_ok=True)
        return target
    if link.is_dir():
        return link
    fits = len(str(link)) < _SOCKET_PATH_ROOM
    if fits and (user is None or reachable_by(home, user)):
        link.mkdir()
        return link
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    base = Path("/var/tmp/smartcity") if os.geteuid() == 0 else Path(f"/tmp/smartcity-{os.getuid()}")
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755 if os.geteuid() == 0 else 0o700)
    target = base / digest / name
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755 if os.geteuid() == 0 else 0o700)
    link.symlink_to(target, target_is_directory=True)
    return target


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    """Give ``path`` and everything below it to ``user`` (no-op when None)."""
    if user is None:
        return
    for current, dirs, files in os.walk(path):
        os.chown(current, user.pw_uid, user.pw_gid)
        for entry in dirs + files:
            os.chown(os.path.join(current, entry), user.pw_uid, user.pw_gid, follow_symlinks=False)


def tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file, or a note that it is missing."""
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
