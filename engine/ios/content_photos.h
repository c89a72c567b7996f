/* content_photos.h - the camera roll of a device snapshot, from Photos'
 * Photos.sqlite (CameraRollDomain Media/PhotoData/Photos.sqlite).
 *
 * The asset table is ZASSET from iOS 14 on and ZGENERICASSET before (one of
 * them is needed: CAIRN_ESOURCE naming both); ZDIRECTORY and ZFILENAME are
 * needed, ZDATECREATED, ZKIND, ZTRASHEDSTATE and ZUUID are optional (a line
 * through warn when missing).  A file is ZDIRECTORY/ZFILENAME under
 * CameraRollDomain Media/ (DCIM/100APPLE/IMG_0001.HEIC).  Assets come by
 * date, then Z_PK. */
#ifndef CAIRN_CONTENT_PHOTOS_H
#define CAIRN_CONTENT_PHOTOS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ios/content.h"

typedef enum content_photo_kind {
    CONTENT_PHOTO = 0, /* ZKIND 0 */
    CONTENT_VIDEO = 1, /* ZKIND 1 */
    CONTENT_OTHER = 2,
} content_photo_kind;

typedef struct content_photo {
    int64_t pk;
    char *uuid;   /* may be NULL */
    int64_t time; /* capture date, Unix seconds */
    content_photo_kind kind;
    int trashed;     /* in Recently Deleted */
    char *path;      /* in CONTENT_PHOTOS_DOMAIN: "Media/DCIM/100APPLE/IMG_0001.HEIC" */
    uint64_t size;   /* the file's size in the snapshot (content_photos_load) */
    int in_snapshot; /* the snapshot holds the file (content_photos_load) */
} content_photo;

typedef struct content_photos {
    size_t n;
    content_photo *photo;
} content_photos;

cairn_err content_photos_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                              content_photos *out);
cairn_err content_photos_load(content_snap *c, content_warn_fn warn, void *ctx,
                              content_photos *out);
/* A photo's identity, as the diff and the deletion alarm compare photos:
 * its UUID, else its path. */
typedef cairn_err (*content_photo_key_fn)(void *ctx, const char *key);
/* The key of every asset content_photos_read would give, in the table's
 * order (not by date), reading nothing else: for the deletion alarm,
 * which only counts the photos gone.  fn's error stops the read. */
cairn_err content_photo_keys_read(sqlite3 *db, const char *file, content_photo_key_fn fn,
                                  void *ctx);
void content_photos_free(content_photos *p);
const char *content_photo_kind_name(content_photo_kind k);

#endif
