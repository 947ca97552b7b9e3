"""Writing an output directory safely: built in a temporary folder, then swapped in, replacing only
what the output rules (:mod:`rl_tuner.plumbing.outputs`) let this writer replace.

The file-level primitives (atomic file writes, temporaries of killed writers, disk errors) are
:mod:`rl_tuner.plumbing.atomic`'s; this module joins them to the rules, so that neither of the two
imports the other's user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from rl_tuner.plumbing import atomic, outputs


@contextlib.contextmanager
def directory(path: str, command: str | None = None, overwrite: bool = False, owned=()):
    """Yields a temporary directory whose entries replace ``path``'s when the block succeeds.

    Nothing is deleted that this writer did not create (see :mod:`rl_tuner.plumbing.outputs`): an
    existing ``path`` is checked before the block runs and again before the commit; only
    the entries the new output holds, the names in ``owned`` and the files the old manifest
    of the same ``command`` lists are replaced, other files stay. The temporary folder is
    ``.NAME.tmp-PID-*`` next to ``path``; one left by a killed writer is removed by the next
    write (:func:`rl_tuner.plumbing.atomic.remove_stale_temporaries`). When ``path`` holds nothing
    else, it is swapped in one rename (a reader sees the old version or the new one). On an
    exception the temporary directory is removed and ``path`` is left untouched.

    Args:
      path: the target directory.
      command: the writing command; if given, a manifest naming it and the entries is
        written into the directory (how a later run recognises its own output).
      overwrite: replace a non-empty directory that is not this command's output.
      owned: entry names this writer creates (e.g. a checkpoint's files).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``path`` may not be replaced.
      OSError: naming ``path`` (not the temporary directory) and the reason.
    """
    outputs.check_dir(path, command, overwrite, owned=owned)
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
        atomic.remove_stale_temporaries(parent, os.path.basename(target))  # of a writer killed by kill -9
        tmp = tempfile.mkdtemp(prefix=atomic.tmp_prefix(os.path.basename(target)), dir=parent)
        os.chmod(tmp, 0o777 & ~atomic.umask())
    except OSError as e:
        raise atomic.target_error(e, path) from None
    try:
        yield tmp
        outputs.check_dir(path, command, overwrite, owned=owned)  # something may have appeared meanwhile
        new = os.listdir(tmp)
        if command:
            atomic.write_json(os.path.join(tmp, outputs.MANIFEST), outputs.manifest(command, new))
        _commit(tmp, target, command, new, owned)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) or atomic.disk_errno(e):  # a full disk in TensorFlow's writers too
            raise atomic.target_error(e, path) from None
        raise


def _commit(tmp: str, target: str, command: str | None, new, owned) -> None:
    """Moves the entries of ``tmp`` into ``target`` (see :func:`directory`)."""
    if not os.path.lexists(target):
        os.replace(tmp, target)
        return
    remove = outputs.replaced_entries(target, command, new, owned)
    parent, name = os.path.dirname(target), os.path.basename(target)
    trash = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
    if set(os.listdir(target)) <= set(remove):  # nothing else in it: one atomic swap
        os.rmdir(trash)
        os.replace(target, trash)
        os.replace(tmp, target)
        shutil.rmtree(trash, ignore_errors=True)
        return
    moved_out, moved_in = [], []
    try:
        for entry in remove:
            os.replace(os.path.join(target, entry), os.path.join(trash, entry))
            moved_out.append(entry)
        for entry in os.listdir(tmp):
            os.replace(os.path.join(tmp, entry), os.path.join(target, entry))
            moved_in.append(entry)
    except BaseException:
        for entry in moved_in:  # put everything back as it was
            with contextlib.suppress(OSError):
                os.replace(os.path.join(target, entry), os.path.join(tmp, entry))
        for entry in moved_out:
            with contextlib.suppress(OSError):
                os.replace(os.path.join(trash, entry), os.path.join(target, entry))
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    os.rmdir(tmp)
