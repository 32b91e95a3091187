# The program process of an assert run (wire.py is prepended), started by the test process with
# the two pipe descriptors as arguments. Runs main.py (the program alone: the tests never enter
# this process), then answers: which of the names the tests use it defines, and one call at a
# time, with the result as plain data. What the program patches here stays here.
import os, sys

NotPlain, encode, decode, to_line, from_line = _rlvr_wire()


def serve():
    # bound before the program runs: it may rebind any of these names
    read, write, exit_, type_, callable_ = os.read, os.write, os._exit, type, callable
    module_type = type(sys)
    stdout, stderr = sys.stdout, sys.stderr
    req, res = int(sys.argv[1]), int(sys.argv[2])
    buffer = [b""]

    def recv():
        while b"\n" not in buffer[0]:
            chunk = read(req, 1 << 16)
            if not chunk:
                return None
            buffer[0] += chunk
        line, _, buffer[0] = buffer[0].partition(b"\n")
        return from_line(line)

    def send(msg):
        data = to_line(msg)
        while data:
            data = data[write(res, data):]

    def quit():
        for f in (sys.stdout, sys.stderr, stdout, stderr):
            try:
                f.flush()
            except BaseException:
                pass
        exit_(0)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "main.py")
    sys.argv = [path]
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    g = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    exec(code, g)

    msg = recv()
    if msg is None:
        quit()
    exports = {}
    for name in msg[1]:
        if name not in g:
            continue
        value = g[name]
        if type_(value) is module_type:
            exports[name] = ["module", value.__name__]
        elif callable_(value):
            exports[name] = ["fn"]
        else:
            try:
                exports[name] = ["data", encode(value)]
            except (NotPlain, RecursionError):
                pass
    send(["exports", exports])

    while True:
        msg = recv()
        if msg is None:
            quit()
        _, name, args, kwargs = msg
        args = [decode(a) for a in args]
        try:
            result = g[name](*args, **decode(kwargs))
        except BaseException as e:
            send(["raise", builtin_base(e), message(e)])
            continue
        try:
            reply = ["ok", encode(result), [plain_or_none(a) for a in args]]
        except (NotPlain, RecursionError) as e:
            reply = ["bad", e.args[0] if type_(e) is NotPlain else "a structure nested too deeply"]
        send(reply)


def _helpers():
    # bound before the program runs, like everything serve() calls
    import builtins
    type_, str_, getattr_ = type, str, getattr

    def plain_or_none(x):
        try:
            return encode(x)
        except (NotPlain, RecursionError):
            return None

    def builtin_base(e):
        """The nearest builtin exception class of e: a test may expect ValueError from a subclass."""
        for cls in type_(e).__mro__:
            if getattr_(builtins, getattr_(cls, "__name__", ""), None) is cls:
                return cls.__name__
        return "Exception"

    def message(e):
        try:
            text = str_(e)
            return text[:1000] if type_(text) is str_ else ""
        except BaseException:
            return ""

    return plain_or_none, builtin_base, message


plain_or_none, builtin_base, message = _helpers()
serve()
