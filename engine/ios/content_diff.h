/* content_diff.h - what changed in a phone's content between two device
 * snapshots, as its apps see it: per conversation the messages added and
 * removed (whole conversations too), the photos added and removed, the
 * contacts added, removed and changed; and the deletion alarm built on it.
 *
 * Identities: a conversation by its chat guid (else chat_identifier), a
 * message by its guid (else ROWID), a photo by its UUID (else its path), a
 * contact by name and organization (changed: other phone numbers or e-mail
 * addresses).  Each of the three readers runs on both snapshots; one that
 * cannot read (a database missing or of a schema it does not know) is
 * named through warn and the others go on: CAIRN_EPARTIAL at the end. */
#ifndef CAIRN_CONTENT_DIFF_H
#define CAIRN_CONTENT_DIFF_H

#include <stdint.h>

#include "engine/ios/content.h"

typedef enum content_change_kind {
    CONTENT_CHAT_ADDED,
    CONTENT_CHAT_REMOVED,
    CONTENT_MESSAGE_ADDED,
    CONTENT_MESSAGE_REMOVED,
    CONTENT_PHOTO_ADDED,
    CONTENT_PHOTO_REMOVED,
    CONTENT_CONTACT_ADDED,
    CONTENT_CONTACT_REMOVED,
    CONTENT_CONTACT_CHANGED,
} content_change_kind;

typedef struct content_change {
    content_change_kind kind;
    const char *chat;   /* messages and chats: the conversation (identifier or name) */
    const char *item;   /* message text ("" if none), photo path, contact name */
    const char *detail; /* message: sender ("me"); photo: kind; contact: what changed; or NULL */
    int64_t time;       /* messages, photos: when; else 0 */
    uint64_t count;     /* chats: messages in the conversation */
} content_change;

typedef void (*content_change_fn)(void *ctx, const content_change *c);

typedef struct content_diff_summary {
    uint64_t chats_added, chats_removed, messages_added, messages_removed;
    uint64_t photos_before, photos_after, photos_added, photos_removed;
    uint64_t contacts_added, contacts_removed, contacts_changed;
    unsigned failed; /* readers that could not compare (each warned) */
} content_diff_summary;

/* Changes come grouped: conversations (each chat's messages in date
 * order), then photos, then contacts. */
cairn_err content_diff_run(store *s, const snapshot *a, const snapshot *b, content_change_fn fn,
                           void *ctx, content_warn_fn warn, void *wctx, content_diff_summary *sum);

/* The deletion alarm: b lost more than photo_percent % of a's photos, or a
 * whole conversation.  *fired, and a one-line reason ("lost 15 of 20
 * photos (75 %), 1 conversation") in reason. */
cairn_err content_alarm_check(store *s, const snapshot *a, const snapshot *b,
                              unsigned photo_percent, int *fired, char *reason, size_t cap);

#endif
