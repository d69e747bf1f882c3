"""Reading a registry's bytes: an HTTP(S) URL, a ``file://`` URL or a local folder, always with a
size cap and (over the network) a timeout on every read and a deadline on the whole body, so a
server that never answers, or trickles forever, ends in a clear `RegistryError`.

A registry is addressed by its base (the folder holding ``index.json``); a file's URL in the
index is resolved against it and must keep its scheme: an index served over HTTP cannot point at
a file on this machine.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rara.registry.remote.index import RegistryError

DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RegistrySource:
    """Where one registry lives: `base` is a URL ending in ``/`` (http, https or file)."""

    base: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def of(cls, where: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> RegistrySource:
        """A registry from what a user typed: a URL of its folder (or of its index.json), or a
        local folder."""
        parsed = urllib.parse.urlparse(where)
        if parsed.scheme in ("http", "https", "file"):
            url = where
        elif parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (or a Windows drive)
            url = Path(where).expanduser().resolve().as_uri()
        else:
            raise RegistryError(
                "registry_bad_url",
                f"{where!r}: a registry is an http(s):// or file:// URL, or a folder",
            )
        if url.endswith("/index.json"):
            url = url[: -len("index.json")]
        if not url.endswith("/"):
            url += "/"
        return cls(url, timeout_s)

    @property
    def scheme(self) -> str:
        return urllib.parse.urlparse(self.base).scheme

    def resolve(self, ref: str) -> str:
        """The absolute URL of `ref` (relative to the base, or absolute with the base's scheme)."""
        url = urllib.parse.urljoin(self.base, ref)
        scheme = urllib.parse.urlparse(url).scheme
        if scheme != self.scheme and not {scheme, self.scheme} <= {"http", "https"}:
            raise RegistryError(
                "registry_bad_url",
                f"{ref!r} leaves the registry ({scheme}:// from a {self.scheme}:// index)",
                "the publisher must fix the index; nothing was installed",
            )
        return url

    def read(self, ref: str, max_bytes: int) -> bytes:
        """The bytes at `ref`, at most `max_bytes` (more is refused, not truncated)."""
        url = self.resolve(ref)
        if self.scheme == "file":
            return _read_file(url, max_bytes)
        return _read_http(url, max_bytes, self.timeout_s)


def _too_big(url: str, max_bytes: int) -> RegistryError:
    return RegistryError(
        "registry_file_too_large",
        f"{url} is larger than {max_bytes} bytes",
        "the publisher must fix the index or the file; nothing was installed",
    )


def _read_file(url: str, max_bytes: int) -> bytes:
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise RegistryError(
            "registry_not_found",
            f"{path}: no such file",
            "a registry is the folder holding index.json and index.json.sig",
        ) from exc
    except OSError as exc:
        raise RegistryError("registry_unreachable", f"{path}: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise _too_big(url, max_bytes)
    return data


def _timeout(url: str, timeout_s: float) -> RegistryError:
    return RegistryError(
        "registry_timeout",
        f"{url}: no complete answer within {timeout_s:g} s",
        "check the registry URL and the network, or raise --timeout",
    )


def _read_http(url: str, max_bytes: int, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(url, headers={"User-Agent": "rara-registry"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(url, max_bytes)
            body = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise _timeout(url, timeout_s)
                chunk = response.read(min(_CHUNK, max_bytes + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise _too_big(url, max_bytes)
            return bytes(body)
    except urllib.error.HTTPError as exc:
        code = "registry_not_found" if exc.code == 404 else "registry_unreachable"
        raise RegistryError(code, f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timeout(url, timeout_s) from None
        raise RegistryError(
            "registry_unreachable", f"{url}: {exc.reason}", "check the registry URL"
        ) from None
    except TimeoutError:
        raise _timeout(url, timeout_s) from None
    except OSError as exc:  # a connection reset mid-body
        raise RegistryError("registry_unreachable", f"{url}: {exc}") from None
