"""The one place rows of the item bank become pure objects (and back)."""

from __future__ import annotations

from examengine.db.models import Item, ItemVersion
from examengine.exam.items import IrtData, IrtModel, ItemDraft, ItemImage, ItemType


def version_to_draft(item: Item, version: ItemVersion) -> ItemDraft:
    return ItemDraft(
        external_id=item.external_id,
        type=ItemType(version.type),
        stem=version.stem,
        options=tuple(version.options),
        key=tuple(version.key),
        explanation=version.explanation,
        requirements=tuple(r.requirement.code for r in version.requirements),
        difficulty=version.difficulty,
        author=item.author,
        source=item.source,
        enemy_group=item.enemy_group,
        images=tuple(ItemImage(i.name, i.media_type, i.data) for i in version.images),
        irt=IrtData(IrtModel(version.irt_model), version.irt_a, version.irt_b, version.irt_c, version.irt_origin),
        location=item.external_id,
    )


def current_version(item: Item) -> ItemVersion:
    return next(v for v in item.versions if v.number == item.current_version)
