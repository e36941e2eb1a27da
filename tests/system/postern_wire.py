"""tests/system/postern_wire.py — postern's IPC wire format for the system tests,
read from the C++ sources at test time.

Nothing here is a copy of a number or a layout. The message types, the
protocol version and the header size come from lib/ipc/frame.h; each
message's fields, in wire order, from the Encode() of its struct in
lib/ipc/messages_*.cc (and the queued envelope's from lib/queue/envelope.cc);
field types, enum values and default values from the struct declarations in
the headers. A test names a message by its struct (AuthStart, ControlReply,
...), its fields by their C++ names and an enum value by its enumerator
("kQueued"); a field it does not give has the struct's default. When the
C++ changes shape in a way this reader does not understand, it fails at
import, saying which function it could not read, rather than speak an old
layout.

A str field is sent from str (UTF-8) or bytes and decoded as bytes; an
std::optional<std::string> is None or a value; a list is a Python list (of
values, or of dicts for a struct such as Recipient). decode() is strict:
bytes cut short or left over are an error, as in lib/ipc/payload.h.

Only the Python standard library; reads the source tree, never writes.
"""

import os
import re
import socket
import struct
import types

SOURCE_DIR = os.environ.get("POSTERN_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_INTEGER_FORMATS = {"u8": ">B", "u16": ">H", "u32": ">I", "u64": ">Q", "bool": ">B"}
_WRITER_CALLS = {"U8": "u8", "U16": "u16", "U32": "u32", "U64": "u64", "Str": "str",
                 "Bool": "bool", "Enum": "enum"}


class WireError(Exception):
    """Bytes that do not decode as the message asked for."""


# ---- reading the C++ sources ---------------------------------------------------


def _source(relative):
    """The text of a source file without its comments."""
    path = os.path.join(SOURCE_DIR, relative)
    with open(path) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _balanced(text, start, opening, closing):
    """(inside, end): the text between text[start] == opening and its closing
    partner, and the index after that partner."""
    assert text[start] == opening, (text[start:start + 40], opening)
    depth = 0
    for i in range(start, len(text)):
        if text[i] == opening:
            depth += 1
        elif text[i] == closing:
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ValueError("unbalanced %r in %r" % (opening, text[start:start + 80]))


def _integer(expression, constants):
    """The value of a C++ integer constant expression of literals, constants
    and the operators of frame.h (<<, |)."""
    python = re.sub(r"\b([A-Za-z_]\w*)\b", lambda m: str(constants[m.group(1)]), expression)
    if not re.fullmatch(r"[\d\s<>|()+]+", python):
        raise ValueError("not an integer constant: %r" % expression)
    return eval(python)  # digits and operators only, checked above


def _constants(text):
    found = {}
    for name, expression in re.findall(r"constexpr\s+[\w:]+\s+(k\w+)\s*=\s*([^;]+);", text):
        try:
            found[name] = _integer(expression, found)
        except (ValueError, KeyError):
            pass
    return found


def _enums(text):
    """{name: (u8 | u16, {enumerator: value})} of the enums declared in text."""
    found = {}
    pattern = r"enum\s+(?:class\s+)?(\w+)\s*:\s*(uint8_t|uint16_t)\s*\{([^}]*)\}"
    for name, underlying, body in re.findall(pattern, text):
        values, next_value = {}, 0
        for entry in filter(None, (e.strip() for e in body.split(","))):
            enumerator, _, expression = (p.strip() for p in entry.partition("="))
            value = _integer(expression, values) if expression else next_value
            values[enumerator] = value
            next_value = value + 1
        found[name] = ("u8" if underlying == "uint8_t" else "u16", values)
    return found


def _structs(text):
    """{name: {"type": MsgType enumerator or None, "members": {field: (type, default)}}}."""
    found = {}
    for match in re.finditer(r"\bstruct\s+(\w+)\s*\{", text):
        body, _ = _balanced(text, match.end() - 1, "{", "}")
        kind = re.search(r"static\s+constexpr\s+MsgType\s+kType\s*=\s*MsgType::(\w+)\s*;", body)
        members = {}
        for line in body.split(";"):
            line = " ".join(line.split())
            member = re.fullmatch(r"((?:std::)?[\w:]+(?:<[\w:<>, ]+>)?) (\w+)(?: = (.+))?", line)
            if member and not line.startswith(("static ", "bool operator")):
                members[member.group(2)] = (member.group(1), member.group(3))
        found[match.group(1)] = {"type": kind.group(1) if kind else None, "members": members}
    return found


def _functions(text):
    """{name: (parameters, body)} of the functions defined in text, with
    qualified names (Handoff::Encode) as written."""
    found = {}
    for match in re.finditer(r"^[\w:<>]+\s+([\w:]+)\(([^)]*)\)\s*(?:const\s*)?\{", text, re.M):
        body, _ = _balanced(text, match.end() - 1, "{", "}")
        found[match.group(1)] = (match.group(2), body)
    return found


class Field:
    """One step of a layout: a value written by one PayloadWriter call."""

    def __init__(self, kind, name=None, constant=None, optional_of=None, element=None):
        self.kind = kind              # u8 u16 u32 u64 str bool enum, or list (u32 count first)
        self.name = name              # the struct member (None: the list element itself)
        self.constant = constant      # a value the encoder always writes (a format version)
        self.optional_of = optional_of  # bool "has_value" or str "value_or" of an optional
        self.element = element        # for a list: a Layout (a struct) or a Field (a value)


class Layout:
    """The fields of one struct in wire order, with its members' C++ types."""

    def __init__(self, name, fields, members, enums):
        self.name = name
        self.fields = fields
        self.members = members
        self.enums = enums

    def enum_of(self, field_name):
        cpp_type = self.members.get(field_name, ("", None))[0]
        return self.enums.get(cpp_type.split("::")[-1])

    def default(self, field):
        if field.kind == "list":
            return []
        cpp_type, initial = self.members.get(field.name, ("", None))
        if cpp_type.startswith("std::optional"):
            return None
        if initial is None:
            return b"" if field.kind == "str" else 0
        if "::" in initial:
            return initial.split("::")[-1]
        if initial in ("true", "false"):
            return initial == "true"
        return int(initial)


class _LayoutReader:
    """Turns the Encode() of a struct into a Layout: the PayloadWriter calls in
    order, through the file's helper functions (EncodeStreamId, EncodeRecipient)
    and range-for loops (a u32 count, then each element)."""

    def __init__(self, source_text, header_text):
        self.functions = _functions(source_text)
        self.constants = _constants(source_text)
        self.structs = _structs(header_text)
        self.enums = _enums(header_text)

    def layout(self, struct_name):
        if struct_name + "::Encode" not in self.functions:
            raise ValueError("no %s::Encode() found" % struct_name)
        _, body = self.functions[struct_name + "::Encode"]
        try:
            fields = self._steps(body, record=None)
        except ValueError as why:
            raise ValueError("cannot read %s::Encode(): %s" % (struct_name, why))
        return Layout(struct_name, fields, self.structs[struct_name]["members"], self.enums)

    def _steps(self, body, record):
        """The fields body writes; record is the name of the variable whose members
        are fields (None: the message's own members, written bare)."""
        fields, at = [], 0
        token = re.compile(r"\bfor\s*\(|(?:\.|->)\s*(U8|U16|U32|U64|Str|Bool|Enum)\s*\(|"
                           r"\b(\w+)\s*\(")
        while True:
            match = token.search(body, at)
            if not match:
                return fields
            if match.group(0).startswith("for"):
                header, end = _balanced(body, match.end() - 1, "(", ")")
                loop = re.fullmatch(r"\s*(?:const\s+)?([\w:]+)\s*&?\s*(\w+)\s*:\s*([\w.]+)\s*",
                                    header)
                if not loop:
                    raise ValueError("a loop of another form: for (%s)" % header)
                statement_end = body.index(";", end) + 1
                element_type, variable = loop.group(1).split("::")[-1], loop.group(2)
                sequence = self._member(loop.group(3), record)
                count = fields.pop() if fields else None
                if count is None or count.kind != "u32" or count.name != ("size", sequence):
                    raise ValueError("a loop over %s without its u32 count before it" % sequence)
                steps = self._steps(body[end:statement_end], record=variable)
                if element_type in self.structs:
                    element = Layout(element_type, steps, self.structs[element_type]["members"],
                                     self.enums)
                elif len(steps) == 1 and steps[0].name is None:
                    element = steps[0]
                else:
                    raise ValueError("a loop over %s of %s" % (sequence, element_type))
                fields.append(Field("list", sequence, element=element))
                at = statement_end
            elif match.group(1):
                arguments, at = _balanced(body, match.end() - 1, "(", ")")
                fields.append(self._field(_WRITER_CALLS[match.group(1)], arguments, record))
            elif match.group(2) in self.functions:
                arguments, at = _balanced(body, match.end() - 1, "(", ")")
                parameters, helper = self.functions[match.group(2)]
                record_parameter = self._record_parameter(parameters, arguments, record)
                fields += self._steps(helper, record_parameter)
            else:
                at = match.end()

    def _record_parameter(self, parameters, arguments, record):
        """In a helper called with the loop variable, the parameter that names it."""
        names = [p.split()[-1].lstrip("&*") for p in parameters.split(",") if p.strip()]
        values = [a.strip() for a in arguments.split(",")]
        for name, value in zip(names, values):
            if record is not None and value == record:
                return name
        return None

    def _member(self, expression, record):
        """The field an expression reads: `x`, `r.x` (record r), `static_cast<T>(x)`."""
        expression = expression.strip()
        cast = re.fullmatch(r"static_cast<[\w:]+>\((.*)\)", expression, re.S)
        if cast:
            return self._member(cast.group(1), record)
        if record is not None:
            if expression == record:
                return None
            if expression.startswith(record + "."):
                return expression[len(record) + 1:]
        return expression

    def _field(self, kind, arguments, record):
        expression = self._member(arguments, record)
        if expression is None:
            return Field(kind, None)
        call = re.fullmatch(r"(\w+)\.(has_value|value_or|size)\((.*)\)", expression, re.S)
        if call:
            member, method = call.group(1), call.group(2)
            if method == "size":
                return Field(kind, ("size", member))
            return Field(kind, member, optional_of=method)
        if expression in self.constants:
            return Field(kind, None, constant=self.constants[expression])
        if not re.fullmatch(r"\w+", expression):
            raise ValueError("a %s of %r" % (kind, expression))
        return Field(kind, expression)


def _load():
    frame_h = _source("lib/ipc/frame.h")
    constants = _constants(frame_h)
    msg_types = _enums(frame_h)["MsgType"][1]
    messages = {}
    ipc = os.path.join(SOURCE_DIR, "lib", "ipc")
    for name in sorted(os.listdir(ipc)):
        if name.startswith("messages_") and name.endswith(".h"):
            header = _source("lib/ipc/" + name)
            reader = _LayoutReader(_source("lib/ipc/" + name[:-2] + ".cc"), header)
            for struct_name, struct_info in reader.structs.items():
                if struct_info["type"]:
                    messages[struct_name] = (struct_info["type"], reader.layout(struct_name))
    served = {kind for kind, _ in messages.values()}
    missing = sorted(set(msg_types) - served)
    if missing:
        raise ValueError("MsgType values without a message struct: %s" % ", ".join(missing))
    envelope = _LayoutReader(_source("lib/queue/envelope.cc"), _source("lib/queue/envelope.h"))
    return constants, msg_types, messages, envelope.layout("Envelope")


_CONSTANTS, MSG_TYPES, _MESSAGES, _ENVELOPE = _load()
PROTOCOL_VERSION = _CONSTANTS["kProtocolVersion"]
HEADER_SIZE = _CONSTANTS["kHeaderSize"]
_TYPE_NAMES = {value: name for name, value in MSG_TYPES.items()}
_MESSAGE_OF_TYPE = {MSG_TYPES[kind]: name for name, (kind, _) in _MESSAGES.items()}


# ---- encoding ------------------------------------------------------------------


def _encode_value(layout, field, value):
    if field.kind == "str":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return struct.pack(">I", len(data)) + data
    if field.kind == "enum" or (isinstance(value, str) and layout.enum_of(field.name)):
        width, values = layout.enum_of(field.name)
        number = values[value] if isinstance(value, str) else value
        return struct.pack(_INTEGER_FORMATS[width if field.kind == "enum" else field.kind], number)
    return struct.pack(_INTEGER_FORMATS[field.kind], int(value))


def _encode(layout, values, stop_at_missing=False):
    unknown = set(values) - {f.name for f in layout.fields}
    if unknown:
        raise TypeError("%s has no field %s" % (layout.name, ", ".join(sorted(unknown))))
    out = b""
    for field in layout.fields:
        if stop_at_missing and field.constant is None and field.name not in values:
            break
        if field.constant is not None:
            out += struct.pack(_INTEGER_FORMATS[field.kind], field.constant)
            continue
        value = values[field.name] if field.name in values else layout.default(field)
        if field.optional_of == "has_value":
            out += _encode_value(layout, field, value is not None)
        elif field.optional_of == "value_or":
            out += _encode_value(layout, field, value or b"")
        elif field.kind == "list":
            out += struct.pack(">I", len(value))
            for element in value:
                out += _encode_element(layout, field.element, element)
        else:
            out += _encode_value(layout, field, value)
    return out


def _encode_element(layout, element, value):
    if isinstance(element, Layout):
        return _encode(element, value)
    return _encode_value(layout, element, value)


def message_layout(message):
    if message not in _MESSAGES:
        raise KeyError("no IPC message struct %r in lib/ipc/messages_*.h" % message)
    return _MESSAGES[message][1]


def payload(message, **fields):
    """The payload bytes of message (a struct name of lib/ipc/messages_*.h)."""
    return _encode(message_layout(message), fields)


def payload_prefix(message, **fields):
    """The leading fields of message given here, in wire order, and nothing
    after the first one not given: a payload cut short between fields."""
    return _encode(message_layout(message), fields, stop_at_missing=True)


def raw_frame(message, data=b"", version=None):
    """A frame of message's type carrying data as its payload, as is."""
    kind = MSG_TYPES[_MESSAGES[message][0]]
    return struct.pack(">IHH", len(data), PROTOCOL_VERSION if version is None else version,
                       kind) + data


def frame(message, **fields):
    """The frame of one message: header and payload."""
    return raw_frame(message, payload(message, **fields))


def envelope(**fields):
    """The bytes of a queued envelope (lib/queue/envelope.h Envelope), in the
    format version this build writes; a recipient is a dict of Recipient's fields."""
    return _encode(_ENVELOPE, fields)


# ---- decoding ------------------------------------------------------------------


class _Reader:
    def __init__(self, data, what):
        self.data, self.at, self.what = data, 0, what

    def take(self, n):
        if self.at + n > len(self.data):
            raise WireError("%s cut short at byte %d of %d" % (self.what, self.at, len(self.data)))
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def integer(self, kind):
        fmt = _INTEGER_FORMATS[kind]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]


def _decode_value(layout, field, reader):
    if field.kind == "str":
        return reader.take(reader.integer("u32"))
    enum = layout.enum_of(field.name)
    if field.kind == "enum" or enum:
        width, values = enum
        number = reader.integer(width if field.kind == "enum" else field.kind)
        names = [name for name, value in values.items() if value == number]
        if not names:
            raise WireError("%s: %s %d is not a value of its enum" % (reader.what, field.name,
                                                                      number))
        return names[0]
    number = reader.integer(field.kind)
    if field.kind == "bool":
        if number > 1:
            raise WireError("%s: bool %s is %d" % (reader.what, field.name, number))
        return bool(number)
    return number


def _decode_fields(layout, reader):
    values, present = {}, {}
    for field in layout.fields:
        if field.constant is not None:
            number = reader.integer(field.kind)
            if number != field.constant:
                raise WireError("%s: %d where %d is written" % (reader.what, number,
                                                                field.constant))
        elif field.kind == "list":
            values[field.name] = [
                _decode_fields(field.element, reader) if isinstance(field.element, Layout)
                else _decode_value(layout, field.element, reader)
                for _ in range(reader.integer("u32"))]
        elif field.optional_of == "has_value":
            present[field.name] = _decode_value(layout, field, reader)
        elif field.optional_of == "value_or":
            value = _decode_value(layout, field, reader)
            values[field.name] = value if present[field.name] else None
        else:
            values[field.name] = _decode_value(layout, field, reader)
    return values


def decode(message, data):
    """The fields of message's payload data as attributes; WireError when it is
    cut short, holds an out-of-range value or has bytes left over."""
    reader = _Reader(data, message)
    values = _decode_fields(message_layout(message), reader)
    if reader.at != len(data):
        raise WireError("%s has %d bytes left over" % (message, len(data) - reader.at))
    return types.SimpleNamespace(**values)


# ---- a stream connection -------------------------------------------------------


class Connection:
    """A client (or an accepted peer) of a daemon's stream socket that speaks frames."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    @classmethod
    def unix(cls, path, timeout):
        """Connected to the Unix socket at path."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return cls(sock)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, message, **fields):
        self.sock.sendall(frame(message, **fields))

    def send_bytes(self, data):
        self.sock.sendall(data)

    def receive(self):
        """(message name, fields) of the next frame; EOFError when the peer closed
        first (also mid-frame); WireError on another protocol version."""
        while True:
            if len(self.buffer) >= HEADER_SIZE:
                length, version, kind = struct.unpack(">IHH", self.buffer[:HEADER_SIZE])
                if version != PROTOCOL_VERSION:
                    raise WireError("the peer sent protocol version %d" % version)
                if len(self.buffer) >= HEADER_SIZE + length:
                    data = self.buffer[HEADER_SIZE:HEADER_SIZE + length]
                    self.buffer = self.buffer[HEADER_SIZE + length:]
                    if kind not in _MESSAGE_OF_TYPE:
                        raise WireError("the peer sent message type %d" % kind)
                    name = _MESSAGE_OF_TYPE[kind]
                    return name, decode(name, data)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the peer closed the connection")
            self.buffer += chunk

    def expect(self, message):
        """The fields of the next frame, which must be a message."""
        name, fields = self.receive()
        if name != message:
            raise WireError("%s where %s was expected" % (name, message))
        return fields

    def closed_by_peer(self):
        """True when the peer closes the connection without sending anything
        (a reset counts as closing)."""
        try:
            return self.sock.recv(64) == b""
        except ConnectionResetError:
            return True
