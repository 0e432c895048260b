"""The seed's scheduler (Appendix A: pyos4 with native coroutines), timed per task switch.

Usage: python3 kernel_switch.py TASKS YIELDS RUNS
Prints one line per run: nanoseconds per switch.
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


class YieldControl(SystemCall):
    def handle(self):
        self.task.sendval = None
        self.sched.schedule(self.task)


async def worker(n):
    for _ in range(n):
        await YieldControl()


def main():
    tasks, yields, runs = (int(a) for a in sys.argv[1:4])
    for _ in range(runs):
        sched = Scheduler()
        for _ in range(tasks):
            sched.new(worker(yields))
        start = time.perf_counter()
        sched.mainloop()
        elapsed = time.perf_counter() - start
        print(elapsed * 1e9 / (tasks * yields))


if __name__ == "__main__":
    main()
