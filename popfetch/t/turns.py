#!/usr/bin/python3
"""turns.py --to HOST:PORT [--delay SECONDS] [--port N] --ready-file F --log F

Counts the round trips ("turns") of a client: a TCP relay on 127.0.0.1
(port N, 0 = free) to HOST:PORT that holds every chunk, each way, for
--delay seconds (default 0.05: 100 ms round trips), so that what a client
sends before it has an answer travels together, as over a real network.
A turn is the connection itself, then each time the client sends after
data from the server reached it since it last sent: the round trips it
waited for.  One line per connection is appended to the log when it ends:
"turns N client-chunks C server-chunks S".  The data is relayed unchanged
(TLS included).  Exits on SIGTERM.
"""
import argparse
import asyncio
import os
import signal
import time


class Conn:
    def __init__(self, o):
        self.o = o
        self.turns = 1          # the connection's own round trip
        self.server_since = False
        self.cchunks = self.schunks = 0

    async def pump(self, reader, writer, from_client):
        q = asyncio.Queue()

        async def deliver():
            while True:
                when, data = await q.get()
                if data is None:
                    break
                wait = when - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                if not from_client:
                    # It is the client's now: what it sends next may have waited for it.
                    self.server_since = True
            try:
                writer.write_eof()
            except (OSError, RuntimeError):
                pass

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if from_client:
                    self.cchunks += 1
                    if self.server_since:
                        self.turns += 1
                        self.server_since = False
                else:
                    self.schunks += 1
                q.put_nowait((time.monotonic() + self.o.delay, data))
        except ConnectionError:
            pass
        q.put_nowait((0, None))
        try:
            await task
        except ConnectionError:
            pass


async def main(o):
    host, _, port = o.to.rpartition(":")

    async def handle(cr, cw):
        c = Conn(o)
        await asyncio.sleep(o.delay * 2)        # the SYN's round trip
        try:
            sr, sw = await asyncio.open_connection(host, int(port))
        except OSError:
            cw.close()
            return
        await asyncio.gather(c.pump(cr, sw, True), c.pump(sr, cw, False))
        for w in (cw, sw):
            w.close()
        with open(o.log, "a") as f:
            f.write("turns %d client-chunks %d server-chunks %d\n" % (c.turns, c.cchunks, c.schunks))

    srv = await asyncio.start_server(handle, "127.0.0.1", o.port)
    tmp = o.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.sockets[0].getsockname()[1])
    os.rename(tmp, o.ready_file)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: stop.set_result(None))
    await stop


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--to", required=True)
    p.add_argument("--delay", type=float, default=0.05)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--log", required=True)
    asyncio.run(main(p.parse_args()))
