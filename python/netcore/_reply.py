"""Typed replies for command handlers, beside ``str``/``bytes`` (bulk strings), ``int``,
``None`` (null; in line framing: no reply), ``list``/``tuple`` (arrays) and ``dict`` (maps)."""

from __future__ import annotations


class ReplyError(Exception):
    """An error reply. Return or raise it from a handler: ``ReplyError("ERR no such key")``
    gives ``-ERR no such key`` over RESP and ``error: no such key`` in line framing; a first
    word in capitals is the redis error code (``ERR`` is added when there is none). Unlike any
    other exception it is not logged: it is the handler's answer."""


class SimpleString(str):
    """A status reply: ``SimpleString("OK")`` is ``+OK`` over RESP (a plain ``str`` is a bulk
    string) and ``OK`` in line framing."""


__all__ = ["ReplyError", "SimpleString"]
