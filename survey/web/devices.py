"""The kiosk device cookie, shared by the staff page that enrols a tablet (survey.web.desks)
and the kiosk survey that recognises it (survey.web.respond): a signed value with the
device id and its secret, readable only by this application, sent only to /k/."""

from __future__ import annotations

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeSerializer

KIOSK_COOKIE = "skm_kiosk"
KIOSK_COOKIE_DAYS = 400  # browsers cap cookie lifetimes at about this


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kiosk-device")


def cookie_value(device_id: int, secret: str) -> str:
    return _serializer().dumps({"d": device_id, "s": secret})


def remember_device(response: Response, device_id: int, secret: str) -> None:
    response.set_cookie(
        KIOSK_COOKIE, cookie_value(device_id, secret),
        max_age=KIOSK_COOKIE_DAYS * 86400, path="/k/", httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"])


def device_of(request: Request) -> tuple[object, object]:
    """(device id, secret) from the request's kiosk cookie; (None, None) when there is
    none or it was not signed by this application."""
    raw = request.cookies.get(KIOSK_COOKIE)
    if not raw:
        return None, None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None, None
    if not isinstance(data, dict):
        return None, None
    return data.get("d"), data.get("s")
