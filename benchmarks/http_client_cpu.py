"""CPU per chat call of distill's client (agents/chat.py: aiohttp, plain JSON), side by side with the openai SDK
when it is installed (`pip install openai`; distill no longer depends on it), against the local scripted server
in its own process with no latency, 64 calls in flight.

    .venv/bin/python benchmarks/http_client_cpu.py [--calls 2000] [--concurrency 64]

Why it matters: at zero latency a corpus problem is two calls, and the client's CPU per call is spent on the
event loop that every problem in flight shares (measured here: the SDK ~2.1 ms a call, this client ~0.2 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill.agents.chat import ChatClient  # noqa: E402
from distill.agents.endpoints import EndpointConfig, SamplingParams  # noqa: E402
from distill.agents.prompts import load_prompt  # noqa: E402
from distill.agents.solver import solver_messages  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def distill_call(base_url: str):
    client = ChatClient.from_endpoint(EndpointConfig(base_url=base_url, model="bench",
                                                     sampling=SamplingParams(temperature=0.6, max_tokens=1024)))

    async def call(messages, key: str) -> str:
        return (await client.complete(messages, headers={"X-Distill-Call": key})).content
    return call, client.aclose


def sdk_call(base_url: str):
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0)

    async def call(messages, key: str) -> str:
        response = await client.chat.completions.create(model="bench", messages=messages, temperature=0.6,
                                                        max_tokens=1024, extra_headers={"X-Distill-Call": key})
        return response.choices[0].message.content
    return call, client.close


async def measure(make, base_url: str, calls: int, concurrency: int) -> tuple[float, float]:
    call, close = make(base_url)
    prompt = load_prompt("solver")
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            assert await call(solver_messages(prompt, f"What is {i} plus {i + 1}?"), str(i))

    await asyncio.gather(*(one(i) for i in range(100)))  # warm: connections, imports
    started_cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    await close()
    return cpu / calls * 1000, calls / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    clients = {"distill (aiohttp)": distill_call}
    if importlib.util.find_spec("openai"):
        clients["openai SDK"] = sdk_call
    else:
        print("openai is not installed: distill's client alone (pip install openai to compare)")
    print(f"{'client':>18} {'cpu ms/call':>11} {'calls/s':>8}")
    for name, make in clients.items():
        server = subprocess.Popen([sys.executable, "-m", "tests.support.openai_server", "--latency", "0"], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        try:
            base_url = server.stdout.readline().strip()
            cpu_ms, rate = asyncio.run(measure(make, base_url, args.calls, args.concurrency))
        finally:
            server.kill()
            server.wait()
        print(f"{name:>18} {cpu_ms:>11.3f} {rate:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
