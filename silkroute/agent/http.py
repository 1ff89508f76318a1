"""The control plane over HTTP, as a remote site's agent sees it (pull only: the site opens
every connection, so it needs no inbound port)."""

from __future__ import annotations

from typing import Any

import httpx


class ControlPlaneError(RuntimeError):
    """The control plane refused a request or could not be reached."""


class HttpControlPlane:
    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/v1/agent/heartbeat", body)
        return answer

    def assignments(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._call("GET", "/v1/agent/assignments")
        return answer

    def report(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"/v1/agent/runs/{run_id}/status", body)
        return answer

    def ship_log(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"/v1/agent/runs/{run_id}/logs", body)
        return answer

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise ControlPlaneError(f"cannot reach {self.url}: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            try:
                message = str(response.json().get("message"))
            except ValueError:
                message = response.text[:200]
            raise ControlPlaneError(f"{method} {path}: {message} (HTTP {response.status_code})")
        return response.json()
