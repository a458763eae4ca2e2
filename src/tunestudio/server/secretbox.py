"""The server's master key, and the secrets the store keeps encrypted under it.

Most secrets are stored as digests (:mod:`.keystore`), but an HMAC signature can only be
checked with the secret itself, so IAM secret keys are kept encrypted with Fernet
(AES-128-CBC plus HMAC-SHA256, from ``cryptography``) under one master key:

* ``TUNESTUDIO_MASTER_KEY`` when set — the same value on every host that shares a PostgreSQL
  store;
* else ``$TUNESTUDIO_HOME/secrets/master.key``, made on first use (directory 0700, file 0600).

Whoever holds both the store and the master key can read the IAM secrets, so back them up
apart. A lost or changed master key makes the stored secrets unreadable: the pairs must then
be created again.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tunestudio.config import Settings
from tunestudio.errors import TuneStudioError

MASTER_KEY_ENV = "TUNESTUDIO_MASTER_KEY"
NEW_KEY_HINT = (
    'a master key is 32 url-safe base64 bytes; make one with `python -c "from '
    'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
)


class MasterKeyError(TuneStudioError):
    """The master key is malformed or unsafe, or a secret cannot be decrypted with it.

    Not a ConfigError: in the server it is the operator's problem, answered 500 and logged,
    never blamed on the request.
    """


def master_key_path(settings: Settings | None = None) -> Path:
    """Where the master key file lives: ``$TUNESTUDIO_HOME/secrets/master.key``."""
    return (settings or Settings.from_env()).home_dir / "secrets" / "master.key"


def load_master_key(settings: Settings | None = None) -> bytes:
    """The master key: ``TUNESTUDIO_MASTER_KEY``, else the key file (made if missing)."""
    if value := os.environ.get(MASTER_KEY_ENV, "").strip():
        return _checked(value.encode("ascii", "replace"), where=MASTER_KEY_ENV)
    path = master_key_path(settings)
    if not path.exists():
        _create(path)
    return _read(path)


class SecretBox:
    """Encrypts and decrypts short secrets under the master key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SecretBox:
        """The box of this installation's master key (see :func:`load_master_key`)."""
        return cls(load_master_key(settings))

    def encrypt(self, secret: str) -> str:
        """``secret`` as a Fernet token (text, safe to store)."""
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        """The secret in ``token``; MasterKeyError naming ``what`` if this key did not make it."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise MasterKeyError(
                f"{what} cannot be decrypted: it was encrypted under another master key",
                where=MASTER_KEY_ENV if os.environ.get(MASTER_KEY_ENV) else None,
                hint=f"set {MASTER_KEY_ENV} (or secrets/master.key) to the key it was made "
                "with, or create the pair again with `tunestudio keys create --iam`",
            ) from None


def _checked(key: bytes, *, where: str) -> bytes:
    try:
        Fernet(key)
    except ValueError:  # binascii.Error is a ValueError too
        raise MasterKeyError(
            "the master key is not a Fernet key", where=where, hint=NEW_KEY_HINT
        ) from None
    return key


def _create(path: Path) -> None:
    """Write a new key to ``path`` atomically, unless another process just did."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)  # mkdir's mode is cut by the umask
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".master-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key() + b"\n")
        # link, not rename: it never replaces a key another process (serve, keys) made first,
        # and readers never see a half-written file
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"the master key file is open to other users (mode {stat.S_IMODE(mode):o})",
            where=str(path),
            hint=f"chmod 600 {path}",
        )
    return _checked(path.read_bytes().strip(), where=str(path))
