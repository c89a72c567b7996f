/* content_export.h - a device snapshot's content written out for people:
 * the camera roll's originals with their capture dates as mtimes, a
 * browsable HTML export of the conversations with their attachments, and
 * the address book as vCards (3.0, RFC 2426).
 *
 * Only files the snapshot holds are written (each verified chunk by chunk
 * as restore does); one that cannot be written is named through warn and
 * the others go on (CAIRN_EPARTIAL at the end).  Names from the databases
 * never climb out of the target folder: a path with ".." or a "/" where a
 * plain name belongs is refused. */
#ifndef CAIRN_CONTENT_EXPORT_H
#define CAIRN_CONTENT_EXPORT_H

#include <stdint.h>

#include "engine/ios/content_contacts.h"
#include "engine/ios/content_messages.h"
#include "engine/ios/content_photos.h"

typedef struct content_export_result {
    uint64_t files;   /* written */
    uint64_t bytes;   /* their bytes */
    uint64_t missing; /* named by the database, not in the snapshot */
    uint64_t failed;  /* could not be written (warned) */
} content_export_result;

/* Each photo to dir/<folder>/<name> (Media/DCIM/100APPLE/IMG_0001.HEIC ->
 * dir/100APPLE/IMG_0001.HEIC), its mtime the capture date. */
cairn_err content_photos_export(content_snap *c, const content_photos *p, const char *dir,
                                content_warn_fn warn, void *wctx, content_export_result *r);

/* dir/index.html (the conversations), dir/chat-<ROWID>.html (each one's
 * messages, times in local time) and dir/attachments/<message ROWID>-<name>.
 * only: one chat, or NULL for all. */
cairn_err content_messages_html(content_snap *c, const content_messages *m,
                                const content_chat *only, const char *dir, content_warn_fn warn,
                                void *wctx, content_export_result *r);

/* Every contact as a vCard into path (CRLF line ends, as the RFC asks). */
cairn_err content_contacts_vcard(const content_contacts *c, const char *path);

#endif
