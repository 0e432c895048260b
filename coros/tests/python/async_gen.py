# The seed's last answer (PEP 525), printing the elapsed time rounded to a tenth of a second
# so that the transcript is stable.
import asyncio
import time


async def gen():
    try:
        while True:
            await asyncio.sleep(0.1)
            value = yield 'hello'
            print("got:", value)
    except ZeroDivisionError:
        await asyncio.sleep(0.2)
        yield 'world'


async def main():
    now = time.time()
    g = gen()
    v = await g.asend(None)
    v = await g.asend('something')
    b = await g.asend(None)
    c = await g.asend(None)
    print(v, b, c, round(time.time() - now, 1))

    v = await g.athrow(ZeroDivisionError)
    print(v)


asyncio.run(main())
