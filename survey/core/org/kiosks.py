"""Kiosk devices: staff enrol a desk's tablet, which then answers as that desk's kiosk
(no per-browser cooldown: one device serves many citizens). Enrolment and revocation are
audited. The device proves itself with a secret that only its browser holds (the web
layer keeps it in a signed cookie); only the secret's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.core.audit import Actor, record_event
from survey.core.db import utcnow, write_transaction
from survey.core.errors import NotFound, ValidationError
from survey.core.models import Desk, KioskDevice, Response


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
    QR response, and the responses it still keeps offline are refused when it sends
    them). `desk_ids`: the desks the actor may manage (None: all)."""
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


def identify(session: Session, desk_id: int, device_id: object, secret: object
             ) -> KioskDevice | None:
    """The device of this desk whose id and secret (from its cookie) these are, revoked or
    not (the caller checks `revoked_at`: a revoked tablet is told so); None for anything
    else: no cookie, a wrong secret, a device of another desk."""
    if (not isinstance(device_id, int) or isinstance(device_id, bool)
            or not 0 < device_id < 2**31 or not isinstance(secret, str) or not secret):
        return None
    device = session.get(KioskDevice, device_id)
    if (device is None or device.desk_id != desk_id
            or not hmac.compare_digest(device.secret_hash, _hash(secret))):
        return None
    return device


def recognised(session: Session, desk_id: int, device_id: object, secret: object) -> bool:
    """Whether a device (id and secret from its cookie) is enrolled, not revoked, for this
    desk."""
    device = identify(session, desk_id, device_id, secret)
    return device is not None and device.revoked_at is None


def touch(session: Session, device: KioskDevice, now: datetime) -> None:
    """Note the device's contact (its kiosk page loaded), for the staff's device list. In
    its own short write transaction: a page load otherwise only reads."""
    with write_transaction(session):
        device.last_seen_at = now


def devices_of(session: Session, desk_ids: set[int]) -> dict[int, list[KioskDevice]]:
    """The enrolled (not revoked) devices per desk."""
    devices: dict[int, list[KioskDevice]] = {d: [] for d in desk_ids}
    for device in session.scalars(select(KioskDevice).where(
            KioskDevice.desk_id.in_(desk_ids), KioskDevice.revoked_at.is_(None))
            .order_by(KioskDevice.id)):
        devices[device.desk_id].append(device)
    return devices


def revoked_of(session: Session, desk_id: int) -> list[KioskDevice]:
    """The desk's revoked devices, the latest revocation first (the staff's history)."""
    return list(session.scalars(select(KioskDevice).where(
        KioskDevice.desk_id == desk_id, KioskDevice.revoked_at.is_not(None))
        .order_by(KioskDevice.revoked_at.desc(), KioskDevice.id.desc())))


def responses_stored(session: Session, device_ids: set[int]) -> dict[int, int]:
    """How many responses each device has sent that are stored (0 for none)."""
    counts = dict.fromkeys(device_ids, 0)
    if device_ids:
        counts.update(session.execute(
            select(Response.device_id, func.count()).where(Response.device_id.in_(device_ids))
            .group_by(Response.device_id)).tuples().all())
    return counts
