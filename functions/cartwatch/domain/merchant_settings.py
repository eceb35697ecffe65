"""The store settings a merchant may change on cartwatch's page in the control panel.

The form accepts exactly what the CLI accepts: stages go through the same
:meth:`StageSchedule.parse` as ``cartwatch stores add --stages``, and a flag is on or off.
Each field is one entry of :data:`SETTINGS_FIELDS` (how it is shown, how it is read) and
one attribute of :class:`SettingsChange`; eligibility rules and per-channel stages join
the same way when they exist.  Security settings (``require_signature``) are not here on
purpose: the merchant page may never weaken how deliveries are authenticated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cartwatch.domain.stages import StageSchedule
from cartwatch.domain.store import StoreSettings

# A form value longer than this is not a setting anyone typed (ten stages fit in 60).
MAX_FIELD_LENGTH = 200


@dataclass(frozen=True)
class SettingsChange:
    """A validated submission: what the store's settings become."""

    stages: StageSchedule | None  # None: follow the deployment's default stages
    recovery_links: bool


class InvalidSettings(ValueError):
    """The form holds values the CLI would refuse; ``errors`` maps each field to why."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = dict(errors)


def _stages(raw: str | None) -> StageSchedule | None:
    text = (raw or "").strip()
    return StageSchedule.parse(text) if text else None


def _checkbox(raw: str | None) -> bool:
    # An HTML checkbox sends its value when ticked and nothing at all when not.
    if raw is None:
        return False
    if raw != "on":
        raise ValueError("must be ticked or not")
    return True


@dataclass(frozen=True)
class SettingsField:
    name: str
    label: str
    hint: str
    kind: Literal["text", "checkbox"]
    parse: Callable[[str | None], Any]  # raises ValueError with a message for the merchant
    current: Callable[[StoreSettings, bool], str | bool]  # (settings, has own stages) -> shown value


SETTINGS_FIELDS: tuple[SettingsField, ...] = (
    SettingsField(
        name="stages",
        label="Reminder stages",
        hint="Idle times after which an abandoned cart is announced again, e.g. 1h,24h,48h "
        "(s, m, h or d; up to 10, increasing). Leave empty to use the default.",
        kind="text",
        parse=_stages,
        current=lambda settings, own: str(settings.stages) if own else "",
    ),
    SettingsField(
        name="recovery_links",
        label="Recovery links",
        hint="Put a link that restores the shopper's cart into abandoned-cart events.",
        kind="checkbox",
        parse=_checkbox,
        current=lambda settings, _own: settings.recovery_links,
    ),
)


def read_settings_form(form: Mapping[str, str]) -> SettingsChange:
    """The submitted form as a change, or :class:`InvalidSettings` naming every bad field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in SETTINGS_FIELDS:
        raw = form.get(field.name)
        if raw is not None and len(raw) > MAX_FIELD_LENGTH:
            errors[field.name] = f"at most {MAX_FIELD_LENGTH} characters"
            continue
        try:
            values[field.name] = field.parse(raw)
        except ValueError as error:
            errors[field.name] = str(error)
    if errors:
        raise InvalidSettings(errors)
    return SettingsChange(**values)
