-- 0004: which events carried a message's text, so that removing a message can scrub it.
--
-- A removed message keeps its row (removed = 1) and its events keep their seq, so history and
-- retransmission stay gap-free; but the text and payload are erased from the message row, from
-- its onSendMessage event (seq = messages.seq) and from every onEditMessage event listed here,
-- so retransmitEvents never hands a removed message's words to anyone again.
CREATE TABLE message_edits (
    message_uuid  TEXT    NOT NULL,
    conv_id       INTEGER NOT NULL REFERENCES conversations (id),
    seq           INTEGER NOT NULL,          -- seq of the onEditMessage event
    PRIMARY KEY (message_uuid, seq)
) STRICT, WITHOUT ROWID;

-- Edits stored before this migration.
INSERT OR IGNORE INTO message_edits (message_uuid, conv_id, seq)
    SELECT json_extract(payload, '$.object.uuid'), conv_id, seq
      FROM events
     WHERE event = 'onEditMessage' AND json_extract(payload, '$.object.uuid') IS NOT NULL;
