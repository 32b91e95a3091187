# The test process (entry of an assert run; wire.py is prepended). It reads the token and the
# tests from stdin, starts the program in a fresh interpreter (program.py), and runs the tests
# here, where the program's code never runs: each name the tests use that the program defines
# becomes a stub that sends the call's arguments over a pipe and gets back plain data. So the
# tests' builtins, modules and comparisons are the interpreter's own, and a result is compared
# only after it was rebuilt from JSON with exact types. Prints the token only after the last
# test returned and the program exited.
import ast, builtins, os, select, sys, traceback

NotPlain, encode, decode, to_line, from_line = _rlvr_wire()


def no_dump():
    # a non-dumpable process cannot be ptraced or read through /proc/PID/mem by the program,
    # which runs as the same uid (the token lives in this process's memory)
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        pass


class Program:
    """The program's process and the two pipes to it; any failure of it ends this run."""

    def __init__(self, here):
        req_r, self.req_w = os.pipe()
        self.res_r, res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.req_w)
                os.close(self.res_r)
                os.set_inheritable(req_r, True)
                os.set_inheritable(res_w, True)
                program = os.path.join(here, "program.py")
                os.execv(sys.executable, [sys.executable, "-I", "-B", program, str(req_r), str(res_w)])
            finally:
                os._exit(127)
        os.close(req_r)
        os.close(res_w)
        self.buffer = b""

    def send(self, msg):
        data = to_line(msg)
        try:
            while data:
                data = data[os.write(self.req_w, data):]
        except OSError:
            self.gone(os.waitpid(self.pid, 0)[1])

    def recv(self):
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.res_r], [], [], 0.05)
            if not ready:
                # a forked child of the program may hold the pipe open after the program died
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == self.pid:
                    self.gone(status)
                continue
            chunk = os.read(self.res_r, 1 << 16)
            if not chunk:
                self.gone(os.waitpid(self.pid, 0)[1])
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return from_line(line)
        except Exception:
            abort("the program process sent a malformed reply", kill=True)

    def gone(self, status):
        """The program ended before the tests did: end with its status (signals as 128 + N)."""
        self.pid = None
        code = os.waitstatus_to_exitcode(status)
        if code == 0:
            abort("the program exited before its tests finished")
        finish(128 - code if code < 0 else code)

    def stop(self, kill=False):
        """End the program: on end of input it flushes its output and exits; `kill` for one that misbehaved."""
        if self.pid is None:
            return
        if kill:
            os.kill(self.pid, 9)
        os.close(self.req_w)
        os.waitpid(self.pid, 0)
        self.pid = None


program = None


def abort(why, kill=False):
    print("rlvr: " + why, file=sys.stderr)
    finish(1, kill)


def finish(code, kill=False):
    # os._exit: no exception the tests could catch, no atexit hook of theirs
    if program is not None:
        program.stop(kill)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    os._exit(code)


def stub(name):
    def call(*args, **kwargs):
        try:
            sent = [encode(a) for a in args]
            sent_kw = encode(kwargs)
        except NotPlain as e:
            raise TypeError(f"{name}(): an argument of type {e.args[0]} cannot be passed to the program, which runs in its own process") from None
        program.send(["call", name, sent, sent_kw])
        reply = program.recv()
        try:
            kind = reply[0]
            if kind == "ok":
                result = decode(reply[1])
                write_back(args, sent, reply[2])
                return result
            if kind == "raise":
                exc, message = reply[1], reply[2]
                cls = getattr(builtins, exc, None) if type(exc) is str and type(message) is str else None
            elif kind == "bad":
                abort(f"{name}() returned {str(reply[1])[:100]}, not plain data (None, bool, int, float, str, list, tuple, dict, set)")
            else:
                cls = exc = message = None
        except Exception:
            abort(f"the program process sent a malformed reply to {name}()", kill=True)
        if isinstance(cls, type) and issubclass(cls, Exception):
            raise_as(cls, message)
        # SystemExit and the like: the run ends here, as it would have in one process
        abort(f"{name}() raised {exc}: {message}" if exc else f"the program process sent a malformed reply to {name}()")

    call.__name__ = call.__qualname__ = name
    return call


def raise_as(cls, message):
    try:
        exc = cls(message)
    except Exception:
        exc = RuntimeError(f"{cls.__name__}: {message}")
    raise exc


def write_back(args, sent, after):
    """Arguments the program changed in place (a list it sorted) change here too."""
    for arg, before, now in zip(args, sent, after):
        if now is None or now == before:
            continue
        new = decode(now)
        if type(arg) is list and type(new) is list:
            arg[:] = new
        elif type(arg) in (dict, set) and type(new) is type(arg):
            arg.clear()
            arg.update(new)


def exports_to_globals(names, exports):
    """The tests' globals: the program's functions as stubs, its plain data, stdlib modules it imported."""
    g = {"__name__": "__main__", "__builtins__": builtins}
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    for name in names:
        export = exports.get(name)
        if export is None:
            continue
        kind = export[0]
        if kind == "fn":
            g[name] = stub(name)
        elif kind == "data":
            g[name] = decode(export[1])
        elif kind == "module" and type(export[1]) is str and export[1].partition(".")[0] in stdlib:
            # imported fresh here: the program's copy may be patched
            import importlib
            g[name] = importlib.import_module(export[1])
    return g


def main():
    global program
    raw = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    token, _, tests = raw.partition("\n")
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = os.dup(1)
    no_dump()
    here = os.path.dirname(os.path.abspath(__file__))
    program = Program(here)
    try:
        tree = compile(tests, "tests.py", "exec", ast.PyCF_ONLY_AST)
    except SyntaxError:
        traceback.print_exc()
        abort("the tests do not parse")
    # builtins stay the interpreter's: a program's global `sorted` does not replace the tests'
    names = sorted({n.id for n in ast.walk(tree) if type(n) is ast.Name} - set(vars(builtins)))
    program.send(["names", names])
    reply = program.recv()
    try:
        g = exports_to_globals(names, reply[1] if reply[0] == "exports" and type(reply[1]) is dict else {})
    except Exception:
        abort("the program process sent malformed exports", kill=True)
    try:
        exec(compile(tree, "tests.py", "exec"), g)
    except BaseException:
        traceback.print_exc()
        finish(1)
    sys.stdout.flush()
    program.stop()
    os.write(out, ("\n" + token + "\n").encode())
    finish(0)


main()
