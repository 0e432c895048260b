"""Python echo servers for the same load generator as the Rust ones (`bench_all`'s echo rows).

Usage: python3 echo_server.py MODE [--addr HOST:PORT]
Prints `echo server listening on HOST:PORT` as its first line, then serves until killed. Each
server reads up to 16 KiB and writes it all back, one task per client, TCP_NODELAY on, as the
Rust servers do. MODE is one of
  seed     the seed's scheduler (Appendix A: pyos4 with native coroutines) with the ReadWait /
           WriteWait system calls and select() polling task of Beazley's pyos8, whose echo server
           this is;
  asyncio  asyncio streams on the default event loop;
  uvloop   the same asyncio code on uvloop's event loop (needs uvloop installed);
  curio    curio's sockets (needs curio installed).
"""

import select
import socket
import sys
from queue import Queue

BUF = 16 * 1024
BACKLOG = 1024


def announce(addr):
    print(f"echo server listening on {addr[0]}:{addr[1]}", flush=True)


def listener(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


# ------------------------------------------------------------------------------------------
# The seed's scheduler (Appendix A), with pyos8's I/O waiting added.


class Task:
    taskid = 0

    def __init__(self, target):
        Task.taskid += 1
        self.tid = Task.taskid
        self.target = target
        self.sendval = None

    def run(self):
        return self.target.send(self.sendval)


class Scheduler:
    def __init__(self):
        self.ready = Queue()
        self.taskmap = {}
        self.read_waiting = {}
        self.write_waiting = {}

    def new(self, target):
        newtask = Task(target)
        self.taskmap[newtask.tid] = newtask
        self.schedule(newtask)
        return newtask.tid

    def exit(self, task):
        del self.taskmap[task.tid]

    def schedule(self, task):
        self.ready.put(task)

    def waitforread(self, task, fd):
        self.read_waiting[fd] = task

    def waitforwrite(self, task, fd):
        self.write_waiting[fd] = task

    def iopoll(self, timeout):
        if self.read_waiting or self.write_waiting:
            r, w, _ = select.select(self.read_waiting, self.write_waiting, [], timeout)
            for fd in r:
                self.schedule(self.read_waiting.pop(fd))
            for fd in w:
                self.schedule(self.write_waiting.pop(fd))

    async def iotask(self):
        while True:
            self.iopoll(None if self.ready.empty() else 0)
            await YieldControl()

    def mainloop(self):
        self.new(self.iotask())
        while self.taskmap:
            task = self.ready.get()
            try:
                result = task.run()
                if isinstance(result, SystemCall):
                    result.task = task
                    result.sched = self
                    result.handle()
                    continue
            except StopIteration:
                self.exit(task)
                continue
            self.schedule(task)


class SystemCall:
    def handle(self):
        pass

    def __await__(self):
        return (yield self)


class YieldControl(SystemCall):
    def handle(self):
        self.task.sendval = None
        self.sched.schedule(self.task)


class NewTask(SystemCall):
    def __init__(self, target):
        self.target = target

    def handle(self):
        self.task.sendval = self.sched.new(self.target)
        self.sched.schedule(self.task)


class ReadWait(SystemCall):
    def __init__(self, f):
        self.f = f

    def handle(self):
        self.sched.waitforread(self.task, self.f.fileno())


class WriteWait(SystemCall):
    def __init__(self, f):
        self.f = f

    def handle(self):
        self.sched.waitforwrite(self.task, self.f.fileno())


async def seed_client(client):
    try:
        while True:
            await ReadWait(client)
            data = client.recv(BUF)
            if not data:
                break
            while data:
                await WriteWait(client)
                sent = client.send(data)
                data = data[sent:]
    except ConnectionError:
        pass
    client.close()


async def seed_server(sock):
    while True:
        await ReadWait(sock)
        client, _ = sock.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await NewTask(seed_client(client))


def run_seed(host, port):
    sock = listener(host, port)
    announce(sock.getsockname())
    sched = Scheduler()
    sched.new(seed_server(sock))
    sched.mainloop()


# ------------------------------------------------------------------------------------------
# asyncio (and uvloop).


async def asyncio_main(host, port):
    import asyncio

    async def handle(reader, writer):
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = await reader.read(BUF)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, host, port, backlog=BACKLOG)
    announce(server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


# ------------------------------------------------------------------------------------------
# curio.


def run_curio(host, port):
    import curio
    from curio import network

    async def handle(client, _addr):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        async with client:
            try:
                while True:
                    data = await client.recv(BUF)
                    if not data:
                        break
                    await client.sendall(data)
            except ConnectionError:
                pass

    async def main():
        sock = network.tcp_server_socket(host, port, backlog=BACKLOG)
        announce(sock.getsockname())
        async with sock:
            await network.run_server(sock, handle)

    curio.run(main)


def main():
    mode = sys.argv[1]
    addr = "127.0.0.1:0"
    if "--addr" in sys.argv:
        addr = sys.argv[sys.argv.index("--addr") + 1]
    host, port = addr.rsplit(":", 1)
    port = int(port)
    if mode == "seed":
        run_seed(host, port)
    elif mode == "asyncio":
        import asyncio

        asyncio.run(asyncio_main(host, port))
    elif mode == "uvloop":
        import uvloop

        uvloop.run(asyncio_main(host, port))
    elif mode == "curio":
        run_curio(host, port)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
