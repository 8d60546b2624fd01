"""The GCP side of the janitor: Compute Engine through google-api-python-client (its
bundled discovery document for compute v1: no discovery call at run time).

What counts as unused:
- persistent disks no instance uses (no `users`), since their creation;
- static addresses reserved and used by nothing (status RESERVED), regional or global.

Each list is one aggregatedList walk over the project (every zone and region, page by
page), filtered to the asked regions. A deletion names a request id (the same one when a
retry repeats it, so Google does it once) and waits for its operation: a disk that an
instance took in the meantime fails there, and is reported as failed.

Every answer is checked for the shape the code relies on: a response that lacks it is
an error that names the call, never a finding made of half a disk.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from ops.janitor import pricing
from ops.janitor.model import Finding, printable
from ops.steps import OpsError

SCOPE = "https://www.googleapis.com/auth/compute"
PAGE_SIZE = 500
# A page loop that never ends (a token that repeats) is cut here.
MAX_PAGES = 1000


class Malformed(OpsError):
    """A Compute API answer without the fields the janitor relies on."""


def compute_client(timeout_seconds: float, http: Any = None, sleep: Callable[[float], None] | None = None) -> Any:
    """The Compute v1 client; tests pass an `http` that replays recorded answers. Retries
    (5xx, 429, dropped connections) back off through `sleep` (tests pass one that records)."""
    from googleapiclient import discovery
    from googleapiclient.http import HttpRequest

    if http is None:
        import google.auth
        import google_auth_httplib2
        import httplib2
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=[SCOPE])
        except DefaultCredentialsError as error:
            raise OpsError(
                "no Google credentials: run `gcloud auth application-default login` (or set "
                f"GOOGLE_APPLICATION_CREDENTIALS to a key file) first ({printable(error, 200)})"
            ) from None
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout_seconds))

    class Request(HttpRequest):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if sleep is not None:
                self._sleep = sleep  # the library's own back-off, with a clock tests control

    return discovery.build(
        "compute", "v1", http=http, cache_discovery=False, static_discovery=True, requestBuilder=Request
    )


def explain(error: Exception, what: str) -> OpsError:
    """One line for a Compute API failure: the call, the status, Google's own message."""
    from googleapiclient.errors import HttpError

    if isinstance(error, HttpError):
        status = error.resp.status
        try:
            message = json.loads(error.content.decode("utf-8"))["error"]["message"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            message = error.content[:200].decode("utf-8", "replace")
        hint = {
            401: "the credentials were refused; log in again",
            403: "permission denied (the janitor's service account needs compute read roles) or the API is off",
            404: "not found: check --project (the project id, not its name or number)",
            429: "throttled even after retries; run again later",
        }.get(status, "the Compute API failed even after retries" if status >= 500 else "refused")
        return OpsError(f"{what}: HTTP {status}: {hint}: {printable(message, 200)}")
    if isinstance(error, TimeoutError):
        return OpsError(f"{what}: the Compute API did not answer in time ({type(error).__name__})")
    if isinstance(error, OSError):  # refused, reset, no route: Google (or its token endpoint) unreachable
        return OpsError(f"{what}: the Compute API could not be reached ({type(error).__name__})")
    return OpsError(f"{what}: {type(error).__name__}: {printable(error, 200)}")


def _expect(condition: bool, what: str, problem: str) -> None:
    if not condition:
        raise Malformed(f"{what}: malformed response: {problem}")


def _time(text: Any, what: str) -> datetime.datetime:
    _expect(isinstance(text, str), what, "creationTimestamp missing")
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"{what}: malformed response: creationTimestamp {printable(text, 40)!r}") from None
    _expect(moment.tzinfo is not None, what, "creationTimestamp has no offset")
    return moment


def _last(url: Any) -> str:
    return str(url).rstrip("/").rsplit("/", 1)[-1]


def _labels(item: dict[str, Any], what: str) -> dict[str, str]:
    labels = item.get("labels", {})
    _expect(isinstance(labels, dict), what, "labels is not a mapping")
    return {str(key): str(value) for key, value in labels.items()}


class GcpJanitor:
    def __init__(
        self,
        compute: Any,
        project: str,
        regions: tuple[str, ...],
        now: datetime.datetime,
        prices: pricing.Prices = pricing.NONE,
        retries: int = 3,
    ) -> None:
        self.compute, self.project, self.regions, self.now = compute, project, regions, now
        self.prices, self.retries = prices, retries

    def _execute(self, what: str, request: Any) -> dict[str, Any]:
        from google.auth.exceptions import GoogleAuthError
        from googleapiclient.errors import HttpError

        try:
            answer = request.execute(num_retries=self.retries)
        except (HttpError, OSError) as error:
            raise explain(error, what) from error
        except GoogleAuthError as error:  # the token could not be had: no route to Google, or refused
            raise OpsError(
                f"{what}: no access token for the Compute API ({type(error).__name__}: {printable(error, 200)}); "
                "check the network and log in again (`gcloud auth application-default login`)"
            ) from error
        except ValueError as error:  # a body that is not JSON
            raise Malformed(f"{what}: malformed response: {printable(error, 200)}") from error
        _expect(isinstance(answer, dict), what, f"expected a JSON object, got {type(answer).__name__}")
        return answer

    def _aggregated(self, collection: Any, key: str, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(scope, item) over every page: scope is `zones/<zone>`, `regions/<region>` or `global`."""
        token, seen = None, set()
        for _ in range(MAX_PAGES):
            request = collection.aggregatedList(project=self.project, maxResults=PAGE_SIZE, pageToken=token)
            page = self._execute(what, request)
            items = page.get("items", {})
            _expect(isinstance(items, dict), what, "items is not a mapping of scopes")
            for scope, listed in items.items():
                _expect(isinstance(listed, dict), what, f"scope {printable(scope, 60)} is not an object")
                entries = listed.get(key, [])
                _expect(isinstance(entries, list), what, f"{key} of {printable(scope, 60)} is not a list")
                for entry in entries:
                    _expect(
                        isinstance(entry, dict) and isinstance(entry.get("name"), str),
                        what,
                        f"a {key} entry has no name",
                    )
                    yield scope, entry
            token = page.get("nextPageToken")
            if not token:
                return
            _expect(isinstance(token, str) and token not in seen, what, "nextPageToken repeats")
            seen.add(token)
        raise Malformed(f"{what}: more than {MAX_PAGES} pages; refusing to go on")

    def _wanted(self, region: str) -> bool:
        return not self.regions or region in self.regions

    def disks(self) -> list[Finding]:
        what = "compute.disks.aggregatedList"
        found = []
        for scope, disk in self._aggregated(self.compute.disks(), "disks", what):
            _expect(scope.startswith("zones/"), what, f"a disk outside a zone ({printable(scope, 60)})")
            zone = scope.removeprefix("zones/")
            region = zone.rsplit("-", 1)[0]
            users = disk.get("users", [])
            _expect(isinstance(users, list), what, "users is not a list")
            if users or not self._wanted(region):
                continue
            try:
                size = float(disk.get("sizeGb", "0"))
            except (TypeError, ValueError):
                raise Malformed(f"{what}: malformed response: sizeGb {printable(disk.get('sizeGb'), 40)!r}") from None
            kind = _last(disk.get("type", ""))
            unit = pricing.PD_UNITS.get(kind)
            found.append(
                Finding(
                    "gcp",
                    "disk",
                    disk["name"],
                    region,
                    f"persistent disk used by no instance ({size:g} GB {kind or '?'})",
                    _time(disk.get("creationTimestamp"), what),
                    _labels(disk, what),
                    monthly_usd=self.prices.per_gib("gcp", unit, size) if unit else None,
                    location=zone,
                )
            )
        return found

    def addresses(self) -> list[Finding]:
        what = "compute.addresses.aggregatedList"
        found = []
        for scope, address in self._aggregated(self.compute.addresses(), "addresses", what):
            region = scope.removeprefix("regions/") if scope.startswith("regions/") else "global"
            _expect(scope == "global" or scope.startswith("regions/"), what, f"scope {printable(scope, 60)}")
            status = address.get("status")
            _expect(isinstance(status, str), what, "an address has no status")
            if status != "RESERVED" or not (region == "global" or self._wanted(region)):
                continue
            kind = str(address.get("addressType", "EXTERNAL")).lower()
            found.append(
                Finding(
                    "gcp",
                    "address",
                    address["name"],
                    region,
                    f"static {kind} address {address.get('address', '')} reserved and used by nothing",
                    _time(address.get("creationTimestamp"), what),
                    _labels(address, what),
                    # The price table has no static-address price: left out rather than guessed.
                    monthly_usd=None,
                    location=scope,
                )
            )
        return found

    def scan(self) -> tuple[list[Finding], list[str]]:
        findings: list[Finding] = []
        errors: list[str] = []
        for kind in (self.disks, self.addresses):
            try:
                findings += kind()
            except OpsError as error:
                errors.append(str(error))
        return findings, errors

    def _request_id(self, finding: Finding) -> str:
        # The same deletion in the same run is the same request: a retried call is done once.
        return str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self.project}/{finding.location}/{finding.id}@{self.now.isoformat()}")
        )

    def delete(self, finding: Finding) -> str:
        request_id = self._request_id(finding)
        project = self.project
        if finding.kind == "disk":
            zone = finding.location or ""
            what = "compute.disks.delete"
            operation = self._execute(
                what, self.compute.disks().delete(project=project, zone=zone, disk=finding.id, requestId=request_id)
            )
            waiter = self.compute.zoneOperations()
            scope: dict[str, str] = {"zone": zone}
        elif finding.kind == "address" and finding.region == "global":
            what = "compute.globalAddresses.delete"
            operation = self._execute(
                what, self.compute.globalAddresses().delete(project=project, address=finding.id, requestId=request_id)
            )
            waiter, scope = self.compute.globalOperations(), {}
        elif finding.kind == "address":
            what = "compute.addresses.delete"
            operation = self._execute(
                what,
                self.compute.addresses().delete(
                    project=project, region=finding.region, address=finding.id, requestId=request_id
                ),
            )
            waiter, scope = self.compute.regionOperations(), {"region": finding.region}
        else:
            raise OpsError(f"the janitor does not delete a {finding.kind}")
        operation = self._settled(what, operation, waiter, scope)
        return what

    def _settled(self, what: str, operation: dict[str, Any], waiter: Any, scope: dict[str, str]) -> dict[str, Any]:
        """The operation once done (one `wait`: Google holds it up to two minutes), or its error."""
        name = operation.get("name")
        _expect(isinstance(name, str) and bool(name), what, "the operation has no name")
        if operation.get("status") != "DONE":
            operation = self._execute(f"{what} (wait)", waiter.wait(project=self.project, operation=name, **scope))
        failure = operation.get("error")
        if failure:
            errors = failure.get("errors", []) if isinstance(failure, dict) else []
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            raise OpsError(f"{what}: {first.get('code', 'failed')}: {printable(first.get('message', failure), 200)}")
        if operation.get("status") != "DONE":
            raise OpsError(f"{what}: operation {printable(name, 80)} still {operation.get('status')}; check it later")
        return operation
