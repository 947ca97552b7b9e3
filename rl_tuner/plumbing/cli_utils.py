"""Command-line helpers: argparse flags generated from documented config dataclasses.

Each job has one config dataclass whose Google-style ``Attributes:`` docstring section
documents every field; :func:`add_dataclass_arguments` turns the fields into ``--flags``
with that text as help and the field's default shown.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import sys
import typing


def attribute_docs(cls) -> dict[str, str]:
    """Parses the ``Attributes:`` section of a dataclass docstring into {name: text}."""
    doc = cls.__doc__ or ""
    match = re.search(r"Attributes:\n(.*)", doc, re.S)
    if not match:
        return {}
    docs, current = {}, None
    for line in match.group(1).splitlines():
        m = re.match(r"\s{2,8}(\w+): (.*)", line)
        if m and len(line) - len(line.lstrip()) <= 8:
            current = m.group(1)
            docs[current] = m.group(2).strip()
        elif current and line.strip():
            docs[current] += " " + line.strip()
        elif not line.strip() and current:
            current = None
    return docs


def _base_type(tp):
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        return _base_type(args[0])
    if origin in (tuple, list):
        return ("seq", args[0] if args else str)
    return tp


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, skip=(), rename=None, defaults=None,
                            help_defaults=None, choices=None, aliases=None) -> None:
    """Adds one ``--flag`` per dataclass field.

    Args:
      parser: the (sub)parser.
      cls: a dataclass whose docstring documents its fields under ``Attributes:``.
      skip: field names not to expose.
      rename: {field: flag name} overrides (without leading dashes).
      defaults: {field: default} overrides shown in help.
      help_defaults: if given, every flag defaults to None (so that a caller can tell what was
        set) and the help shows ``help_defaults[field]`` text instead of the default.
      choices: {field: allowed values} for enumerated fields.
      aliases: {field: [further flag names]} (with leading dashes), e.g. an old name kept
        working after a rename; they take the same values but are not listed in --help,
        and an error names the spelling the user typed.

    Numeric fields listed in the dataclass's ``RANGES`` table ({field: Range}, see
    :mod:`rl_tuner.plumbing.ranges`) get an argparse type that refuses values outside their range.
    """
    docs = attribute_docs(cls)
    ranges = getattr(cls, "RANGES", {})
    hints = typing.get_type_hints(cls)
    rename = rename or {}
    defaults = defaults or {}
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        flag = "--" + rename.get(field.name, field.name.replace("_", "-"))
        default = defaults.get(field.name, field.default if field.default is not dataclasses.MISSING
                               else field.default_factory() if field.default_factory is not dataclasses.MISSING
                               else None)
        tp = _base_type(hints[field.name])
        kwargs = {"dest": field.name, "default": default, "help": docs.get(field.name, "") + " (default: %(default)s)"}
        if help_defaults is not None:
            kwargs["default"] = None
            kwargs["help"] = docs.get(field.name, "") + f" ({help_defaults.get(field.name, f'default: {default}')})"
        kwargs["help"] = kwargs["help"].replace("%", "%%").replace("%%(default)s", "%(default)s")
        if choices and field.name in choices:
            kwargs["choices"] = list(choices[field.name])
        rng = ranges.get(field.name)
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(tp, tuple):
            kind = tp[1] if tp[1] in (int, float, str) else str
            kwargs.update(nargs="+", type=range_type(kind, rng) if rng and kind is not str else kind)
        elif tp in (int, float) and rng is not None:
            kwargs["type"] = range_type(tp, rng)
        elif tp in (int, float, str):
            kwargs["type"] = tp
        parser.add_argument(flag, **kwargs)
        add_hidden_aliases(parser, (aliases or {}).get(field.name, ()), **kwargs)


def add_hidden_aliases(parser: argparse.ArgumentParser, aliases, **kwargs) -> None:
    """Adds old flag names that still work but are not shown in ``--help``: each parses like
    the flag described by ``kwargs`` (same ``dest``, type, ...) and sets nothing when absent."""
    for alias in aliases:
        parser.add_argument(alias, **{**kwargs, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS})


def range_type(kind, rng):
    """An argparse ``type`` that parses ``kind`` (int or float) and checks it against a Range.

    Args:
      kind: int or float.
      rng: a :class:`rl_tuner.plumbing.ranges.Range` (its ``integer`` flag is implied by ``kind=int``).

    Returns:
      A callable str -> value raising argparse.ArgumentTypeError (shown as
      ``argument --flag: must be > 0, got -1``) for text that is not a number of that kind,
      NaN, infinity or a value outside the range.
    """
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        try:
            rng.check(value, "value")
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rng.describe()}, got {text}") from None
        return value

    parse.__name__ = kind.__name__
    return parse


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    """Builds ``cls`` from parsed arguments (fields missing from ``args`` keep defaults)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values = {k: v for k, v in values.items() if v is not None}
    values.update(overrides)
    return cls(**values)


def command_line() -> str:
    """Returns the command line of this process, shell-quoted."""
    return " ".join(shlex.quote(a) for a in [sys.argv[0].split("/")[-1]] + sys.argv[1:])


# A Sphinx cross-reference role (``:func:`name```, ``:class:`~a.b.C```) in a docstring.
_SPHINX_ROLE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc|ref):`(~?)([^`]+)`")


def plain_text(text: str) -> str:
    """Docstring text as plain text for ``--help``: a Sphinx role becomes its target's name
    (``:func:`a.b``` -> ``a.b``; ``:class:`~a.B``` -> ``B``) and double backticks single ones
    (````x```` -> ```x```, as the hand-written help texts quote commands)."""
    text = _SPHINX_ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    return text.replace("``", "`")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps description layout, widens the help column and shows plain text
    (:func:`plain_text`: flags documented in docstrings carry Sphinx markup)."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=34, width=100)

    def _format_text(self, text):  # descriptions and epilogs
        """A paragraph written as one line is wrapped to the width; others keep their layout."""
        import textwrap  # pylint: disable=import-outside-toplevel
        width = max(self._width - self._current_indent, 20)
        paragraphs = [textwrap.fill(p, width) if "\n" not in p.strip() else p for p in plain_text(text).split("\n\n")]
        return super()._format_text("\n\n".join(paragraphs))

    def _expand_help(self, action):  # each argument's (and each subcommand's) help
        return plain_text(super()._expand_help(action))


def parse_with_pipeline_options(parser: argparse.ArgumentParser, argv=None):
    """Parses ``argv``, keeping the arguments the parser does not know as Apache Beam pipeline
    options, which only a command given ``--runner`` takes.

    Returns:
      ``(args, pipeline_args)``: the namespace and the unknown arguments ([] without them).

    Raises:
      SystemExit: (``parser.error``, exit code 2) unknown arguments without ``--runner``.
    """
    args, pipeline_args = parser.parse_known_args(argv)
    if pipeline_args and not getattr(args, "runner", None):
        parser.error(f"unrecognized arguments: {' '.join(pipeline_args)}")
    return args, pipeline_args


def add_overwrite_flag(parser: argparse.ArgumentParser, kind: str = "directory") -> None:
    """Adds ``--overwrite`` (see :mod:`rl_tuner.plumbing.outputs`) for an output ``kind``: directory or file."""
    if kind == "directory":
        text = ("write into a non-empty --out that is not this command's earlier output: only the files this "
                "command writes are replaced, other files are kept (never an input, nor anything in a training "
                "run, model checkpoint, tuned or exported model, data set or the installed packages)")
    else:
        text = ("replace an existing --out file that is not this command's earlier output (never an input, nor "
                "anything in a training run, model checkpoint, tuned or exported model, data set or the "
                "installed packages)")
    parser.add_argument("--overwrite", action="store_true", help=text)


def out_of_memory_message(error: BaseException) -> str | None:
    """One line for an allocation that failed, or None if ``error`` is something else.

    Recognises ``MemoryError`` (NumPy: "Unable to allocate 87.3 TiB for an array with shape
    ...") and TensorFlow's ``ResourceExhaustedError`` by class name (this module must not
    import TensorFlow), whose text ("OOM when allocating tensor with shape[1000000000000] and
    type int32 ...") is cut to the shape and type.
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    if disk_full_message(error) is not None:  # TensorFlow's ResourceExhaustedError of a full disk
        return None
    if "MemoryError" in names:
        what = str(error).strip().splitlines()[0] if str(error).strip() else "an allocation failed"
    elif "ResourceExhaustedError" in names:
        found = re.search(r"OOM when allocating tensor with (shape\[[^\]]*\]) and type (\w+)", str(error))
        what = (f"TensorFlow could not allocate a tensor of {found.group(1)} {found.group(2)}" if found
                else "TensorFlow could not allocate a tensor")
    else:
        return None
    return f"out of memory: {what}; use smaller sizes (layer sizes, batch size, lengths, replay capacity, counts)"


def disk_full_message(error: BaseException) -> str | None:
    """One line for a TensorFlow write refused by a full disk, a quota or a read-only file
    system that no writer turned into an OSError, or None for any other error.

    TensorFlow reports ENOSPC and EDQUOT as ``ResourceExhaustedError`` (its allocation
    failures' class) with the text ``FILE; No space left on device``; the line is ``cannot
    write FILE: No space left on device``, as for the project's own writers
    (:func:`rl_tuner.plumbing.atomic.target_error`).
    """
    if "OpError" not in {cls.__name__ for cls in type(error).__mro__}:
        return None
    from rl_tuner.plumbing import atomic  # pylint: disable=import-outside-toplevel  (no TensorFlow)
    code = atomic.disk_errno(error)
    if code is None:
        return None
    reason = os.strerror(code)
    found = re.search(rf"(\S+); {re.escape(reason)}", str(error))
    return f"cannot write {found.group(1) if found else 'a file'}: {reason}"


def run_main(main, argv=None) -> int:
    """Runs ``main(argv)`` turning expected user errors into a one-line message and exit 2.

    User errors are ValueError (bad values, refused outputs), OSError (missing files,
    permissions, a file where a folder is expected, a full disk: the writers name the user's
    path; TensorFlow's error of a full disk too, :func:`disk_full_message`) and
    FloatingPointError (a diverged training run). Sizes too large for this machine
    (a ``MemoryError`` from NumPy or Python, TensorFlow's ``ResourceExhaustedError``) are one
    line too (:func:`out_of_memory_message`), not a traceback.
    """
    try:
        return main(argv) or 0
    except (ValueError, OSError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # pylint: disable=broad-except
        message = disk_full_message(e) or out_of_memory_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
