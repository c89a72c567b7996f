/* content_messages.h - conversations and messages of a device snapshot,
 * from Messages' sms.db (HomeDomain Library/SMS/sms.db).
 *
 * Tables: chat, message and chat_message_join are needed (one missing:
 * CAIRN_ESOURCE naming it); handle (senders), attachment and
 * message_attachment_join are optional, as are the columns text,
 * attributedBody, handle_id, is_from_me, date and guid (one line each
 * through warn when missing).  The text is message.text or, when that is
 * NULL (iOS 16 and later), decoded from attributedBody
 * (content_typedstream.h).  Dates are Unix seconds (content_apple_time).
 * Chats come in ROWID order, a chat's messages by date then ROWID. */
#ifndef CAIRN_CONTENT_MESSAGES_H
#define CAIRN_CONTENT_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ios/content.h"

typedef struct content_attachment {
    char *name;      /* transfer_name, else the file's last component; may be NULL */
    char *mime;      /* may be NULL */
    char *path;      /* path in CONTENT_ATTACHMENT_DOMAIN, NULL if not under ~/ */
    uint64_t size;   /* total_bytes */
    int in_snapshot; /* the snapshot holds the file (set by content_messages_load) */
} content_attachment;

typedef struct content_message {
    int64_t rowid;
    char *guid;   /* may be NULL (column missing) */
    int64_t time; /* Unix seconds */
    int from_me;
    char *sender; /* handle id (phone number, e-mail); NULL when from me or unknown */
    char *text;   /* NULL when the message has none (attachment only) */
    size_t natt;
    content_attachment *att;
} content_message;

typedef struct content_chat {
    int64_t rowid;
    char *guid;
    char *identifier; /* chat_identifier: a number, an address or "chat<digits>" */
    char *name;       /* display_name, NULL when empty */
    char *service;
    size_t nmsg, cap;
    content_message *msg;
} content_chat;

typedef struct content_messages {
    size_t nchat;
    content_chat *chat;
} content_messages;

/* Reads an open sms.db; file names it in messages. */
cairn_err content_messages_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                                content_messages *out);
/* The conversations alone (no messages: each chat's nmsg is 0), with the
 * schema content_messages_read needs; for the deletion alarm, which only
 * asks which conversations are gone. */
cairn_err content_chats_read(sqlite3 *db, const char *file, content_messages *out);
/* Opens the snapshot's sms.db, reads it, and marks the attachments the
 * snapshot holds. */
cairn_err content_messages_load(content_snap *c, content_warn_fn warn, void *ctx,
                                content_messages *out);
void content_messages_free(content_messages *m);
/* The chat whose ROWID, guid or chat_identifier is id, or NULL. */
const content_chat *content_messages_chat(const content_messages *m, const char *id);

#endif
