# The seed's second answer, driven as in its interactive session: each send's result printed.
class Awaitable:
    def __await__(self):
        value = yield 1
        print("Awaitable received:", value)
        value = yield 2
        print("Awaitable received:", value)
        value = yield 3
        print("Awaitable received:", value)
        return 42


async def foo():
    print("foo start")
    result = await Awaitable()
    print("foo received result:", result)
    print("foo end")


f_coro = foo()
print(f_coro.send(None))
print(f_coro.send("one"))
print(f_coro.send("two"))
try:
    f_coro.send("three")
except StopIteration as stop:
    print("StopIteration", stop.value)
