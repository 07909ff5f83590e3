"""Toxicity: a per-connection roll from the seeded stream, replayable by seed."""

from __future__ import annotations

from proxy_core_helpers import Upstream, connect, proxy, read_to_end, roundtrip, run

from orchestrator.proxy.model import Toxic

CONNECTIONS = 40


def cut(toxicity: float) -> Toxic:
    """limit_data 0 on downstream: an affected connection ends without its echo."""
    return Toxic(type="limit_data", name="cut", toxicity=toxicity, attributes={"bytes": 0})


async def pattern(toxicity: float, seed: int, count: int = CONNECTIONS) -> tuple[str, int]:
    """Which of ``count`` sequential connections the toxic hit ("x") or spared ("."),
    and the proxy's faults_fired count."""
    marks = []
    async with Upstream() as up, proxy(up.address, cut(toxicity), seed=seed) as (server, listen):
        for _ in range(count):
            reader, writer = await connect(listen)
            writer.write(b"ping")
            writer.write_eof()  # the echo server answers, then closes
            got, _ = await read_to_end(reader)
            marks.append("." if got == b"ping" else "x")
            writer.close()
        fired = server.metrics()["p"]["faults_fired"].get("cut", 0)
    return "".join(marks), fired


def test_toxicity_zero_never_applies_and_one_always_does() -> None:
    never, fired = run(lambda: pattern(0.0, seed=1, count=10))
    assert never == "." * 10
    assert fired == 0
    always, fired = run(lambda: pattern(1.0, seed=1, count=10))
    assert always == "x" * 10
    assert fired == 10


def test_half_toxicity_gives_a_mix_that_the_seed_replays() -> None:
    first, fired = run(lambda: pattern(0.5, seed=42))
    hits = first.count("x")
    assert 10 <= hits <= 30, first  # plausible for Binomial(40, 0.5)
    assert fired == hits
    again, _ = run(lambda: pattern(0.5, seed=42))
    assert again == first
    other, _ = run(lambda: pattern(0.5, seed=43))
    assert other != first


def test_reset_peer_at_toxicity_zero_closes_normally() -> None:
    """Toxiproxy #603: SO_LINGER 0 set on every connection turned normal closes into
    RSTs even at toxicity 0. Here the connection ends with a plain FIN."""

    async def main() -> None:
        rst = Toxic(type="reset_peer", toxicity=0.0, attributes={"timeout": 0})
        async with Upstream() as up, proxy(up.address, rst) as (_, listen):
            reader, writer = await connect(listen)
            await roundtrip(reader, writer)
            writer.write(b"tail")
            writer.write_eof()  # the echo server echoes, then closes
            assert await read_to_end(reader, 5) == (b"tail", "eof")
            writer.close()

    run(main)


def test_a_toxicity_update_moves_the_threshold_not_the_rolls() -> None:
    """Raising toxicity on live connections hits exactly the connections that a fresh run
    at the new toxicity hits: each connection keeps its roll."""

    async def live() -> str:
        async with Upstream() as up, proxy(up.address, seed=42) as (server, listen):
            clients = [await connect(listen) for _ in range(CONNECTIONS)]
            marks = ["."] * CONNECTIONS
            await server.add_toxic("p", cut(0.3))
            for toxicity in (0.3, 0.6):
                await server.update_toxic("p", "cut", None, toxicity)
                for i, (reader, writer) in enumerate(clients):
                    if marks[i] == "x":
                        continue
                    writer.write(b"ping")
                    got = await reader.read(4)  # the echo, or EOF if cut
                    if not got:
                        marks[i] = "x"
            for _, writer in clients:
                writer.close()
            return "".join(marks)

    fresh, _ = run(lambda: pattern(0.6, seed=42))
    assert run(live) == fresh
