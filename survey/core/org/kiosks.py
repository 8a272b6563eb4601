"""Kiosk devices: staff enrol a desk's tablet, which then answers as that desk's kiosk
(no per-browser cooldown: one device serves many citizens). Enrolment and revocation are
audited. The device proves itself with a secret that only its browser holds (the web
layer keeps it in a signed cookie); only the secret's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.db import utcnow
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Desk, KioskDevice


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def enrol(session: Session, desk: Desk, name: str, *, actor: Actor
          ) -> tuple[KioskDevice, str]:
    """Enrol a device for this desk; returns it and its secret (handed to the device once,
    never shown or stored)."""
    if not desk.active:
        raise ValidationError(f"desk {desk.code} is closed", code="desk_closed")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError("a kiosk device needs a name of 1 to 80 characters",
                              code="kiosk_name")
    secret = secrets.token_urlsafe(32)
    device = KioskDevice(desk_id=desk.id, name=name, secret_hash=_hash(secret),
                         created_at=utcnow(), created_by=actor.id if actor else None)
    session.add(device)
    session.flush()
    record_event(session, "kiosk_enrolled", actor, target=f"{desk.agency.code}/{desk.code}",
                 details={"device": device.id, "name": name})
    return device, secret


def revoke(session: Session, device_id: int, *, actor: Actor,
           desk_ids: set[int] | None = None) -> KioskDevice:
    """Stop a device from answering as a kiosk (its next submission counts as an ordinary
    QR response). `desk_ids`: the desks the actor may manage (None: all)."""
    device = session.get(KioskDevice, device_id)
    if device is None or (desk_ids is not None and device.desk_id not in desk_ids):
        raise NotFound(f"no kiosk device {device_id}")
    if device.revoked_at is not None:
        raise ValidationError("this device was already revoked", code="kiosk_revoked")
    device.revoked_at = utcnow()
    session.flush()
    record_event(session, "kiosk_revoked", actor,
                 target=f"{device.desk.agency.code}/{device.desk.code}",
                 details={"device": device.id, "name": device.name})
    return device


def recognised(session: Session, desk_id: int, device_id: object, secret: object) -> bool:
    """Whether a device (id and secret from its cookie) is enrolled, not revoked, for this
    desk."""
    if not isinstance(device_id, int) or not isinstance(secret, str) or not secret:
        return False
    device = session.get(KioskDevice, device_id) if 0 < device_id < 2**31 else None
    return (device is not None and device.revoked_at is None and device.desk_id == desk_id
            and hmac.compare_digest(device.secret_hash, _hash(secret)))


def devices_of(session: Session, desk_ids: set[int]) -> dict[int, list[KioskDevice]]:
    """The enrolled (not revoked) devices per desk."""
    devices: dict[int, list[KioskDevice]] = {d: [] for d in desk_ids}
    for device in session.scalars(select(KioskDevice).where(
            KioskDevice.desk_id.in_(desk_ids), KioskDevice.revoked_at.is_(None))
            .order_by(KioskDevice.id)):
        devices[device.desk_id].append(device)
    return devices
