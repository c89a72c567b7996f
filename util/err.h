/* err.h - the one error type used by every cairn module.
 *
 * Every fallible function returns a cairn_err.  CAIRN_OK is zero; everything
 * else is a negative code.  The code is what callers branch on; the message
 * (one line naming the file and the problem) is what users read.  The message
 * lives in a thread-local buffer, like errno: it is the only piece of state
 * outside a handle, because low-level helpers (file I/O, decoders) have no
 * handle to hang it on and threading one through every call would bury the
 * logic. */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

typedef enum cairn_err {
    CAIRN_OK = 0,
    CAIRN_EIO = -1,           /* read/write/fsync failed */
    CAIRN_ENOMEM = -2,        /* allocation failed */
    CAIRN_EINVAL = -3,        /* bad argument or usage */
    CAIRN_ECORRUPT = -4,      /* bytes fail authentication, hash or decoding */
    CAIRN_ENOTFOUND = -5,     /* object, snapshot or file does not exist */
    CAIRN_ENOSTORE = -6,      /* the folder is not a cairn store */
    CAIRN_EVERSION = -7,      /* store format version is not supported */
    CAIRN_EPASSWORD = -8,     /* no key file opens with this password */
    CAIRN_EKEYFILE = -9,      /* key file is damaged */
    CAIRN_ELOCKED = -10,      /* another process holds the store lock */
    CAIRN_ENOSPC = -11,       /* disk full */
    CAIRN_EEXIST = -12,       /* something already exists where it must not */
    CAIRN_EPARTIAL = -13,     /* finished, but some items failed (reported) */
    CAIRN_EAMBIGUOUS = -14,   /* a snapshot prefix matches more than one */
    CAIRN_ESOURCE = -15,      /* the backup source is invalid or incomplete */
    CAIRN_EINTERRUPTED = -16, /* stopped by a signal */
    CAIRN_EREMOTE = -17,      /* a copy target cannot be reached, refuses us or answers wrongly */
    CAIRN_EREFUSED = -18,     /* a safety limit stopped the command (copy --allow-deletes) */
    CAIRN_EUNSUPPORTED = -19, /* the kernel refuses a feature this needs (keyrings: unlock) */
    CAIRN_EMODULE = -20       /* an optional module (util/module.h) is missing or unloadable */
} cairn_err;

/* The size of the message buffer: a message is at most ERR_MSG_MAX - 1
 * bytes; a longer one is cut there (never inside a UTF-8 character). */
enum { ERR_MSG_MAX = 1024 };

/* Records a one-line message for the calling thread and returns code, so
 * that "return err_set(CAIRN_EIO, "%s: %s", path, strerror(errno));" reads
 * naturally.  Any argument may be err_msg() itself (or point into it):
 * "err_set(rc, "snapshot %s cannot be read (%s)", id, err_msg())" wraps the
 * inner message. */
cairn_err err_set(cairn_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps errno to a code (ENOSPC/EDQUOT -> CAIRN_ENOSPC, ENOENT ->
 * CAIRN_ENOTFOUND, ENOMEM -> CAIRN_ENOMEM, else CAIRN_EIO) and records
 * "<what>: <strerror>". */
cairn_err err_errno(int errnum, const char *what);

/* The calling thread's last message ("" if none). */
const char *err_msg(void);

/* Prefixes the current message with "<ctx>: " (used when an outer layer
 * knows the file or object name an inner failure concerns). */
cairn_err err_wrap(cairn_err code, const char *ctx);

/* A short name for a code, for logs and tests. */
const char *err_name(cairn_err code);

#endif
