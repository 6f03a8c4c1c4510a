-- 0005: the messages table becomes an index of messages, not a second copy of them.
--
-- A message's words live in its events (onSendMessage, onEditMessage), which is what
-- retransmitEvents serves and what removal scrubs (0004). The text and payload columns were a
-- second copy that nothing read; they doubled the bytes every sendMessage wrote (WAL and
-- checkpoint). What editing and removal need stays: conversation, seq, sender, removed, times.
ALTER TABLE messages DROP COLUMN text;
ALTER TABLE messages DROP COLUMN payload;
