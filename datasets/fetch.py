"""Downloads of the public datasets in `readers.SOURCES`: resumable, checked, atomic.

A download goes to `NAME.part` and is renamed to its final name only once complete and, where the
SHA-256 is known, verified; an interrupted download resumes from the size of its `.part` file (an
HTTP Range request). Where no SHA-256 is known, the one computed is printed and written beside the
file as `NAME.sha256` (the `sha256sum` format). The event file is then extracted from the archive.

Why not `keras.utils.get_file` (read in Keras 3.15, `keras/src/utils/file_utils.py`): it downloads with
`urllib.request.urlretrieve` straight to the final name and removes that file on any error or Ctrl-C,
so there is no partial download to resume and no HTTP Range request; on a checksum mismatch it raises
a plain `ValueError` and leaves the bad file in place (it is re-downloaded on the next call); it checks
one `file_hash` and computes none when there is none to check, so the SHA-256 of a source without a
published checksum is not printed or written; `extract=True` unpacks the whole tar/zip archive into a
directory (not one member to a file, no 7z); and it prints "Downloading data from ..." and its progress
bar on stdout, where `zoo datasets fetch` prints only the path. So this module keeps its own download,
checks and extraction.
"""
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from zoo.atomic import atomic_path
from zoo.errors import DataError, UserError

from .readers import SOURCES

CHUNK = 1 << 16


def fetch(name, directory, progress=None):
    """Downloads dataset `name` into `directory` (unless already there) and extracts its event file.

    Args:
        name: a key of `readers.SOURCES`.
        directory: where the download and the event file go (created if needed).
        progress: a text stream (e.g. `sys.stderr`) for progress lines, or None for silence.

    Returns:
        The path of the event file, to read with `SOURCES[name].reader`.

    Raises:
        UserError: unknown name, no direct download, network failure (rerun to resume), or an
            archive that needs the 7z program.
        DataError: the download does not match its checksum (it is then removed).
    """
    if name not in SOURCES:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(SOURCES)}")
    source = SOURCES[name]
    target = os.path.join(directory, source.filename)
    if source.url is None:
        raise UserError(f"{name} has no direct download: {source.manual}, into {target}")
    if os.path.exists(target):
        return target
    os.makedirs(directory, exist_ok=True)
    download_path = os.path.join(directory, os.path.basename(urllib.parse.urlparse(source.url).path))
    if not os.path.exists(download_path):
        digest = download(source.url, download_path, source.sha256, progress, md5=source.md5)
        if source.sha256 is None:
            _record_checksum(download_path, digest, progress)
    if source.member is not None:
        extract(download_path, source.member, target)
    return target


def download(url, path, sha256=None, progress=None, md5=None):
    """Downloads `url` to `path` through `path.part`, resuming a previous partial download.

    Args:
        url: the address (http, https or file).
        path: the final file, which appears only when complete and verified.
        sha256: the expected SHA-256 (hex), or None to skip the check.
        progress: a text stream for progress lines, or None.
        md5: the expected MD5 (hex), where the publisher lists one, or None.

    Returns:
        The SHA-256 (hex) of the downloaded file.

    Raises:
        UserError: the server cannot be reached or the transfer broke off (the `.part` file is kept:
            run again to resume).
        DataError: the checksum does not match (the `.part` file is removed).
    """
    part = path + ".part"
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
            _receive(response, part, offset, _Meter(os.path.basename(path), progress))
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise UserError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
        if _range_total(e.headers) != offset:  # else the .part file is already whole
            os.remove(part)
            message = f"cannot resume {url}: the partial download does not fit; removed it, run again"
            raise UserError(message) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"cannot download {url}: {reason} (run again to resume)") from None
    digest = file_sha256(part)
    for name, expected, got in (("sha256", sha256, digest), ("md5", md5, md5 and file_digest(part, "md5"))):
        if expected is not None and got != expected.lower():
            os.remove(part)
            raise DataError(f"{url}: checksum mismatch: expected {name} {expected}, got {got}; the download was removed")
    os.replace(part, path)
    return digest


def extract(archive, member, target):
    """Extracts `member` of a zip, tar or 7z archive to the file `target`, atomically.

    Raises:
        UserError: a 7z archive and no `7z` program, or the member is not in the archive.
    """
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z, z.open(_member(z.namelist(), member, archive)) as f:
                shutil.copyfileobj(f, out)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t, t.extractfile(_member(t.getnames(), member, archive)) as f:
                shutil.copyfileobj(f, out)
        else:
            _extract_7z(archive, member, out)


def file_sha256(path):
    """The SHA-256 (hex) of a file, read in chunks."""
    return file_digest(path, "sha256")


def file_digest(path, algorithm):
    """The hex digest of a file by `algorithm` (a hashlib name), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _receive(response, part, offset, meter):
    """Appends the body to `part` (rewrites it if the server ignored the Range request)."""
    if response.status != 206:
        offset = 0
    total = _total(response.headers, offset)
    done = offset
    with open(part, "ab" if offset else "wb") as f:
        for chunk in iter(lambda: response.read(CHUNK), b""):
            f.write(chunk)
            done += len(chunk)
            meter.show(done, total)
    meter.close()
    if total is not None and done != total:
        raise OSError(f"transfer broke off at {done} of {total} bytes")


def _total(headers, offset):
    """The size of the whole file, from Content-Range or Content-Length; None if not sent."""
    length = headers.get("Content-Length")
    if _range_total(headers) is not None or length is None:
        return _range_total(headers)
    return offset + int(length)


def _range_total(headers):
    """The whole size in a Content-Range header (`bytes 0-9/10`, `bytes */10`), or None."""
    match = re.search(r"/(\d+)$", headers.get("Content-Range") or "")
    return int(match.group(1)) if match else None


def _member(names, member, archive):
    if member not in names:
        raise UserError(f"{archive}: has no {member}; delete it and fetch again")
    return member


def _extract_7z(archive, member, out):
    program = shutil.which("7z") or shutil.which("7za")
    if program is None:
        raise UserError(
            f"{archive} is downloaded, but extracting {member} needs the 7z program "
            "(e.g. apt install p7zip-full); install it and run again, or extract the file there by hand"
        )
    if subprocess.run([program, "e", "-so", archive, member], stdout=out).returncode:
        raise UserError(f"{archive}: 7z could not extract {member}; delete the archive and fetch again")


def _record_checksum(path, digest, progress):
    with atomic_path(path + ".sha256") as tmp, open(tmp, "w") as f:
        f.write(f"{digest}  {os.path.basename(path)}\n")
    if progress is not None:
        print(f"sha256 {digest}  {path} (no known checksum to compare with; saved in .sha256)", file=progress)


class _Meter:
    """Progress lines on a stream, at most a few per second.

    Not `keras.utils.Progbar`: it writes only to stdout (`io_utils.print_msg`), which carries the
    fetched path of `zoo datasets fetch`; this one writes to the stream given (stderr there).
    """

    def __init__(self, label, stream):
        self.label, self.stream, self.last = label, stream, 0.0

    def show(self, done, total):
        now = time.monotonic()
        if self.stream is None or now - self.last < 0.25:
            return
        self.last = now
        size = f"{done / 1e6:.1f} MB"
        if total:
            size += f" of {total / 1e6:.1f} MB ({100 * done / total:.0f}%)"
        print(f"\r{self.label}: {size}", end="", file=self.stream, flush=True)

    def close(self):
        if self.stream is not None and self.last:
            print(file=self.stream)
