# SPDX-License-Identifier: BSD-3-Clause
"""Wire compatibility of proto/ with App Engine's remote socket service.

Run with /usr/bin/python3 (Debian's python3-protobuf):

    wire_compat.py WIRE_TOOL APPENGINE_DIR --ours PROTO_DIR [--protoc PROTOC]

APPENGINE_DIR holds App Engine's own definitions as Debian's
golang-google-appengine-dev installs them (socket/socket_service.proto,
remote_api/remote_api.proto).  They are compiled here, at test time, into a
temporary directory with `protoc --descriptor_set_out` and loaded with
google.protobuf: that is "their" encoder and decoder.  "Ours" is protoc-c's
generated code for proto/, driven by WIRE_TOOL (wire_tool.c) through
protobuf-c's reflection.

Messages are paired by name within the package pairs of PAIRS.  For every
message and enum of App Engine's files:

  schema  ours has the same fields (number, name, label, type, type name,
          packed, oneof, default), the same enum names and numbers
          (aliases included), and the same extension and reserved ranges.
          Ours may add fields numbered EXTENSION_FIRST and up, never
          required, and messages App Engine lacks; nothing else.
  ours->theirs  wire_tool fills every field (see MODES), packs; App Engine's
          decoder must parse the bytes with every required field, hold
          exactly the values wire_tool dumped, see our extension fields as
          unknown fields (with the values we sent) and nothing else as
          unknown, and re-encode the same bytes.
  theirs->ours  this script fills every field of App Engine's message and
          serializes; wire_tool must unpack it with no unknown field, dump
          the same values, and re-pack the same bytes, which App Engine's
          decoder reads back as a message equal to the original.
  Both ways, an absent optional field that declares a default must read as
  the same value on both sides (the 'required' case leaves them all out).

Messages of ours that App Engine lacks (the batch extensions, and the native
envelope of rpc.proto) get both round trips against a Python decoder built
from our own .proto, so that protobuf-c and protoc agree on them too.

Finally a self-check mutates App Engine's descriptors in memory (a field
number, a default, an enum value, a type, a label, an extension range) and
requires each mutation to be reported, so that the suite cannot pass by
checking nothing.

Values are compared in the canonical form wire_tool prints: an object keyed
by field number; see wire_tool.c.  One line is printed per message and a
summary at the end; any mismatch is listed with its message, case, field
path, ours and theirs, and the exit status is 1.
"""

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import DecodeError, EncodeError

# (App Engine file under APPENGINE_DIR, its package, our file, our package)
PAIRS = [
    ('socket/socket_service.proto', 'appengine',
     'remote_socket.proto', 'remsock'),
    ('remote_api/remote_api.proto', 'remote_api',
     'remote_api.proto', 'remsock.remote_api'),
]
OUR_FILES = ['remote_socket.proto', 'remote_api.proto', 'rpc.proto']

# Our fields from this number up are extensions that App Engine skips.
EXTENSION_FIRST = 100

# (mode, seed) cases for each message, in both directions.
RANDOM_SEEDS = 6
MODES = ([('random', s) for s in range(1, RANDOM_SEEDS + 1)] +
         [('min', 0), ('max', 0), ('defaults', 7), ('required', 11)])

MAX_DEPTH = 8

LABELS = {FD.LABEL_OPTIONAL: 'optional', FD.LABEL_REQUIRED: 'required',
          FD.LABEL_REPEATED: 'repeated'}
TYPES = {getattr(FD, k): k[5:].lower() for k in dir(FD)
         if k.startswith('TYPE_')}
# integer types: (bits, signed)
INTS = {'int32': (32, True), 'sint32': (32, True), 'sfixed32': (32, True),
        'int64': (64, True), 'sint64': (64, True), 'sfixed64': (64, True),
        'uint32': (32, False), 'fixed32': (32, False),
        'uint64': (64, False), 'fixed64': (64, False)}
WIRE_TYPES = dict([(t, 0) for t in ('int32', 'int64', 'uint32', 'uint64',
                                    'sint32', 'sint64', 'bool', 'enum')] +
                  [(t, 1) for t in ('fixed64', 'sfixed64', 'double')] +
                  [(t, 5) for t in ('fixed32', 'sfixed32', 'float')] +
                  [(t, 2) for t in ('string', 'bytes', 'message')])
M64 = (1 << 64) - 1


def short(v, width=100):
    """v for a report line: cut short, doubles also as numbers."""
    text = repr(v)
    if len(text) > width:
        text = text[:width] + '...'
    fmt = {('d', 18): '>d', ('f', 10): '>f'}
    if isinstance(v, str) and (v[:1], len(v)) in fmt and v[1:2] == ':':
        try:
            text += ' (%r)' % struct.unpack(fmt[v[0], len(v)],
                                            bytes.fromhex(v[2:]))[0]
        except ValueError:
            pass
    return text


def field_path(path, number):
    return '%s/%d' % (path, number) if path else str(number)


class Report:
    """Problems found, each with enough to find the cause."""

    def __init__(self):
        self.problems = []

    def add(self, where, what, ours=None, theirs=None):
        line = '%s: %s' % (where, what)
        if ours is not None or theirs is not None:
            line += '\n      ours:   %s\n      theirs: %s' % (short(ours),
                                                              short(theirs))
        self.problems.append(line)


# ---- descriptors ----

def compile_files(protoc, proto_path, files, tmp):
    """FileDescriptorProtos of files, compiled by protoc now."""
    out = os.path.join(tmp, '%d.pb' % len(os.listdir(tmp)))
    subprocess.run([protoc, '--proto_path=' + proto_path,
                    '--include_imports', '--descriptor_set_out=' + out] +
                   files, check=True)
    with open(out, 'rb') as f:
        return list(descriptor_pb2.FileDescriptorSet.FromString(
            f.read()).file)


class Schema:
    """A set of .proto files loaded into their own pool."""

    def __init__(self, file_protos):
        self.files = file_protos
        self.pool = descriptor_pool.DescriptorPool()
        for fp in file_protos:
            self.pool.Add(fp)
        self.factory = message_factory.MessageFactory(self.pool)

    def message_class(self, full_name):
        return self.factory.GetPrototype(
            self.pool.FindMessageTypeByName(full_name))

    def walk(self):
        """(full name, DescriptorProto or EnumDescriptorProto, is_message)
        of every message and enum, nested ones included."""
        def nested(prefix, msg):
            yield prefix, msg, True
            for e in msg.enum_type:
                yield prefix + '.' + e.name, e, False
            for m in msg.nested_type:
                yield from nested(prefix + '.' + m.name, m)
        for fp in self.files:
            for e in fp.enum_type:
                yield fp.package + '.' + e.name, e, False
            for m in fp.message_type:
                yield from nested(fp.package + '.' + m.name, m)


def py_canon(f, v):
    """A Python value in wire_tool's canonical form."""
    t = TYPES[f.type]
    if t == 'message':
        return py_dump(v)
    if t == 'double':
        return 'd:%016x' % struct.unpack('<Q', struct.pack('<d', v))[0]
    if t == 'float':
        return 'f:%08x' % struct.unpack('<I', struct.pack('<f', v))[0]
    if t == 'bytes':
        return 'b:' + v.hex()
    return v


def py_dump(msg):
    out = {}
    for f in msg.DESCRIPTOR.fields:
        if f.label == FD.LABEL_REPEATED:
            values = getattr(msg, f.name)
            if len(values):
                out[str(f.number)] = [py_canon(f, v) for v in values]
        elif msg.HasField(f.name):
            out[str(f.number)] = py_canon(f, getattr(msg, f.name))
    return out


def py_defaults(msg, numbers=None):
    """What a reader sees in msg's absent optional fields that declare a
    default (those numbered in numbers, if given), as wire_tool prints it."""
    return {str(f.number): py_canon(f, getattr(msg, f.name))
            for f in msg.DESCRIPTOR.fields
            if f.label == FD.LABEL_OPTIONAL and f.has_default_value and
            not msg.HasField(f.name) and
            (numbers is None or f.number in numbers)}


def c_defaults(r, numbers):
    return {k: v for k, v in r['defaults'].items() if int(k) in numbers}


def py_field_schema(f):
    """A Python field descriptor in the form `wire_tool schema` prints."""
    t = TYPES[f.type]
    type_name = None
    if t == 'message':
        type_name = f.message_type.full_name
    elif t == 'enum':
        type_name = f.enum_type.full_name
    return {'number': f.number, 'name': f.name, 'label': LABELS[f.label],
            'type': t, 'type_name': type_name,
            'packed': f.GetOptions().packed,
            'oneof': f.containing_oneof is not None,
            'default': (py_canon(f, f.default_value)
                        if f.has_default_value else None)}


def py_schema(schema):
    """{full name: field schemas or enum values} of a Schema."""
    messages, enums = {}, {}
    for name, _, is_message in schema.walk():
        if is_message:
            d = schema.pool.FindMessageTypeByName(name)
            messages[name] = sorted((py_field_schema(f) for f in d.fields),
                                    key=lambda f: f['number'])
        else:
            d = schema.pool.FindEnumTypeByName(name)
            enums[name] = sorted((v.name, v.number) for v in d.values)
    return messages, enums


# ---- the C side ----

class Tool:
    def __init__(self, path):
        self.path = path

    def run(self, args, data=b''):
        p = subprocess.run([self.path] + args, input=data,
                           capture_output=True)
        if p.returncode != 0:
            raise RuntimeError('wire_tool %s: exit %d: %s' % (
                ' '.join(args), p.returncode,
                p.stderr.decode(errors='replace').strip()))
        return json.loads(p.stdout.decode('utf-8'))

    def schema(self):
        doc = self.run(['schema'])
        messages = {m['name']: m['fields'] for m in doc['messages']}
        enums = {e['name']: sorted((n, v) for n, v in e['values'])
                 for e in doc['enums']}
        return messages, enums

    def encode(self, name, mode, seed):
        return self.run(['encode', name, mode, str(seed)])

    def decode(self, name, data):
        return self.run(['decode', name], data)


# ---- filling App Engine's messages ----

INT_POOL = [0, 1, -1, 127, 128, -129, 300, 16383, 16384, 65535, -65536,
            2**31 - 1, -2**31, 2**32, -2**32 - 1, 2**53 + 1,
            2**63 - 1, -2**63, 2**64 - 1]
DOUBLE_POOL = [0.0, -0.0, 1.5, -1.0, 3.141592653589793, 1e-300, 5e-324,
               sys.float_info.max, -sys.float_info.max,
               float('inf'), float('-inf'), 1e15 + 0.5]
# Every UTF-8 length, and what JSON and C strings must escape; no NUL.
CODE_POINTS = ['"', '\\', '\n', '\t', '\x01', '\x7f', '\xe9', '\u07ff',
               '\u20ac', '\ufffd', '\U0001f600', '\U0010fff0']


class Filler:
    """Fills every field of a Python message, as wire_tool does in C."""

    def __init__(self, mode, seed):
        self.mode = mode
        self.rng = random.Random('%s/%d' % (mode, seed))

    def integer(self, t):
        bits, signed = INTS[t]
        lo, hi = (-2**(bits - 1), 2**(bits - 1) - 1) if signed else \
            (0, 2**bits - 1)
        if self.mode == 'min':
            return lo
        if self.mode == 'max':
            return hi
        if self.rng.randrange(4) == 0:
            return self.rng.randint(lo, hi)
        return self.rng.choice([v for v in INT_POOL if lo <= v <= hi])

    def double(self):
        if self.mode == 'min':
            return -sys.float_info.max
        if self.mode == 'max':
            return float('inf')
        if self.rng.randrange(2) == 0:
            return self.rng.choice(DOUBLE_POOL)
        while True:
            v = struct.unpack('<d', self.rng.randbytes(8))[0]
            if v == v:
                return v

    def float32(self):
        if self.mode == 'min':
            return -3.4028234663852886e38
        if self.mode == 'max':
            return float('inf')
        while True:
            v = struct.unpack('<f', self.rng.randbytes(4))[0]
            if v == v:
                return v

    def string(self):
        if self.mode == 'min':
            return ''
        if self.mode == 'max':
            return '\U0001f600' * 300
        n = 0 if self.rng.randrange(8) == 0 else self.rng.randint(1, 40)
        return ''.join(self.rng.choice(CODE_POINTS)
                       if self.rng.randrange(3) == 0
                       else chr(0x61 + self.rng.randrange(26))
                       for _ in range(n))

    def bytes_(self):
        if self.mode == 'min':
            return b''
        if self.mode == 'max':
            return bytes(range(256)) * 2
        if self.rng.randrange(8) == 0:
            return b''
        return b'\x00' + self.rng.randbytes(self.rng.randint(0, 62)) + \
            b'\xff'

    def enum(self, f):
        numbers = [v.number for v in f.enum_type.values]  # with aliases
        if self.mode == 'min':
            return min(numbers)
        if self.mode == 'max':
            return max(numbers)
        return self.rng.choice(numbers)

    def value(self, f):
        t = TYPES[f.type]
        if t in INTS:
            return self.integer(t)
        simple = {'double': self.double, 'float': self.float32,
                  'string': self.string, 'bytes': self.bytes_}
        if t in simple:
            return simple[t]()
        if t == 'bool':
            return self.mode == 'max' or (self.mode != 'min' and
                                          self.rng.randrange(2) == 1)
        if t == 'enum':
            return self.enum(f)
        raise ValueError('cannot fill %s of type %s' % (f.full_name, t))

    def count(self):
        return {'min': 2, 'max': 5}.get(self.mode, self.rng.randint(2, 5))

    def fill(self, msg, depth=0):
        saved = self.mode
        if depth > MAX_DEPTH:
            self.mode = 'required'
        for f in msg.DESCRIPTOR.fields:
            self.fill_field(msg, f, depth)
        self.mode = saved
        return msg

    def fill_field(self, msg, f, depth):
        is_msg = f.type == FD.TYPE_MESSAGE
        if f.label != FD.LABEL_REQUIRED and self.mode == 'required':
            return
        if f.label == FD.LABEL_REPEATED:
            values = getattr(msg, f.name)
            for _ in range(self.count()):
                if is_msg:
                    self.fill(values.add(), depth + 1)
                else:
                    values.append(self.value(f))
        elif is_msg:
            getattr(msg, f.name).SetInParent()
            self.fill(getattr(msg, f.name), depth + 1)
        elif (self.mode == 'defaults' and f.has_default_value and
              f.label == FD.LABEL_OPTIONAL):
            setattr(msg, f.name, f.default_value)
        else:
            setattr(msg, f.name, self.value(f))


# ---- comparing ----

def diff_values(ours, theirs, path=''):
    """[(field path, ours, theirs)] where two canonical dumps differ."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for k in sorted(set(ours) | set(theirs), key=int):
            p = path + '/' + k if path else k
            if k not in ours or k not in theirs:
                out.append((p, ours.get(k, '<absent>'),
                            theirs.get(k, '<absent>')))
            else:
                out += diff_values(ours[k], theirs[k], p)
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and \
            len(ours) == len(theirs):
        out = []
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out += diff_values(a, b, '%s[%d]' % (path, i))
        return out
    if ours != theirs or type(ours) is not type(theirs):
        return [(path or '(whole message)', ours, theirs)]
    return []


def report_diffs(report, where, ours, theirs):
    diffs = diff_values(ours, theirs)
    for path, a, b in diffs[:8]:
        report.add(where, 'field %s differs' % path, a, b)
    if len(diffs) > 8:
        report.add(where, '%d more differing fields' % (len(diffs) - 8))
    return not diffs


def py_unknowns(msg, path=''):
    """[(path, number, wire type, data)] of msg's unknown fields, nested
    ones included."""
    out = [(path, u.field_number, u.wire_type, u.data)
           for u in msg.UnknownFields()]
    for f in msg.DESCRIPTOR.fields:
        if f.type != FD.TYPE_MESSAGE:
            continue
        if f.label == FD.LABEL_REPEATED:
            subs = list(getattr(msg, f.name))
        else:
            subs = [getattr(msg, f.name)] if msg.HasField(f.name) else []
        for i, sub in enumerate(subs):
            out += py_unknowns(sub, '%s[%d]' % (field_path(path, f.number),
                                                i))
    return out


def expected_unknown(field, value):
    """What App Engine's decoder holds for one value of our extension field:
    (wire type, data), data None where it is not worth rebuilding."""
    t = field['type']
    if t in ('int32', 'int64', 'uint32', 'uint64', 'enum', 'fixed64',
             'sfixed64', 'fixed32', 'sfixed32'):
        return WIRE_TYPES[t], value & M64 if WIRE_TYPES[t] != 5 else \
            value & 0xffffffff
    if t in ('sint32', 'sint64'):
        return 0, ((value << 1) ^ (value >> 63)) & M64
    if t == 'bool':
        return 0, int(value)
    if t in ('double', 'float'):
        return WIRE_TYPES[t], int(value[2:], 16)
    if t == 'string':
        return 2, value.encode('utf-8')
    if t == 'bytes':
        return 2, bytes.fromhex(value[2:])
    return WIRE_TYPES[t], None


class Pairing:
    """Our schema, as wire_tool reports it, against one of theirs, whose
    messages are found in ours by package mapping."""

    def __init__(self, tool, ours, ours_protoc, theirs, packages,
                 extensions_allowed):
        self.tool = tool
        self.ours_messages, self.ours_enums = ours
        # protoc's view of proto/: extension and reserved ranges, which
        # protobuf-c's descriptors do not carry.
        self.ours_protos = {n: p for n, p, _ in ours_protoc.walk()}
        self.theirs = theirs
        self.their_protos = {n: p for n, p, _ in theirs.walk()}
        self.their_messages, self.their_enums = py_schema(theirs)
        self.packages = packages          # their package -> our package
        self.extensions_allowed = extensions_allowed

    def ours_name(self, their_name):
        if their_name is None:
            return None
        for theirs, ours in sorted(self.packages.items(),
                                   key=lambda kv: -len(kv[0])):
            if their_name.startswith(theirs + '.'):
                return ours + their_name[len(theirs):]
        return their_name

    # ---- schema ----

    def check_fields(self, report, where, ours, theirs):
        for n, tf in sorted(theirs.items()):
            of = ours.get(n)
            if of is None:
                report.add(where, 'field %d (%s) missing in ours' %
                           (n, tf['name']), None, tf)
                continue
            for key in ('name', 'label', 'type', 'type_name', 'packed',
                        'oneof', 'default'):
                want = tf[key]
                if key == 'type_name':
                    want = self.ours_name(want)
                if of[key] != want:
                    report.add(where, 'field %d (%s) %s differs' %
                               (n, tf['name'], key), of[key], want)

    def check_extension_field(self, report, where, f, their_proto):
        """An ours-only field: an App Engine peer must skip it, and must
        be able to leave it out."""
        n = f['number']
        if not self.extensions_allowed or n < EXTENSION_FIRST:
            report.add(where, 'field %d (%s) is not in App Engine and is '
                       'not an extension (numbered %d and up)' %
                       (n, f['name'], EXTENSION_FIRST), f, None)
        if f['label'] == 'required':
            report.add(where, 'extension field %d (%s) is required: an '
                       'App Engine peer never sends it' % (n, f['name']))
        for r in their_proto.extension_range:
            if r.start <= n < r.end:
                report.add(where, 'extension field %d (%s) lies in App '
                           "Engine's extension range %d to %d" %
                           (n, f['name'], r.start, r.end - 1))

    def check_ranges(self, report, where, ours_proto, their_proto):
        for key in ('extension_range', 'reserved_range'):
            a = [(r.start, r.end) for r in getattr(ours_proto, key)]
            b = [(r.start, r.end) for r in getattr(their_proto, key)]
            if a != b:
                report.add(where, key + ' differs', a, b)
        if list(ours_proto.reserved_name) != list(their_proto.reserved_name):
            report.add(where, 'reserved names differ',
                       list(ours_proto.reserved_name),
                       list(their_proto.reserved_name))

    def check_message_schema(self, report, their_name):
        """Returns our extension fields, or None if ours lacks the
        message."""
        ours_name = self.ours_name(their_name)
        where = '%s = %s' % (their_name, ours_name)
        if ours_name not in self.ours_messages:
            report.add(their_name, 'missing in ours (%s)' % ours_name)
            return None
        ours = {f['number']: f for f in self.ours_messages[ours_name]}
        theirs = {f['number']: f for f in self.their_messages[their_name]}
        self.check_fields(report, where, ours, theirs)
        extensions = [f for n, f in sorted(ours.items()) if n not in theirs]
        for f in extensions:
            self.check_extension_field(report, where, f,
                                       self.their_protos[their_name])
        self.check_ranges(report, where, self.ours_protos[ours_name],
                          self.their_protos[their_name])
        return extensions

    def check_enum(self, report, their_name):
        ours_name = self.ours_name(their_name)
        where = '%s = %s' % (their_name, ours_name)
        if ours_name not in self.ours_enums:
            report.add(their_name, 'enum missing in ours (%s)' % ours_name)
            return
        ours = set(self.ours_enums[ours_name])
        theirs = set(self.their_enums[their_name])
        for name, number in sorted(theirs - ours):
            report.add(where, 'enum value %s' % name,
                       dict(ours).get(name, '<absent>'), number)
        for name, number in sorted(ours - theirs):
            if name not in dict(theirs):
                report.add(where, 'enum value %s only in ours' % name,
                           number, '<absent>')
        return len(theirs)

    # ---- round trips ----

    def split(self, their_name, values, path=''):
        """Our canonical dump as (what their decoder must know, [unknown
        fields it must hold]) when read as their message their_name."""
        ours = {str(f['number']): f for f in
                self.ours_messages[self.ours_name(their_name)]}
        theirs = {str(f['number']): f for f in
                  self.their_messages[their_name]}
        known, unknown = {}, []
        for k, v in values.items():
            items = v if isinstance(v, list) else [v]
            if k not in theirs:
                unknown += [(path, int(k)) + expected_unknown(ours[k], item)
                            for item in items]
                continue
            if theirs[k]['type'] == 'message':
                split_items = []
                for i, item in enumerate(items):
                    kn, un = self.split(theirs[k]['type_name'], item,
                                        '%s[%d]' % (field_path(path, int(k)),
                                                    i))
                    split_items.append(kn)
                    unknown += un
                v = split_items if isinstance(v, list) else split_items[0]
            known[k] = v
        return known, unknown

    def is_extension(self, number):
        return self.extensions_allowed and number >= EXTENSION_FIRST

    def check_defaults(self, report, where, their_name, r, msg):
        """Absent fields must read as the same value on both sides."""
        numbers = {f['number'] for f in self.their_messages[their_name]}
        return report_diffs(report, where + ' absent field read as',
                            c_defaults(r, numbers), py_defaults(msg))

    @staticmethod
    def compare_unknowns(report, where, expected, got):
        expected = sorted(expected, key=lambda u: u[:2])
        got = sorted(got, key=lambda u: u[:2])
        ok = len(expected) == len(got)
        for e, g in zip(expected, got):
            ok &= e[:3] == g[:3] and (e[3] is None or e[3] == g[3])
        if not ok:
            report.add(where, 'unknown fields in their decoder differ from '
                       'our extension fields (path, number, wire type, '
                       'data)', expected, got)
        return ok

    def ours_to_theirs(self, report, their_name, mode, seed):
        """Returns how many extension values their decoder skipped, or
        None on failure."""
        where = '%s [ours->theirs %s/%d]' % (their_name, mode, seed)
        r = self.tool.encode(self.ours_name(their_name), mode, seed)
        data = bytes.fromhex(r['hex'])
        cls = self.theirs.message_class(their_name)
        try:
            msg = cls.FromString(data)
        except DecodeError as e:
            report.add(where, 'their decoder rejects our bytes (%s)' % e,
                       r['hex'], None)
            return None
        # Python's parser leaves required fields to IsInitialized().
        if not msg.IsInitialized():
            report.add(where, 'their decoder misses required fields %s' %
                       ', '.join(msg.FindInitializationErrors()), r['hex'])
            return None
        known, unknown = self.split(their_name, r['values'])
        ok = report_diffs(report, where, known, py_dump(msg))
        ok &= self.check_defaults(report, where, their_name, r, msg)
        for path, number, _, _ in unknown:
            if not self.is_extension(number):
                report.add(where, 'we send field %s, which their decoder '
                           'does not know' % field_path(path, number))
                ok = False
        ok &= self.compare_unknowns(report, where, unknown, py_unknowns(msg))
        again = msg.SerializePartialToString()
        if again != data:
            report.add(where, 'their re-encoding differs from our bytes',
                       r['hex'], again.hex())
            ok = False
        return len(unknown) if ok else None

    def theirs_to_ours(self, report, their_name, mode, seed):
        where = '%s [theirs->ours %s/%d]' % (their_name, mode, seed)
        cls = self.theirs.message_class(their_name)
        msg = Filler(mode, seed).fill(cls())
        data = msg.SerializeToString()
        r = self.tool.decode(self.ours_name(their_name), data)
        ok = True
        for u in r['unknown']:
            report.add(where, 'our decoder does not know field %s (wire '
                       'type %d)' % (field_path(u['path'], u['number']),
                                     u['wire_type']))
            ok = False
        ok &= report_diffs(report, where, r['values'], py_dump(msg))
        ok &= self.check_defaults(report, where, their_name, r, msg)
        repacked = bytes.fromhex(r['hex'])
        if repacked != data:
            report.add(where, 'our re-packing differs from their bytes',
                       r['hex'], data.hex())
            ok = False
        try:
            back_msg = cls.FromString(repacked)
            if back_msg != msg or not back_msg.IsInitialized():
                report.add(where, 'our re-packing decodes to another message')
                ok = False
        except DecodeError as e:
            report.add(where, 'their decoder rejects our re-packing (%s)' % e)
            ok = False
        return ok

    def round_trips(self, report, their_name, modes):
        """(cases passed each way, extension values skipped by them)."""
        there = back = skipped = 0
        for mode, seed in modes:
            n = self.guarded(report, their_name, 'ours->theirs', mode, seed)
            if n is not None:
                there += 1
                skipped += n
            back += bool(self.guarded(report, their_name, 'theirs->ours',
                                      mode, seed))
        return there, back, skipped

    def guarded(self, report, their_name, direction, mode, seed):
        """One case; wire_tool's and protobuf's errors are mismatches."""
        check = (self.ours_to_theirs if direction == 'ours->theirs'
                 else self.theirs_to_ours)
        try:
            return check(report, their_name, mode, seed)
        except (RuntimeError, DecodeError, EncodeError) as e:
            report.add('%s [%s %s/%d]' % (their_name, direction, mode, seed),
                       '%s: %s' % (type(e).__name__, e))
            return None

    def check_message(self, report, their_name, modes):
        """Schema and round trips of one message: a line for the log."""
        extensions = self.check_message_schema(report, their_name)
        if extensions is None:
            return 'missing in ours'
        there, back, skipped = self.round_trips(report, their_name, modes)
        line = '%d fields' % len(self.their_messages[their_name])
        for f in extensions:
            line += '; %s %d %s' % (
                'extension' if self.is_extension(f['number'])
                else 'ours-only field', f['number'], f['name'])
        if skipped:
            line += ' (skipped by their decoder %d times)' % skipped
        return line + '; ours->theirs %d/%d, theirs->ours %d/%d' % (
            there, len(modes), back, len(modes))

    def check_all(self, report, modes, only=None, log=print):
        """Every message and enum of theirs (or those named in only)."""
        count = 0
        for name, _, is_message in self.theirs.walk():
            if only is not None and not any(
                    name == o or name.startswith(o + '.') for o in only):
                continue
            before = len(report.problems)
            if is_message:
                line = self.check_message(report, name, modes)
            else:
                line = 'enum, %s names' % self.check_enum(report, name)
            status = 'ok  ' if len(report.problems) == before else 'FAIL'
            log('%s %s = %s: %s' % (status, name, self.ours_name(name), line))
            count += 1
        return count


# ---- the run ----

def check_tool_schema(report, c_schema, ours_protoc):
    """wire_tool must describe proto/ as protoc does: every message and
    enum (the registry is complete) with the same fields."""
    c_messages, c_enums = c_schema
    p_messages, p_enums = py_schema(ours_protoc)
    for kind, c, p in (('message', c_messages, p_messages),
                       ('enum', c_enums, p_enums)):
        for name in sorted(set(c) ^ set(p)):
            report.add('wire_tool', '%s %s: in %s only' % (
                kind, name, 'wire_tool' if name in c else 'protoc'))
        for name in sorted(set(c) & set(p)):
            if kind == 'enum' or len(c[name]) != len(p[name]):
                if c[name] != p[name]:
                    report.add('wire_tool vs protoc: ' + name, 'differs',
                               c[name], p[name])
                continue
            for cf, pf in zip(c[name], p[name]):
                if cf != pf:
                    report.add('wire_tool vs protoc: ' + name, 'field %d '
                               'differs' % pf['number'], cf, pf)


def find_proto(files, full_name):
    for fp in files:
        for m in fp.message_type:
            if fp.package + '.' + m.name == full_name:
                return m
    raise KeyError(full_name)


def find_field(files, full_name):
    msg_name, field_name = full_name.rsplit('.', 1)
    for f in find_proto(files, msg_name).field:
        if f.name == field_name:
            return f
    raise KeyError(full_name)


def mutate_number(field, number):
    return lambda files: setattr(find_field(files, field), 'number', number)


def mutate_enum(message, enum, value, number):
    def apply(files):
        e = [e for e in find_proto(files, message).enum_type
             if e.name == enum][0]
        [v for v in e.value if v.name == value][0].number = number
    return apply


def remove_field(field):
    def apply(files):
        msg = find_proto(files, field.rsplit('.', 1)[0])
        keep = [f for f in msg.field if msg.name + '.' + f.name !=
                field.split('.', 1)[1]]
        del msg.field[:]
        msg.field.extend(keep)
    return apply


def add_field(message, name, number):
    def apply(files):
        find_proto(files, message).field.add(
            name=name, number=number, label=FD.LABEL_OPTIONAL,
            type=FD.TYPE_INT32)
    return apply


# Changes to App Engine's schema that must be reported: (title, message,
# change, whether a round trip must catch it as well as the schema check).
MUTATIONS = [
    ('field number SendRequest.stream_offset 3 -> 7', 'appengine.SendRequest',
     mutate_number('appengine.SendRequest.stream_offset', 7), True),
    ('default ConnectRequest.timeout_seconds -1 -> -2',
     'appengine.ConnectRequest',
     lambda fs: setattr(find_field(
         fs, 'appengine.ConnectRequest.timeout_seconds'),
         'default_value', '-2'), True),
    ('enum value SOCKET_SOL_UDP 17 -> 18', 'appengine.SocketOption',
     mutate_enum('appengine.SocketOption', 'SocketOptionLevel',
                 'SOCKET_SOL_UDP', 18), True),
    ('type AddressPort.port int32 -> sint32', 'appengine.AddressPort',
     lambda fs: setattr(find_field(fs, 'appengine.AddressPort.port'),
                        'type', FD.TYPE_SINT32), True),
    ('label ListenRequest.backlog required -> optional',
     'appengine.ListenRequest',
     lambda fs: setattr(find_field(fs, 'appengine.ListenRequest.backlog'),
                        'label', FD.LABEL_OPTIONAL), True),
    ('no extension range in CreateSocketReply', 'appengine.CreateSocketReply',
     lambda fs: find_proto(fs, 'appengine.CreateSocketReply')
     .ClearField('extension_range'), False),
    ('App Engine field ReceiveReply.flags = 6 that ours lacks',
     'appengine.ReceiveReply', add_field('appengine.ReceiveReply', 'flags', 6),
     True),
    ('ours-only field below 100: ReceiveRequest.timeout_seconds removed',
     'appengine.ReceiveRequest',
     remove_field('appengine.ReceiveRequest.timeout_seconds'), True),
    ('field number remote_api.Request.request_id 5 -> 6',
     'remote_api.Request', mutate_number('remote_api.Request.request_id', 6),
     True),
]


def mutated(their_files, mutate):
    files = [descriptor_pb2.FileDescriptorProto() for _ in their_files]
    for copy, original in zip(files, their_files):
        copy.CopyFrom(original)
    mutate(files)
    return files


def self_check(report, tool, c_schema, ours_protoc, their_files, packages):
    """Every mutation of MUTATIONS must be caught by the schema check,
    and those that change the wire by a round trip too."""
    for title, name, mutate, on_wire in MUTATIONS:
        found = Report()
        Pairing(tool, c_schema, ours_protoc,
                Schema(mutated(their_files, mutate)), packages,
                True).check_all(found, MODES, only={name},
                                log=lambda line: None)
        wire = [p for p in found.problems if '->' in p.split(':')[0]]
        if len(found.problems) > len(wire) and (wire or not on_wire):
            print('ok   self-check: %s: caught (%d by schema, %d by round '
                  'trips; first: %s)' % (
                      title, len(found.problems) - len(wire), len(wire),
                      found.problems[0].split('\n')[0]))
        else:
            report.add('self-check', 'mutation not caught by %s: %s' % (
                'a round trip' if len(found.problems) > len(wire)
                else 'the schema check', title))


def load_schemas(protoc, appengine_dir, ours_dir):
    """(App Engine's FileDescriptorProtos, a Schema of proto/), both
    compiled now from the installed and the project's .proto files."""
    with tempfile.TemporaryDirectory(prefix='wire_compat.') as tmp:
        theirs = []
        for ae_file, _, _, _ in PAIRS:
            path = os.path.join(appengine_dir, ae_file)
            if not os.path.isfile(path):
                sys.exit('wire_compat: %s is missing; install Debian\'s '
                         'golang-google-appengine-dev' % path)
            theirs += compile_files(protoc, os.path.dirname(path),
                                    [os.path.basename(path)], tmp)
        ours = compile_files(protoc, ours_dir, OUR_FILES, tmp)
    return theirs, Schema(ours)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('tool')
    ap.add_argument('appengine_dir')
    ap.add_argument('--ours', required=True, help="remsock's proto/")
    ap.add_argument('--protoc', default='protoc')
    args = ap.parse_args()

    report = Report()
    tool = Tool(args.tool)
    their_files, ours_protoc = load_schemas(args.protoc, args.appengine_dir,
                                            args.ours)
    c_schema = tool.schema()
    check_tool_schema(report, c_schema, ours_protoc)

    packages = {theirs: ours for _, theirs, _, ours in PAIRS}
    pairing = Pairing(tool, c_schema, ours_protoc, Schema(their_files),
                      packages, True)
    checked = pairing.check_all(report, MODES)

    # Ours only: the extension messages and rpc.proto's envelope, against
    # protoc's reading of our own files.
    paired = {pairing.ours_name(n) for n, _, _ in pairing.theirs.walk()}
    own_names = {n for n, _, m in ours_protoc.walk() if m and n not in paired}
    own = Pairing(tool, c_schema, ours_protoc, ours_protoc, {}, False)
    own_checked = own.check_all(report, MODES, only=own_names,
                                log=lambda line: print(line.replace(
                                    'ok   ', 'own  ', 1)))

    self_check(report, tool, c_schema, ours_protoc, their_files, packages)

    for line in report.problems:
        print('MISMATCH ' + line)
    print('wire_compat: %d App Engine messages and enums, %d remsock-only '
          'messages, %d cases each way per message, %d mutations: %s' % (
              checked, own_checked, len(MODES), len(MUTATIONS),
              '%d problems' % len(report.problems) if report.problems
              else 'all compatible'))
    return 1 if report.problems else 0


if __name__ == '__main__':
    sys.exit(main())
