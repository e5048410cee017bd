# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile's runtime stage, carried out without a Docker engine (none runs where CI
does): in a copy of a Debian 12 minbase root filesystem (debootstrap, made by
`scripts/setup.sh --test-peers`), each RUN of the stage runs in a chroot (the apt-get install
reaches Debian's package mirror, as `docker build` would), each COPY is a copy, and the
builder's output is made by running the builder stage's last RUN on this build tree. A
"container" is then the image's ENTRYPOINT + CMD as PID 1 of new PID, mount and network
namespaces, as the image's USER, with its ENV and WORKDIR only, optionally with the root file
system read-only and volumes mounted, as the kubelet does for the manifests of deploy/k8s.

Needs root (chroot, mount, namespaces), as CI and scripts/setup.sh run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy_util import REPO, exec_form, parse_dockerfile

PRISTINE = REPO / ".deps" / "debian-12-minbase"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Image:
    rootfs: Path
    env: dict[str, str] = field(default_factory=dict)
    user: str = "0"
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{shlex.join(str(c) for c in command)} exited {result.returncode}\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def build_runtime_stage(workdir: Path) -> Image:
    """The runtime stage of the Dockerfile in `workdir`/rootfs; the builder's output in
    `workdir`/out."""
    dockerfile = parse_dockerfile()
    out = workdir / "out"
    rootfs = workdir / "rootfs"
    # The builder's last RUN: strip the program, copy the Arrow libraries it links.
    last = dockerfile.stage("builder").all("RUN")[-1].args
    assert "/out" in last, last
    _run(["sh", "-c", last.replace("/out", str(out))], cwd=REPO)
    _run(["cp", "-a", PRISTINE, rootfs])
    shutil.copy("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")

    image = Image(rootfs=rootfs)
    for instruction in dockerfile.stage("runtime").instructions:
        keyword, args = instruction.keyword, dockerfile.resolve(instruction.args)
        if keyword == "RUN":
            # /dev and /proc as a container has them; the mounts end with the namespace.
            script = (f"mount --bind /dev {rootfs}/dev && mount -t proc proc {rootfs}/proc && "
                      f"exec chroot {rootfs} /bin/sh -c {shlex.quote(args)}")
            result = _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          env={"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"}, timeout=900)
            image.log.append(f"RUN {args}\n{result.stdout}{result.stderr}")
        elif keyword == "COPY":
            words = args.split()
            if words[0].startswith("--from="):
                source, destination = words[1].replace("/out", str(out), 1), words[2]
            else:
                source, destination = str(REPO / words[0]), words[1]
            target = Path(str(rootfs) + destination)
            if source.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                _run(["cp", "-a", source + ".", target])
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                _run(["cp", "-a", source, target])
        elif keyword == "ENV":
            for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', args):
                image.env[name] = value.strip('"')
        elif keyword == "WORKDIR":
            image.workdir = args
        elif keyword == "USER":
            image.user = args
        elif keyword == "ENTRYPOINT":
            image.entrypoint = exec_form(args)
        elif keyword == "CMD":
            image.cmd = exec_form(args)
        elif keyword == "HEALTHCHECK":
            image.healthcheck = exec_form(args.split("CMD", 1)[1])
        elif keyword in ("EXPOSE", "VOLUME", "STOPSIGNAL", "ARG", "LABEL"):
            pass  # metadata; checked statically in test_dockerfile.py
        else:
            raise AssertionError(f"Dockerfile:{instruction.line}: {keyword} not emulated")
    return image


class Container:
    """`docker run IMAGE ARGS...` (or a pod's container), as PID 1 of new namespaces.

    `volumes` maps a path in the container to a host directory (bind-mounted, read-only when
    the path is in `read_only_volumes`); `read_only_root` mounts the rest read-only with a
    tmpfs on /tmp, as readOnlyRootFilesystem with an emptyDir does.
    """

    def __init__(self, image: Image, args: list[str] | None = None, env: dict | None = None,
                 volumes: dict[str, Path] | None = None, read_only_volumes: tuple = (),
                 read_only_root: bool = False, netns_of: "Container | None" = None):
        self.image = image
        root = image.rootfs
        # /dev from the host, a /proc of the container's PID namespace, as a runtime gives.
        mounts = [f"mount --bind {root} {root}", f"mount --bind /dev {root}/dev",
                  f"mount -t proc proc {root}/proc"]
        for path, source in (volumes or {}).items():
            mounts.append(f"mount --bind {shlex.quote(str(source))} {root}{path}")
            if path in read_only_volumes:
                mounts.append(f"mount -o remount,bind,ro {root}{path}")
        if read_only_root:
            mounts.append(f"mount -t tmpfs -o size=64m tmpfs {root}/tmp")
            mounts.append(f"mount -o remount,bind,ro {root}")
        environment = {"PATH": PATH, **image.env, **(env or {})}
        argv = image.entrypoint + (args if args is not None else image.cmd)
        inner = (f"cd {shlex.quote(image.workdir)} && exec " + shlex.join(argv))
        script = " && ".join(mounts + [
            f"exec chroot --userspec={image.user} {root} /usr/bin/env -i "
            + " ".join(shlex.quote(f"{k}={v}") for k, v in environment.items())
            + f" /bin/sh -c {shlex.quote(inner)}"])
        if netns_of is None:
            script = "ip link set lo up && " + script
            namespaces = ["unshare", "--mount", "--propagation", "private", "--pid", "--net",
                          "--fork"]
        else:  # another pod's network namespace (localhost between two containers)
            namespaces = ["nsenter", f"--net=/proc/{netns_of.pid}/ns/net", "unshare", "--mount",
                          "--propagation", "private", "--pid", "--fork"]
        self.process = subprocess.Popen(namespaces + ["sh", "-c", script], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        env={"PATH": PATH})
        self.lines: list[str] = []
        self.pid = self._pid1()

    def _pid1(self) -> int:
        """The host's pid of the container's PID 1 (the process `unshare --fork` started)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = subprocess.run(["pgrep", "-P", str(self.process.pid)],
                                      capture_output=True, text=True).stdout.split()
            if children:
                return int(children[0])
            assert self.process.poll() is None, self.process.stdout.read()
            time.sleep(0.02)
        raise AssertionError("the container's PID 1 did not start")

    def wait_for_line(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.lines)}")

    def exec(self, argv: list[str], user: str | None = None, env: dict | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
        """`docker exec`: a command in the container's network namespace and root file
        system, as its user, with the image's environment."""
        environment = {"PATH": PATH, **self.image.env, **(env or {})}
        command = ["nsenter", f"--net=/proc/{self.pid}/ns/net", f"--mount=/proc/{self.pid}/ns/mnt",
                   "chroot", f"--userspec={user or self.image.user}", str(self.image.rootfs),
                   "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in environment.items()], *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def host(self, argv: list, timeout: float = 60) -> subprocess.CompletedProcess:
        """A program of the host in the container's network namespace (a client on its
        localhost)."""
        return subprocess.run(["nsenter", f"--net=/proc/{self.pid}/ns/net", *map(str, argv)],
                              capture_output=True, text=True, timeout=timeout)

    def stop(self, timeout: float = 60) -> int:
        """`docker stop`: SIGTERM to PID 1, the exit code, the rest of the output read."""
        os.kill(self.pid, signal.SIGTERM)
        rest, _ = self.process.communicate(timeout=timeout)
        self.lines.append(rest)
        return self.process.returncode

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self):
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def describe(image: Image) -> str:
    return json.dumps({"env": image.env, "user": image.user, "workdir": image.workdir,
                       "entrypoint": image.entrypoint, "cmd": image.cmd,
                       "healthcheck": image.healthcheck}, indent=1)
