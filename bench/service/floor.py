"""The floor the routing service is measured against: a bare asyncio JSON-lines server.

It reads each request line, decodes it, and answers at once — an ``arrive`` with an offer
to a made-up agent, anything else with ``ok`` — so the load client's call flow runs just
as against ``ccroute serve``, on the same sockets, event loop and JSON library, but with
no router, no checks, no timers and no log. The service's latency over this floor is
what routing adds; the floor itself is what Python and the kernel cost on this machine.

    python bench/service/floor.py --listen 127.0.0.1:0     # prints "listening on HOST:PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import time

log = logging.getLogger("floor")


class Floor(asyncio.Protocol):
    epoch = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.rest = b""

    def data_received(self, data: bytes) -> None:
        *lines, self.rest = (self.rest + data).split(b"\n")
        out = []
        for line in lines:
            request = json.loads(line)
            reply = {"ok": True, "offers": []}
            if "id" in request:
                reply = {"id": request["id"], **reply}
            if request.get("op") == "arrive":
                reply["offers"] = [{"call": request["call"], "agent": "floor", "time": time.monotonic() - self.epoch}]
            out.append(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        self.transport.write(b"".join(out))


async def serve(listen: str) -> None:
    loop = asyncio.get_running_loop()
    host, _, port = listen.rpartition(":")
    server = await loop.create_server(Floor, host, int(port))
    host, port = server.sockets[0].getsockname()[:2]
    log.info("listening on %s:%d", host, port)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    server.close()
    log.info("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(args.listen))


if __name__ == "__main__":
    main()
