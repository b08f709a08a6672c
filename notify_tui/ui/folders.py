"""Where the app puts files for the user: screenshots and exports."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_documents_path, user_downloads_path


def user_folder() -> Path:
    """The user's downloads folder, else their documents folder, else their home folder: the
    first that exists (a server reached over SSH often has neither of the first two)."""
    home = Path.home()
    for folder in (user_downloads_path(), user_documents_path(), home / "Documents"):
        if folder.is_dir():
            return folder
    return home
