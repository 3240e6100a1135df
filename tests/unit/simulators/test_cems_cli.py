"""`lantian simulate cems`: options parsed, packets and truth written, bad input refused early."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.hj212_codec import Hj212Codec
from ingest.hj212_framer import Frame, split_packets
from simulators.cli import app

runner = CliRunner()
MN = "POWER0000000000000000001"
REGISTER = f"""outlets:
  - mn: "{MN}"
    name: "unit 1"
    enterprise: "demo power"
    industry: power
    reference_o2: 6
    limits: {{particulate: 10, so2: 35, nox: 50}}
    password: "123456"
  - mn: "STEEL0000000000000000002"
    name: "sinter head"
    enterprise: "demo steel"
    industry: steel
    reference_o2: 16
    limits: {{particulate: 10, so2: 35, nox: 50}}
"""


@pytest.fixture
def register(tmp_path: Path) -> Path:
    path = tmp_path / "outlets.yaml"
    path.write_text(REGISTER, encoding="utf-8")
    return path


def test_help_lists_cems() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "cems" in result.output


def test_output_and_truth(register: Path, tmp_path: Path) -> None:
    out, truth = tmp_path / "packets.hj212", tmp_path / "truth.jsonl"
    result = runner.invoke(app, [
        "cems", "--outlets", str(register), "--start", "2026-01-10T00:00", "--hours", "3",
        "--commands", "minute,hourly", "--exceed", f"{MN}:so2:2026-01-10T01:00:1",
        "--truth", str(truth), "--output", str(out), "--mn", MN,
    ])
    assert result.exit_code == 0, result.output
    frames = split_packets(out.read_bytes())
    assert all(isinstance(f, Frame) for f in frames)
    packets = [Hj212Codec().decode(f.data) for f in frames]
    assert {p.mn for p in packets} == {MN}
    assert {p.cn for p in packets} == {"2051", "2061"}
    hourly = [p.cp_dict() for p in packets if p.cn == "2061"]
    assert [h["DataTime"] for h in hourly] == ["20260110000000", "20260110010000",
                                               "20260110020000"]
    assert [float(h["a21026-ZsAvg"]) > 35 for h in hourly] == [False, True, False]
    lines = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    assert lines == [{
        "source": MN, "pollutant": "so2", "type": "exceedance",
        "start": "2026-01-10T01:00:00+08:00", "end": "2026-01-10T01:00:00+08:00",
        "score": 1.0, "evidence": {"injected": {"factor": 1.6}},
    }]


def test_inject_file(register: Path, tmp_path: Path) -> None:
    inject = tmp_path / "inject.json"
    inject.write_text(json.dumps([{"mn": MN, "pollutant": "nox", "type": "flatline",
                                   "start": "2026-01-10T01:00", "hours": 1}]))
    truth = tmp_path / "truth.jsonl"
    result = runner.invoke(app, [
        "cems", "--outlets", str(register), "--start", "2026-01-10T00:00", "--hours", "2",
        "--inject", str(inject), "--truth", str(truth), "--output", str(tmp_path / "p"),
    ])
    assert result.exit_code == 0, result.output
    assert json.loads(truth.read_text())["type"] == "flatline"


@pytest.mark.parametrize("args", [
    ["--commands", "weekly"],
    ["--mn", "NOSUCHMN"],
    ["--exceed", "garbage"],
    ["--exceed", f"{MN}:co:2026-01-10T01:00:1"],
    ["--start", "yesterday"],
])
def test_bad_input_exits_2(register: Path, tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["cems", "--outlets", str(register), "--hours", "2",
                                 "--start", "2026-01-10T00:00", "--output",
                                 str(tmp_path / "p"), *args])
    assert result.exit_code == 2, result.output


def test_missing_register_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cems", "--outlets", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "none.yaml" in result.output


@pytest.fixture
def gateway_port() -> Iterator[int]:
    """A gateway in a background loop that answers every upload with CN 9014."""
    codec = Hj212Codec()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        while chunk := await reader.read(4096):
            data += chunk
            *complete, data = data.split(b"\r\n")
            for raw in complete:
                packet = codec.decode(raw + b"\r\n")
                writer.write(codec.encode(codec.reply_to(packet)))
        writer.close()

    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await stop[0].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(5)
    yield port[0]
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(5)
    loop.close()


def test_tcp_transport_reports_acks(register: Path, gateway_port: int) -> None:
    result = runner.invoke(app, [
        "cems", "--outlets", str(register), "--start", "2026-01-10T00:00", "--hours", "1",
        "--commands", "hourly,minute", "--transport", "tcp", "--port", str(gateway_port),
        "--chunk", "50",
    ])
    assert result.exit_code == 0, result.output
    assert "122 packets sent over 2 connection(s), 122/122 acknowledged" in result.output


def test_tcp_refused_exits_1(register: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(app, [
        "cems", "--outlets", str(register), "--start", "2026-01-10T00:00", "--hours", "1",
        "--commands", "hourly", "--transport", "tcp", "--port", str(port),
    ])
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output
