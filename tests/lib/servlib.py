"""What the test servers (smtpd.py, faultsmtp.py, faultpop3.py) share:
the ready file, the parent watch, and the serve-until-signalled loop."""
import asyncio
import os
import signal


def write_ready(path, port):
    """Writes the listening port to path atomically (the harness polls it)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


async def watch_pid(pid, stop):
    """Resolves stop once process pid is gone (the test script died)."""
    while not stop.done():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop.set_result(None)
            return
        except PermissionError:
            pass
        await asyncio.sleep(1)


def stop_future(opts):
    """A future resolved by SIGTERM, SIGINT, SIGHUP or the end of --watch-pid."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if getattr(opts, "watch_pid", None):
        loop.create_task(watch_pid(opts.watch_pid, stop))
    return stop


async def serve(handle, opts, limit, on_listen):
    """Serves handle on opts.host:opts.port until stopped; on_listen(port) is called first."""
    server = await asyncio.start_server(handle, opts.host, opts.port, limit=limit,
                                        reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    on_listen(port)
    if opts.ready_file:
        write_ready(opts.ready_file, port)
    await stop_future(opts)
    server.close()
