"""A small HTTP client for the control plane's API (used by the CLI, the demo and benchmarks)."""

from __future__ import annotations

import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    """The server refused the request (the message is the server's) or could not be reached."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0):
        self.url = (url or os.environ.get("SILKROUTE_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("SILKROUTE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(
                method,
                path,
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=headers,
            )
        except httpx.TransportError as exc:
            raise ApiError(
                f"cannot reach {self.url} ({exc.__class__.__name__}); is `silkroute server` "
                "running, and is SILKROUTE_URL right?"
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                message, code = str(body.get("message")), str(body.get("code"))
            except ValueError:
                message, code = response.text[:200], ""
            raise ApiError(f"{message} (HTTP {response.status_code})", response.status_code, code)
        return response.json()

    # ----- one method per endpoint -------------------------------------------------------
    def submit(self, job: dict[str, Any], idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", "/v1/jobs", json=job, headers=headers)

    def submit_batch(self, jobs: list[dict[str, Any]], idempotency_key: str | None = None) -> Any:
        """Several jobs stored all or none (`POST /v1/jobs:batch`)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", "/v1/jobs:batch", json={"jobs": jobs}, headers=headers)

    def jobs(self, **filters: Any) -> Any:
        return self.request("GET", "/v1/jobs", params=filters)

    def job(self, job_id: int) -> Any:
        return self.request("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id: int) -> Any:
        return self.request("DELETE", f"/v1/jobs/{job_id}")

    def logs(self, job_id: int, offset: int = 0, stream: str = "stdout") -> Any:
        return self.request(
            "GET", f"/v1/jobs/{job_id}/logs", params={"offset": offset, "stream": stream}
        )

    def usage(self, **filters: Any) -> Any:
        return self.request("GET", "/v1/usage", params=filters)

    def add_site(self, site: dict[str, Any]) -> Any:
        return self.request("POST", "/v1/sites", json=site)

    def sites(self) -> Any:
        return self.request("GET", "/v1/sites")

    def site(self, name: str) -> Any:
        return self.request("GET", f"/v1/sites/{name}")

    def update_site(self, name: str, changes: dict[str, Any]) -> Any:
        """Change a site's operator, prices, latencies or datasets (`PATCH /v1/sites/{name}`:
        prices and latencies merge by key, a None value removes one; datasets are replaced)."""
        return self.request("PATCH", f"/v1/sites/{name}", json=changes)

    def create_tenant(self, tenant: dict[str, Any]) -> Any:
        return self.request("POST", "/v1/tenants", json=tenant)

    def tenants(self) -> Any:
        return self.request("GET", "/v1/tenants")

    def update_tenant(self, name: str, changes: dict[str, Any]) -> Any:
        return self.request("PATCH", f"/v1/tenants/{name}", json=changes)

    def tokens(self) -> Any:
        return self.request("GET", "/v1/tokens")

    def create_token(self, body: dict[str, Any]) -> Any:
        return self.request("POST", "/v1/tokens", json=body)

    def revoke_token(self, token_id: int) -> Any:
        return self.request("DELETE", f"/v1/tokens/{token_id}")

    def nodes(self, site: str | None = None) -> Any:
        return self.request("GET", "/v1/nodes", params={"site": site})

    def add_nodes(self, site: str, groups: list[dict[str, Any]]) -> Any:
        return self.request("POST", f"/v1/sites/{site}/nodes", json={"nodes": groups})

    def change_nodes(self, action: str, site: str, nodes: list[str] | None) -> Any:
        return self.request(
            "POST", f"/v1/sites/{site}/{action}", json={"nodes": nodes} if nodes else {}
        )
