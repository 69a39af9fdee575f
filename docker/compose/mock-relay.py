"""Demo profile only: lets the browser reach the mock Cognito.

The mock listens on 127.0.0.1:9229 inside the sidecar's network namespace, so
that the sidecar fetches discovery, tokens and keys over loopback (plain http
is allowed only there) and the mock's URLs read http://127.0.0.1:9229, which
is also where the browser finds it: compose publishes host 127.0.0.1:9229 to
this relay on :9230, and the relay copies bytes to the mock.
"""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def handle(client_reader, client_writer, target_host, target_port):
    try:
        mock_reader, mock_writer = await asyncio.open_connection(target_host, target_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pipe(client_reader, mock_writer),
        pipe(mock_reader, client_writer),
        return_exceptions=True,
    )


async def main(listen_port, target_host, target_port):
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target_host, target_port), "0.0.0.0", listen_port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    asyncio.run(main(listen, host, port))
