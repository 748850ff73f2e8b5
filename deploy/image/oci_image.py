#!/usr/bin/env python3
"""Writes a root filesystem as an OCI image: an image layout directory (oci-layout,
index.json, blobs/sha256/...) and the same as an oci-archive tarball, which `podman load`,
`skopeo copy oci-archive:...` and `docker load` (via skopeo) take. One layer, a gzipped tar of
the root with owners and modes as they are in it, sorted, with fixed times, so that the same
root gives the same digests. Standard library only.

Usage: oci_image.py ROOTFS OUT_DIR NAME:TAG --user UID:GID --entrypoint PATH [--cmd ARG]...
       [--port N] [--label K=V]...
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile

EPOCH = 0  # every file's mtime in the layer: reproducible digests


def layer_of(root: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for here, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(dirs + files):
                paths.append(os.path.join(here, name))
        for path in sorted(paths, key=lambda p: os.path.relpath(p, root)):
            info = tar.gettarinfo(path, arcname=os.path.relpath(path, root))
            info.mtime = EPOCH
            info.uname = info.gname = ""
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=EPOCH) as gz:
        gz.write(raw.getvalue())
    return raw.getvalue(), out.getvalue()


def put_blob(blobs: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rootfs")
    p.add_argument("out")
    p.add_argument("reference")
    p.add_argument("--user", required=True)
    p.add_argument("--entrypoint", required=True)
    p.add_argument("--cmd", action="append", default=[])
    p.add_argument("--port", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    a = p.parse_args()

    layout = os.path.join(a.out, "oci")
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    tar_bytes, gz_bytes = layer_of(a.rootfs)
    layer_digest = put_blob(blobs, gz_bytes)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    config = {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                 os.uname().machine),
        "os": "linux",
        "config": {
            "User": a.user,
            "Entrypoint": [a.entrypoint],
            "Cmd": a.cmd,
            "Env": ["PATH=/usr/bin:/bin"],
            "WorkingDir": "/",
            "ExposedPorts": {f"{port}/tcp": {} for port in a.port},
            "Labels": dict(label.split("=", 1) for label in a.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "deploy/image/build.sh", "comment": "Debian 12 packages"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = put_blob(blobs, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(gz_bytes)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = put_blob(blobs, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest_bytes),
                       "annotations": {"org.opencontainers.image.ref.name": a.reference}}],
    }
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    archive = os.path.join(a.out, a.reference.replace("/", "_").replace(":", "_") + ".oci.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    print(archive)


if __name__ == "__main__":
    main()
