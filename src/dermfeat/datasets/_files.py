"""Which files under a folder are images: one extension list, content sniffing, an honest walk.

Every listing of image files in dermfeat (:func:`load_image_folder`, ``dermfeat
extract``, ``dermfeat describe``) goes through :func:`find_image_files`, so one
rule decides what is an image everywhere: each file under the folder is either
returned as an image or listed with the reason it is not.
"""

from __future__ import annotations

import os
import stat
import warnings

from PIL import Image

from ..io._formats import SUPPORTED_EXTENSIONS, SUPPORTED_FORMATS, allowed_formats

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _opener_formats():
    """The decodable formats (:data:`dermfeat.io.SUPPORTED_FORMATS`) this installation can open."""
    from ..io._read import _register_heif

    _register_heif()
    return list(allowed_formats())


def sniff_image(path):
    """Whether a regular file's content starts like an image of :data:`dermfeat.io.SUPPORTED_FORMATS`.

    Only the header is parsed (by Pillow, restricted to those formats); nothing
    is decoded.  A header claiming too many pixels still counts as an image: the
    decoder refuses it later with its own reason.

    Parameters
    ----------
    path : str or path-like
        A regular file (the caller checks: a named pipe would block).

    Returns
    -------
    is_image : bool

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from dermfeat.datasets._files import sniff_image
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("RGB", (8, 8)).save(os.path.join(folder, "photo_without_extension"), format="PNG")
    >>> with open(os.path.join(folder, "notes"), "w") as fh:
    ...     _ = fh.write("not a photo")
    >>> sniff_image(os.path.join(folder, "photo_without_extension")), sniff_image(os.path.join(folder, "notes"))
    (True, False)
    """
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fh, formats=_opener_formats()):
                return True
    except Image.DecompressionBombError:
        return True
    except Exception:  # any parser failure means: not an image we recognise
        return False


def _within(path, folder):
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # other drive on Windows
        return False


def file_problem(path, root_real, allow_outside_root):
    """Why ``path`` cannot be taken as an image file, or ``None``.

    Refuses paths that resolve (through ``..`` or symbolic links) outside
    ``root_real`` unless ``allow_outside_root``, broken links and files that
    are not regular files.  A missing file is not a problem here (the reader
    reports it).
    """
    if os.path.islink(path) and not os.path.exists(path):
        return "broken symbolic link"
    target = os.path.realpath(path)
    if not allow_outside_root and not _within(target, root_real):
        return (f"leads outside the dataset folder (to {target}); refused, pass allow_outside_root=True "
                "to accept it")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "broken symbolic link" if os.path.islink(path) else None
    except OSError as exc:
        return f"cannot inspect file ({exc.strerror or exc})"
    return _mode_problem(st.st_mode)


def _mode_problem(mode):
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if stat.S_ISREG(mode):
        return None
    kind = next((kind for test, kind in _KINDS if test(mode)), "not a file")
    return f"not a regular file ({kind}); refused without reading it"


def _classify(path, name, extensions, sniff):
    """``None`` for an image candidate, else the reason the file is not one."""
    hidden = name.startswith(".")
    ext = os.path.splitext(name)[1].lower()
    if ext in extensions and not (hidden and sniff):
        return None
    if sniff and sniff_image(path):
        return None
    if hidden:
        return "hidden file, and its content is not a recognised image format"
    return (f"extension {ext or '(none)'!r} is not an image type"
            + (" and the content is not a recognised image format" if sniff else ""))


def find_image_files(root, *, extensions=SUPPORTED_EXTENSIONS, sniff=True, allow_outside_root=False, exclude=()):
    """Every file under a folder, recursively: the images, and the others with a reason.

    A file is an image when its name ends in one of ``extensions`` or, with
    ``sniff``, when its content starts like an image of :data:`dermfeat.io.SUPPORTED_FORMATS`
    (whatever its name).  Hidden files (names starting with ``.``) are taken
    only when their content is an image, so that macOS ``._photo.jpg`` resource
    files are reported rather than decoded.  Symbolic links are followed only
    when they stay inside ``root`` (a linked folder inside ``root`` is not
    walked twice) unless ``allow_outside_root``; named pipes and devices are
    never opened.  Nothing is dropped silently: each file that is not returned
    as an image is in ``skipped``.

    Parameters
    ----------
    root : path-like
        The folder.
    extensions : tuple of str, default=dermfeat.io.SUPPORTED_EXTENSIONS
        File endings (lower case, with the dot) taken as images.
    sniff : bool, default=True
        Also recognise images by content.  ``False`` goes by the extension only.
    allow_outside_root : bool, default=False
        Follow symbolic links (to files or folders) that lead outside ``root``.
    exclude : sequence of path-like, default=()
        Files or folders to leave out without a mention (such as a manifest, or
        an output written inside ``root``).

    Returns
    -------
    files : list of str
        Paths (``root`` joined with the relative path), in sorted walk order:
        each folder's files, then its sub-folders.
    skipped : list of (str, str)
        Every other file (or unreadable folder, or link not followed) and why.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dermfeat.datasets import find_image_files, make_lesion_images
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = make_lesion_images(2, image_size=32, directory=folder, random_state=0)
    >>> (folder / "notes.txt").write_text("seen on Monday")
    14
    >>> files, skipped = find_image_files(folder, exclude=[folder / "manifest.csv"])
    >>> len(files), [(Path(p).name, reason) for p, reason in skipped]
    (2, [('notes.txt', "extension '.txt' is not an image type and the content is not a recognised image format")])
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    extensions = tuple(e.lower() for e in extensions)
    root_real = os.path.realpath(root)
    excluded = {os.path.realpath(os.fspath(p)) for p in exclude}
    files, skipped = [], []
    visited = {root_real}
    stack = [(root, root_real)]
    while stack:
        folder, folder_real = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append((folder, f"cannot list folder ({exc.strerror or exc})"))
            continue
        subfolders = []
        for entry in entries:
            path = os.path.join(folder, entry.name)
            real = os.path.join(folder_real, entry.name)
            if real in excluded:
                continue
            try:
                is_link, is_dir = entry.is_symlink(), entry.is_dir(follow_symlinks=False)
            except OSError as exc:  # pragma: no cover - vanished meanwhile
                skipped.append((path, f"cannot inspect file ({exc.strerror or exc})"))
                continue
            if is_dir:
                subfolders.append((path, real))
                continue
            if is_link and os.path.isdir(path):
                target = os.path.realpath(path)
                if target in excluded:
                    continue
                if _within(target, root_real):
                    skipped.append((path, "symbolic link to a folder inside the dataset folder, not followed "
                                          "(its files are listed at their own place)"))
                elif not allow_outside_root:
                    skipped.append((path, f"symbolic link to a folder outside the dataset folder (to {target}), "
                                          "not followed; pass allow_outside_root=True to follow it"))
                elif target in visited:
                    skipped.append((path, "symbolic link to a folder already searched, not followed (a loop)"))
                else:
                    visited.add(target)
                    subfolders.append((path, target))
                continue
            if is_link:
                problem = file_problem(path, root_real, allow_outside_root)
            elif entry.is_file(follow_symlinks=False):  # the common case: no extra system call
                problem = None
            else:
                try:
                    problem = _mode_problem(entry.stat(follow_symlinks=False).st_mode)
                except OSError as exc:  # pragma: no cover - vanished meanwhile
                    problem = f"cannot inspect file ({exc.strerror or exc})"
            if problem is None:
                problem = _classify(path, entry.name, extensions, sniff)
            if problem is None:
                files.append(path)
            else:
                skipped.append((path, problem))
        stack.extend(reversed(subfolders))
    return files, skipped
