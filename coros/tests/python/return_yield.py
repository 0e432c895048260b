# The seed's first answer: `return (yield)`.
def foo():
    return (yield)


f = foo()
print("primed:", next(f))
try:
    f.send(5)
except StopIteration as stop:
    print("complete:", stop.value)
try:
    f.send(6)
except StopIteration:
    print("send after return: StopIteration")
g = foo()
try:
    g.send(5)
except TypeError as err:
    print("send before priming:", err)
