"""The seed's scheduler (Appendix A: pyos4 with native coroutines), timed per task switch.

Usage: python3 kernel_switch.py TASKS YIELDS RUNS [MODE]
Prints one line per run: nanoseconds per switch. MODE is one of
  seed      the seed's scheduler, each task awaiting YieldControl() YIELDS times (the default);
  seed-tid  the seed's scheduler, each task awaiting GetTid() YIELDS times: a system call's
            round trip;
  asyncio   asyncio tasks, each awaiting asyncio.sleep(0) YIELDS times;
  curio     curio tasks, each awaiting curio.sleep(0) YIELDS times (needs curio installed).
The clock starts once every task exists and stops when all have finished.
"""

import sys
import time
from queue import Queue


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

    def new(self, target):
        newtask = Task(target)
        self.taskmap[newtask.tid] = newtask
        self.schedule(newtask)
        return newtask.tid

    def exit(self, task):
        del self.taskmap[task.tid]

    def schedule(self, task):
        self.ready.put(task)

    def mainloop(self):
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


class GetTid(SystemCall):
    def handle(self):
        self.task.sendval = self.task.tid
        self.sched.schedule(self.task)


class YieldControl(SystemCall):
    def handle(self):
        self.task.sendval = None
        self.sched.schedule(self.task)


async def worker(n):
    for _ in range(n):
        await YieldControl()


async def tid_worker(n):
    for _ in range(n):
        await GetTid()


def run_seed(tasks, yields, worker):
    sched = Scheduler()
    for _ in range(tasks):
        sched.new(worker(yields))
    start = time.perf_counter()
    sched.mainloop()
    return time.perf_counter() - start


def run_asyncio(tasks, yields):
    import asyncio

    async def worker(n):
        for _ in range(n):
            await asyncio.sleep(0)

    async def main():
        todo = [asyncio.ensure_future(worker(yields)) for _ in range(tasks)]
        start = time.perf_counter()
        await asyncio.gather(*todo)
        return time.perf_counter() - start

    return asyncio.run(main())


def run_curio(tasks, yields):
    import curio

    async def worker(n):
        for _ in range(n):
            await curio.sleep(0)

    async def main():
        todo = [await curio.spawn(worker, yields) for _ in range(tasks)]
        start = time.perf_counter()
        for t in todo:
            await t.join()
        return time.perf_counter() - start

    return curio.run(main)


def main():
    tasks, yields, runs = (int(a) for a in sys.argv[1:4])
    mode = sys.argv[4] if len(sys.argv) > 4 else "seed"
    for _ in range(runs):
        if mode == "seed":
            elapsed = run_seed(tasks, yields, worker)
        elif mode == "seed-tid":
            elapsed = run_seed(tasks, yields, tid_worker)
        elif mode == "asyncio":
            elapsed = run_asyncio(tasks, yields)
        elif mode == "curio":
            elapsed = run_curio(tasks, yields)
        else:
            sys.exit(f"unknown mode {mode}")
        print(elapsed * 1e9 / (tasks * yields))


if __name__ == "__main__":
    main()
