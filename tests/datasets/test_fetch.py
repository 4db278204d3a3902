"""Downloads against a small local HTTP server with Range support: resume, checksum, extraction."""
import hashlib
import http.server
import io
import re
import socket
import tarfile
import threading
import zipfile

import pytest

from zoo.cli import main
from zoo.datasets import fetch as fetch_module
from zoo.datasets.fetch import download, fetch
from zoo.datasets.readers import Source, read_movielens
from zoo.errors import DataError, UserError

BODY = bytes(range(256)) * 1200  # 307,200 bytes


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.files[path]`, honouring `Range: bytes=N-` unless `server.ignore_range`."""

    def do_GET(self):
        server = self.server
        data = server.files[self.path]
        server.ranges.append(self.headers.get("Range"))
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(match.group(1)) if match and not server.ignore_range else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if server.cut_after is not None:  # break the transfer off once
            body, server.cut_after = body[: server.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.ranges, httpd.ignore_range, httpd.cut_after = {"/data.bin": BODY}, [], False, None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_broken_transfer_resumes_with_a_range_request(server, tmp_path):
    target = tmp_path / "data.bin"
    server.cut_after = 100_000
    with pytest.raises(UserError, match="run again to resume"):
        download(f"{server.url}/data.bin", str(target))
    assert not target.exists()
    assert (tmp_path / "data.bin.part").stat().st_size == 100_000
    digest = download(f"{server.url}/data.bin", str(target), sha256=hashlib.sha256(BODY).hexdigest())
    assert server.ranges == [None, "bytes=100000-"]
    assert target.read_bytes() == BODY
    assert digest == hashlib.sha256(BODY).hexdigest()
    assert not (tmp_path / "data.bin.part").exists()


def test_checksum_mismatch_removes_the_download(server, tmp_path):
    with pytest.raises(DataError, match="checksum mismatch"):
        download(f"{server.url}/data.bin", str(tmp_path / "data.bin"), sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_publisher_md5_is_checked_too(server, tmp_path):
    with pytest.raises(DataError, match="expected md5"):
        download(f"{server.url}/data.bin", str(tmp_path / "data.bin"), md5="0" * 32)
    assert list(tmp_path.iterdir()) == []
    download(f"{server.url}/data.bin", str(tmp_path / "data.bin"), md5=hashlib.md5(BODY).hexdigest())
    assert (tmp_path / "data.bin").read_bytes() == BODY


def test_server_ignoring_the_range_starts_over(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"garbage")
    server.ignore_range = True
    download(f"{server.url}/data.bin", str(tmp_path / "data.bin"))
    assert (tmp_path / "data.bin").read_bytes() == BODY


def test_a_whole_part_file_is_finished_without_data(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(BODY)
    download(f"{server.url}/data.bin", str(tmp_path / "data.bin"), sha256=hashlib.sha256(BODY).hexdigest())
    assert server.ranges == [f"bytes={len(BODY)}-"]
    assert (tmp_path / "data.bin").read_bytes() == BODY


def test_unreachable_server_is_a_user_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="cannot download"):
        download(f"http://127.0.0.1:{port}/x", str(tmp_path / "x"))


def zip_bytes(member, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(member, data)
    return buffer.getvalue()


def tar_bytes(member, data):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as t:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("archive, pack", [("ml.zip", zip_bytes), ("ml.tar.gz", tar_bytes)])
def test_fetch_extracts_the_event_file_and_records_the_checksum(server, tmp_path, monkeypatch, archive, pack):
    ratings = b"1\t10\t5\t978300760\n"
    server.files[f"/{archive}"] = pack("ml/u.data", ratings)
    source = Source(read_movielens, "u.data", url=f"{server.url}/{archive}", member="ml/u.data")
    monkeypatch.setitem(fetch_module.SOURCES, "test-ml", source)
    path = fetch("test-ml", str(tmp_path))
    assert open(path, "rb").read() == ratings
    digest = hashlib.sha256(server.files[f"/{archive}"]).hexdigest()
    assert (tmp_path / f"{archive}.sha256").read_text() == f"{digest}  {archive}\n"
    assert fetch("test-ml", str(tmp_path)) == path
    assert len(server.ranges) == 1


def test_fetch_command_prints_the_path(server, tmp_path, monkeypatch, capsys):
    server.files["/u.data"] = b"1\t10\t5\t978300760\n"
    monkeypatch.setitem(fetch_module.SOURCES, "ml-100k", Source(read_movielens, "u.data", url=f"{server.url}/u.data"))
    assert main(["datasets", "fetch", "ml-100k", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "u.data")


def test_sources_without_a_direct_link_say_how_to_get_them(tmp_path):
    with pytest.raises(UserError, match="kaggle.com"):
        fetch("retailrocket", str(tmp_path))
    with pytest.raises(UserError, match="unknown dataset"):
        fetch("nope", str(tmp_path))
