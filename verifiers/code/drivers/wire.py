# Plain data <-> JSON for the assert harness (harness.ts), shared by the test process and the
# program process. Only exact builtin types cross: None, bool, int, float, complex, str, bytes,
# list, tuple, dict, set, frozenset; a subclass or any other object is refused, so no __eq__,
# __hash__ or __sub__ of the program's ever runs where the tests do. Floats travel as float.hex
# (exact, nan and inf included), ints as hex (no digit limit). Everything the encoder calls is
# bound here, before the program runs, so a program that rebinds builtins cannot break benign
# replies; the decoder never trusts the sender: it rebuilds every value from JSON.


def _rlvr_wire():
    import _json, json
    type_, hex_, int_, str_, len_ = type, hex, int, str, len
    bool_, float_, complex_, bytes_ = bool, float, complex, bytes
    list_, tuple_, dict_, set_, frozenset_ = list, tuple, dict, set, frozenset
    float_hex, float_fromhex, bytes_hex, bytes_fromhex = float.hex, float.fromhex, bytes.hex, bytes.fromhex
    # the C encoder and scanner themselves: json.dumps/loads look up len, isinstance and their
    # helpers at call time, where a program's patches would reach them
    dump_chunks = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, False)
    scan = json.JSONDecoder().scan_once
    join = "".join
    none_type = type_(None)

    class NotPlain(Exception):
        """The value is not plain data; args[0] names its type."""

    def encode(x):
        t = type_(x)
        if t is none_type or t is bool_ or t is str_:
            return x
        if t is int_:
            return ["i", hex_(x)]
        if t is float_:
            return ["f", float_hex(x)]
        if t is list_:
            return ["l", [encode(v) for v in x]]
        if t is tuple_:
            return ["t", [encode(v) for v in x]]
        if t is dict_:
            return ["d", [[encode(k), encode(v)] for k, v in dict_.items(x)]]
        if t is set_ or t is frozenset_:
            return ["s" if t is set_ else "S", [encode(v) for v in x]]
        if t is bytes_:
            return ["b", bytes_hex(x)]
        if t is complex_:
            return ["c", [float_hex(x.real), float_hex(x.imag)]]
        raise NotPlain(describe(x))

    def describe(x):
        try:
            name = type_(x).__qualname__
            return name if type_(name) is str_ else "an object"
        except BaseException:
            return "an object"

    def decode(j):
        t = type_(j)
        if t is none_type or t is bool_ or t is str_:
            return j
        if t is not list_ or len_(j) != 2 or type_(j[0]) is not str_:
            raise ValueError("malformed value")
        tag, v = j
        if tag in ("i", "f", "b"):
            if type_(v) is not str_:
                raise ValueError("malformed value")
            return int_(v, 16) if tag == "i" else float_fromhex(v) if tag == "f" else bytes_fromhex(v)
        if tag == "c":
            return complex_(float_fromhex(v[0]), float_fromhex(v[1]))
        if type_(v) is not list_:
            raise ValueError("malformed value")
        if tag == "l":
            return [decode(e) for e in v]
        if tag == "t":
            return tuple_(decode(e) for e in v)
        if tag == "s":
            return set_(decode(e) for e in v)
        if tag == "S":
            return frozenset_(decode(e) for e in v)
        if tag == "d":
            return {decode(k): decode(e) for k, e in v}
        raise ValueError("malformed value")

    def to_line(msg):
        return (join(dump_chunks(msg, 0)) + "\n").encode()

    def from_line(line):
        text = line.decode()
        value, end = scan(text, 0)
        if end != len_(text):
            raise ValueError("malformed message")
        return value

    return NotPlain, encode, decode, to_line, from_line
