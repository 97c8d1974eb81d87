"""Buttons per language: every existing translation gets its own copy of its
template's button texts (the texts sent until now), templates already
requested included (their content is frozen for users, not for this
migration)."""

from odoo.tools import SQL


def migrate(cr, version):
    cr.execute(
        SQL(
            """
            INSERT INTO spoki_template_translation_button
                (translation_id, button_id, template_id, sequence, text,
                 create_uid, write_uid, create_date, write_date)
            SELECT tr.id, b.id, tr.template_id, b.sequence, b.text,
                   1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM spoki_template_translation tr
              JOIN spoki_template_button b ON b.template_id = tr.template_id
             WHERE NOT EXISTS (
                   SELECT 1 FROM spoki_template_translation_button tb
                    WHERE tb.translation_id = tr.id AND tb.button_id = b.id)
            """
        )
    )
