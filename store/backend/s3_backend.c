/* s3_backend.c - copy targets in an S3-compatible bucket (AWS S3, Ceph
 * radosgw, MinIO...), spoken to with libcurl and AWS Signature Version 4.
 *
 * URL: s3://bucket[/prefix][?endpoint=http[s]://host[:port]&region=R&style=path|virtual
 *        &lock_mode=GOVERNANCE|COMPLIANCE&lock_days=N]
 *   lock_mode (with lock_days, default 30): every object is written with
 *   Object Lock retention (x-amz-object-lock-mode and
 *   x-amz-object-lock-retain-until-date, signed; the bucket must have
 *   Object Lock enabled): its version cannot be deleted or overwritten
 *   before then, whatever credentials ask (GOVERNANCE: unless a user with
 *   s3:BypassGovernanceRetention says so).
 *   Objects are stored as <prefix>/<name> (or <name> without a prefix).
 *   Percent-escapes in the prefix and in parameter values are decoded.
 *   Without an endpoint we talk to https://s3.<region>.amazonaws.com, by
 *   default in virtual-host style (https://<bucket>.s3.<region>...); with an
 *   endpoint the default is path style (<endpoint>/<bucket>/<key>), which
 *   every S3 clone understands.  Credentials come from $AWS_ACCESS_KEY_ID and
 *   $AWS_SECRET_ACCESS_KEY ($AWS_SESSION_TOKEN for temporary ones); the
 *   secret is only ever an HMAC key: it is not sent, logged or put in a
 *   message, and it is wiped when the backend closes.  Opening does no
 *   network I/O: a bad endpoint or bucket shows at the first operation.
 *
 * Requests: one curl easy handle per backend, so the connection is reused.
 * Every request is signed with SigV4 over host, x-amz-date,
 * x-amz-content-sha256 (the real SHA-256 of the payload, never
 * UNSIGNED-PAYLOAD, so the server checks the bytes it got against the
 * signature), Content-MD5 for uploads (the server checks it too and answers
 * BadDigest) and x-amz-security-token when given.
 *
 * put_file: files up to SINGLE_PUT_MAX (16 MiB, the size of a cairn pack)
 * go in one PUT; larger ones as a multipart upload of PART_SIZE parts
 * (CreateMultipartUpload, UploadPart with Content-MD5 each,
 * CompleteMultipartUpload; AbortMultipartUpload when anything fails).  Both
 * make the object appear atomically, so a reader never sees a partial one.
 * The file is read twice (hash, then send): it is a local file, and the
 * signature needs the hash before the body.  After the upload a HEAD must
 * report the file's length.
 *
 * Incomplete multipart uploads (a copy killed mid-upload) are invisible but
 * cost storage.  The first put_file of a backend lists the multipart
 * uploads under the prefix (ListMultipartUploads) and aborts those that
 * were started more than an hour before, by the server's clock (its Date
 * header), so a second copy running against the same target does not lose
 * an upload in progress.  A server that refuses the listing
 * (AccessDenied, NotImplemented) is left alone.
 *
 * Retries: connection errors, timeouts, HTTP 408/429/5xx and the S3 codes
 * SlowDown, InternalError and RequestTimeout are retried up to 5 attempts
 * with exponential backoff and jitter (0.2 s doubling to 3 s, each delay
 * drawn from its upper half); other answers are final.  Connecting times
 * out after 10 s, and a transfer that moves less than 1 KiB/s (as curl
 * averages it) or no byte at all for the timeout ($CAIRN_S3_TIMEOUT
 * seconds, 1..3600, default 30, like SFTP's $CAIRN_SFTP_TIMEOUT) is
 * dropped (a dead server or network); a request that
 * stalls so is tried once more only, and once a request has given up so,
 * later requests of the backend (the abort of an upload, the next object)
 * stall only once before they give up too, until one gets an answer: a
 * server that stops answering costs a command about twice the timeout plus
 * one timeout per request it still makes, not five times each.
 *
 * Byte counters count what went over the wire: every payload byte handed to
 * curl (bytes_sent) or received into the local file (bytes_received),
 * including the bytes of attempts that failed and were retried; request
 * and answer XML, headers and the verifying HEAD are not counted.
 *
 * Errors: 404 of an object is CAIRN_ENOTFOUND; EntityTooLarge,
 * QuotaExceeded, XMinioStorageFull and HTTP 507 are CAIRN_ENOSPC;
 * everything else the server says, and failing to reach it, is
 * CAIRN_EREMOTE.  Messages are "<url>: <operation> <object>: <what>" with
 * the HTTP status and the S3 error code of the answer's XML body.
 *
 * Test knobs (environment): CAIRN_S3_RETRIES (attempts, 1..20),
 * CAIRN_S3_STALL_SECS (the older name of $CAIRN_S3_TIMEOUT), CAIRN_S3_LIST_PAGE
 * (max-keys of a listing page, 1..1000) and CAIRN_S3_STALE_SECS (the age of
 * an incomplete upload that the first put aborts; 0 aborts them all). */
#include "store/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "util/codec.h"
#include "util/fsutil.h"

enum {
    SINGLE_PUT_MAX = 16 << 20, /* larger files go as multipart uploads */
    PART_SIZE = 8 << 20,       /* doubled until the parts are at most MAX_PARTS */
    MAX_PARTS = 10000,         /* S3's limit */
    RESP_MAX = 16 << 20,       /* the largest XML answer we buffer */
    HASH_BUF = 1 << 20,
    ATTEMPTS = 5,
    BACKOFF_FIRST_MS = 200,
    BACKOFF_MAX_MS = 3000,
    CONNECT_TIMEOUT_S = 10,
    STALL_SECS = 30,
    LOW_SPEED_BYTES = 1024,
    LIST_PAGE = 1000,
    STALE_UPLOAD_SECS = 3600,
    SECRET_MAX = 256,
    SHA256_HEX = 2 * crypto_hash_sha256_BYTES + 1,
    MD5_B64 = 25, /* base64 of 16 bytes, with its NUL */
    ETAG_MAX = 128,
};

/* SHA-256 of the empty payload. */
static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* S3 error codes that mean "the target is full". */
static const char *const full_codes[] = {"EntityTooLarge", "QuotaExceeded", "XMinioStorageFull",
                                         "InsufficientStorage"};
/* S3 error codes worth another attempt whatever the HTTP status. */
static const char *const retry_codes[] = {"SlowDown", "InternalError", "RequestTimeout",
                                          "ServiceUnavailable", "Throttling"};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

typedef struct s3_backend {
    backend b;
    CURL *curl;
    char *bucket;
    char *prefix;     /* "" or "a/b": no leading, trailing or doubled '/' */
    char *base;       /* scheme://authority that request paths are appended to */
    const char *host; /* the Host header: base without its scheme */
    int virtual_style;
    char region[64];
    char *access_key, *secret_key, *token; /* secret_key is wiped on close */
    int attempts;
    long stall_secs;
    unsigned list_page;
    long stale_secs;
    int cleaned;        /* stale multipart uploads were looked for */
    int stalled;        /* the last request gave up on a stall: the server looks dead */
    char lock_mode[16]; /* "" or GOVERNANCE / COMPLIANCE */
    unsigned lock_days;
    char errbuf[CURL_ERROR_SIZE];
} s3_backend;

/* ---- text building (util/codec.h's cbuf) --------------------------------- */

/* AWS's UriEncode: everything but A-Z a-z 0-9 - _ . ~ (and '/' in a path)
 * as %XX; the signature covers this exact form, so the URL we send uses it
 * too. */
static void put_uri(cbuf *s, const char *str, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        const unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            cbuf_put(s, p, 1);
        } else {
            const char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            cbuf_put(s, esc, 3);
        }
    }
}

/* XML-escapes str (for the bodies we send). */
static void put_xml_escaped(cbuf *s, const char *str)
{
    for (const char *p = str; *p; p++) {
        if (*p == '&')
            cbuf_puts(s, "&amp;");
        else if (*p == '<')
            cbuf_puts(s, "&lt;");
        else if (*p == '>')
            cbuf_puts(s, "&gt;");
        else
            cbuf_put(s, p, 1);
    }
}

/* ---- minimal XML reading ------------------------------------------------- */

/* The raw text of the first <tag>...</tag> in [p, end) as [*a, *z); 0 if
 * there is none.  S3 answers put no attributes on the elements we read,
 * and '<' in text is always escaped, so the closing tag ends the text. */
static int xml_find(const char *p, const char *end, const char *tag, const char **a, const char **z)
{
    char open[64], close[64];
    const int on = snprintf(open, sizeof open, "<%s>", tag);
    const int cn = snprintf(close, sizeof close, "</%s>", tag);
    if (p >= end)
        return 0;
    const char *const s = memmem(p, (size_t)(end - p), open, (size_t)on);
    if (!s)
        return 0;
    const char *const t = memmem(s + on, (size_t)(end - s - on), close, (size_t)cn);
    if (!t)
        return 0;
    *a = s + on;
    *z = t;
    return 1;
}

static void utf8_put(cbuf *out, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    cbuf_put(out, u, n);
}

/* Decodes one entity (the text between '&' and ';'); -1 if unknown. */
static int xml_entity(cbuf *out, const char *e, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == n && memcmp(e, named[i].name, n) == 0) {
            cbuf_put(out, &named[i].c, 1);
            return 0;
        }
    }
    if (n < 2 || e[0] != '#')
        return -1;
    const int hexa = e[1] == 'x' || e[1] == 'X';
    const char *d = e + 1 + hexa;
    const char *const end = e + n;
    if (d == end)
        return -1;
    unsigned long cp = 0;
    for (; d < end; d++) {
        int v;
        if (*d >= '0' && *d <= '9')
            v = *d - '0';
        else if (hexa && *d >= 'a' && *d <= 'f')
            v = *d - 'a' + 10;
        else if (hexa && *d >= 'A' && *d <= 'F')
            v = *d - 'A' + 10;
        else
            return -1;
        cp = cp * (hexa ? 16 : 10) + (unsigned long)v;
        if (cp > 0x10ffff)
            return -1;
    }
    /* NUL would cut the name short; surrogates are not characters */
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    utf8_put(out, cp);
    return 0;
}

/* Replaces out's contents with the decoded text [a, z); -1 if malformed
 * (check out->failed separately). */
static int xml_text(cbuf *out, const char *a, const char *z)
{
    cbuf_reset(out);
    cbuf_put(out, "", 0);
    while (a < z) {
        const char *const amp = memchr(a, '&', (size_t)(z - a));
        if (!amp) {
            cbuf_put(out, a, (size_t)(z - a));
            break;
        }
        cbuf_put(out, a, (size_t)(amp - a));
        const size_t room = (size_t)(z - amp - 1) < 12 ? (size_t)(z - amp - 1) : 12;
        const char *const semi = memchr(amp + 1, ';', room);
        if (!semi || xml_entity(out, amp + 1, (size_t)(semi - amp - 1)) != 0)
            return -1;
        a = semi + 1;
    }
    if (!out->failed && strlen(cbuf_text(out)) != out->len)
        return -1; /* a raw NUL */
    return 0;
}

/* The S3 error Code of an <Error> answer, restricted to [A-Za-z0-9.] so it
 * can go into a message; "" if none. */
static void error_code(const cbuf *resp, char *code, size_t cap)
{
    const char *a, *z;
    code[0] = '\0';
    if (!resp->data || !memmem(cbuf_text(resp), resp->len, "<Error>", 7) ||
        !xml_find(cbuf_text(resp), cbuf_text(resp) + resp->len, "Code", &a, &z))
        return;
    size_t n = 0;
    for (; a < z && n + 1 < cap; a++) {
        const char c = *a;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')
            code[n++] = c;
    }
    code[n] = '\0';
}

static int in_list(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return 1;
    return 0;
}

/* ---- hashing ------------------------------------------------------------- */

static void sha256_hex(const void *data, size_t len, char out[SHA256_HEX])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    fs_hex(h, sizeof h, out);
}

/* SHA-256 (hex, for x-amz-content-sha256) and MD5 (base64, for Content-MD5)
 * of len bytes of fd at off. */
static cairn_err hash_range(int fd, uint64_t off, uint64_t len, const char *path,
                            char sha_hex[SHA256_HEX], char md5_b64[MD5_B64])
{
    cairn_err rc = CAIRN_OK;
    crypto_hash_sha256_state sha;
    uint8_t sha_bin[crypto_hash_sha256_BYTES], md5_bin[EVP_MAX_MD_SIZE];
    unsigned md5_len = 0;
    uint8_t *const buf = malloc(HASH_BUF);
    EVP_MD_CTX *const md5 = EVP_MD_CTX_new();
    if (!buf || !md5) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (EVP_DigestInit_ex(md5, EVP_md5(), NULL) != 1) {
        rc = err_set(CAIRN_EIO, "%s: MD5 is not available from libcrypto", path);
        goto out;
    }
    crypto_hash_sha256_init(&sha);
    while (len > 0) {
        const size_t n = len < HASH_BUF ? (size_t)len : HASH_BUF;
        rc = fs_pread_all(fd, buf, n, off, path);
        if (rc)
            goto out;
        crypto_hash_sha256_update(&sha, buf, n);
        if (EVP_DigestUpdate(md5, buf, n) != 1) {
            rc = err_set(CAIRN_EIO, "%s: MD5 failed", path);
            goto out;
        }
        off += n;
        len -= n;
    }
    crypto_hash_sha256_final(&sha, sha_bin);
    if (EVP_DigestFinal_ex(md5, md5_bin, &md5_len) != 1 || md5_len != 16) {
        rc = err_set(CAIRN_EIO, "%s: MD5 failed", path);
        goto out;
    }
    fs_hex(sha_bin, sizeof sha_bin, sha_hex);
    sodium_bin2base64(md5_b64, MD5_B64, md5_bin, 16, sodium_base64_VARIANT_ORIGINAL);
out:
    EVP_MD_CTX_free(md5);
    free(buf);
    return rc;
}

/* ---- signing ------------------------------------------------------------- */

static void hmac(uint8_t out[crypto_auth_hmacsha256_BYTES], const void *key, size_t key_len,
                 const char *msg)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

/* Appends the SigV4 headers of a request (and Host, Content-MD5) to
 * *hdrs.  path and query are exactly what the URL carries. */
static cairn_err sign(s3_backend *s, const char *method, const char *path, const char *query,
                      const char *payload_hash, const char *content_md5, int lock,
                      struct curl_slist **hdrs)
{
    char until[24] = "";
    char amz_date[20], date[9], scope[128], creq_hash[SHA256_HEX], sig_hex[SHA256_HEX];
    char key0[4 + SECRET_MAX];
    uint8_t k[crypto_auth_hmacsha256_BYTES], sig[crypto_auth_hmacsha256_BYTES];
    cbuf creq = {0}, line = {0};
    struct tm tm;
    cairn_err rc = CAIRN_OK;
    const time_t now = time(NULL);
    if (!gmtime_r(&now, &tm) || strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return err_set(CAIRN_EIO, "%s: cannot format the time", s->b.url);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, s->region);
    const char *const lock_mode = lock && s->lock_mode[0] ? s->lock_mode : NULL;
    if (lock_mode) {
        const time_t t = now + (time_t)s->lock_days * 86400;
        struct tm ut;
        if (!gmtime_r(&t, &ut) || !strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &ut))
            return err_set(CAIRN_EIO, "%s: cannot format the time", s->b.url);
    }
    char signed_headers[200];
    /* sorted, as the canonical request lists them */
    snprintf(signed_headers, sizeof signed_headers, "%shost;x-amz-content-sha256;x-amz-date%s%s",
             content_md5 ? "content-md5;" : "",
             lock_mode ? ";x-amz-object-lock-mode;x-amz-object-lock-retain-until-date" : "",
             s->token ? ";x-amz-security-token" : "");

    /* canonical request: headers in sorted order, lowercase names */
    cbuf_printf(&creq, "%s\n%s\n%s\n", method, path, query);
    if (content_md5)
        cbuf_printf(&creq, "content-md5:%s\n", content_md5);
    cbuf_printf(&creq, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n", s->host, payload_hash,
                amz_date);
    if (lock_mode)
        cbuf_printf(&creq, "x-amz-object-lock-mode:%s\nx-amz-object-lock-retain-until-date:%s\n",
                    lock_mode, until);
    if (s->token)
        cbuf_printf(&creq, "x-amz-security-token:%s\n", s->token);
    cbuf_printf(&creq, "\n%s\n%s", signed_headers, payload_hash);
    if (creq.failed) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
        goto out;
    }
    sha256_hex(creq.data, creq.len, creq_hash);

    /* signing key: HMAC chain over date, region, service, terminator */
    const size_t sk_len = strlen(s->secret_key);
    memcpy(key0, "AWS4", 4);
    memcpy(key0 + 4, s->secret_key, sk_len);
    hmac(k, key0, 4 + sk_len, date);
    hmac(k, k, sizeof k, s->region);
    hmac(k, k, sizeof k, "s3");
    hmac(k, k, sizeof k, "aws4_request");
    cbuf_printf(&line, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
    if (line.failed) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
        goto out;
    }
    hmac(sig, k, sizeof k, cbuf_text(&line));
    fs_hex(sig, sizeof sig, sig_hex);

    const char *names[] = {"Host: ",
                           "x-amz-date: ",
                           "x-amz-content-sha256: ",
                           "x-amz-security-token: ",
                           "Content-MD5: ",
                           "x-amz-object-lock-mode: ",
                           "x-amz-object-lock-retain-until-date: "};
    const char *values[] = {s->host,
                            amz_date,
                            payload_hash,
                            s->token,
                            content_md5,
                            lock_mode,
                            lock_mode ? until : NULL};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!values[i])
            continue;
        cbuf_reset(&line);
        cbuf_printf(&line, "%s%s", names[i], values[i]);
        struct curl_slist *const h =
            line.failed ? NULL : curl_slist_append(*hdrs, cbuf_text(&line));
        if (!h) {
            rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
            goto out;
        }
        *hdrs = h;
    }
    cbuf_reset(&line);
    cbuf_printf(&line,
                "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                "Signature=%s",
                s->access_key, scope, signed_headers, sig_hex);
    struct curl_slist *const h = line.failed ? NULL : curl_slist_append(*hdrs, cbuf_text(&line));
    if (!h) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
        goto out;
    }
    *hdrs = h;
out:
    sodium_memzero(key0, sizeof key0);
    sodium_memzero(k, sizeof k);
    cbuf_free(&creq);
    cbuf_free(&line);
    return rc;
}

/* ---- one request, with retries ------------------------------------------ */

typedef struct s3_req {
    /* what to send */
    const char *method;
    const char *key;          /* the full object key, NULL for the bucket */
    const char *query;        /* canonical query string, "" for none */
    const char *payload_hash; /* NULL: the empty payload */
    const char *content_md5;  /* NULL: none */
    int lock;                 /* a new object: with the target's Object Lock retention */
    const uint8_t *body;      /* a body in memory, or */
    int body_fd;              /* a range of a file (-1: none) */
    const char *body_path;
    uint64_t body_off, body_len;
    int count_sent;    /* the body is object payload: count it in bytes_sent */
    const char *range; /* a "Range: bytes=A-B" header line, or NULL */
    int sink_fd;       /* a 2xx answer's body goes to this file (-1: to resp) */
    const char *sink_path;
    /* what came back (of the last attempt) */
    long status;
    cbuf resp;
    curl_off_t length; /* Content-Length, -1 if none */
    char etag[ETAG_MAX];
    time_t date; /* the server's Date header, 0 if none */
    uint64_t sunk;
    /* transfer state */
    s3_backend *s;
    uint64_t pos;
    cairn_err local_rc; /* a local read or write failed: not the server's fault */
    /* no-progress watch (progress_cb): bytes moved and when they last did */
    curl_off_t moved;
    struct timespec moved_at;
    int no_progress; /* the attempt was dropped for moving nothing */
} s3_req;

static void req_init(s3_req *r, s3_backend *s, const char *method, const char *key,
                     const char *query)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->method = method;
    r->key = key;
    r->query = query ? query : "";
    r->body_fd = -1;
    r->sink_fd = -1;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    s3_req *const r = ud;
    size_t want = size * nitems;
    const uint64_t left = r->body_len - r->pos;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    if (r->body) {
        memcpy(buf, r->body + r->pos, want);
    } else {
        ssize_t n;
        do
            n = pread(r->body_fd, buf, want, (off_t)(r->body_off + r->pos));
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            r->local_rc =
                n < 0 ? err_errno(errno, r->body_path)
                      : err_set(CAIRN_EIO, "%s: file shrank during the upload", r->body_path);
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    }
    r->pos += want;
    if (r->count_sent)
        r->s->b.bytes_sent += want;
    return want;
}

/* curl rewinds the body when it must send it again on the same request
 * (e.g. after a 417 to Expect: 100-continue). */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    s3_req *const r = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    r->pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    s3_req *const r = ud;
    const size_t len = size * nmemb;
    long status = 0;
    if (curl_easy_getinfo(r->s->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (r->sink_fd >= 0 && status >= 200 && status < 300) {
        const cairn_err rc = fs_write_all(r->sink_fd, data, len, r->sink_path);
        if (rc) {
            r->local_rc = rc;
            return 0;
        }
        r->sunk += len;
        r->s->b.bytes_received += len;
        return len;
    }
    if (r->resp.len + len > RESP_MAX) {
        r->local_rc = err_set(CAIRN_EREMOTE, "%s: the server's answer is larger than %d bytes",
                              r->s->b.url, RESP_MAX);
        return 0;
    }
    cbuf_put(&r->resp, data, len);
    if (r->resp.failed) {
        r->local_rc = err_set(CAIRN_ENOMEM, "%s: out of memory", r->s->b.url);
        return 0;
    }
    return len;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *ud)
{
    s3_req *const r = ud;
    const size_t len = size * nitems;
    char value[ETAG_MAX];
    const char *v = NULL;
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new answer (after 100 Continue): forget the previous one's */
        r->etag[0] = '\0';
        r->date = 0;
        return len;
    }
    if (len > 5 && strncasecmp(data, "ETag:", 5) == 0)
        v = data + 5;
    else if (len > 5 && strncasecmp(data, "Date:", 5) == 0)
        v = data + 5;
    if (!v)
        return len;
    const char *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    const size_t n = (size_t)(end - v);
    if (n >= sizeof value)
        return len;
    memcpy(value, v, n);
    value[n] = '\0';
    if (data[0] == 'E' || data[0] == 'e') {
        memcpy(r->etag, value, n + 1);
    } else {
        const time_t t = curl_getdate(value, NULL);
        r->date = t > 0 ? t : 0;
    }
    return len;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (ce == CURLE_OK)                                                                        \
            ce = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Drops an attempt that moved no byte for the timeout.  curl's low-speed
 * limit alone averages over its last seconds, so a burst into the socket
 * buffers of a server that has just hung (the kernel still accepts a few
 * MB) kept an attempt alive for several seconds past the timeout. */
static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    s3_req *const r = ud;
    (void)dltotal;
    (void)ultotal;
    if (dlnow + ulnow != r->moved) {
        r->moved = dlnow + ulnow;
        clock_gettime(CLOCK_MONOTONIC, &r->moved_at);
        return 0;
    }
    if (since(&r->moved_at) < (double)r->s->stall_secs)
        return 0;
    r->no_progress = 1;
    return 1;
}

/* One attempt of r at url. */
static CURLcode attempt(s3_backend *s, s3_req *r, const char *url, struct curl_slist *hdrs)
{
    CURL *const c = s->curl;
    CURLcode ce = CURLE_OK;
    curl_easy_reset(c); /* keeps the connection and DNS caches */
    s->errbuf[0] = '\0';
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, s->errbuf);
    SETOPT(CURLOPT_USERAGENT, "cairn");
    SETOPT(CURLOPT_PATH_AS_IS, 1L); /* the signed path is the path sent */
    SETOPT(CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    SETOPT(CURLOPT_LOW_SPEED_TIME, s->stall_secs);
    r->moved = 0;
    r->no_progress = 0;
    clock_gettime(CLOCK_MONOTONIC, &r->moved_at);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, progress_cb);
    SETOPT(CURLOPT_XFERINFODATA, r);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, r);
    if (strcmp(r->method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (r->body || r->body_fd >= 0) {
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_READFUNCTION, read_cb);
        SETOPT(CURLOPT_READDATA, r);
        SETOPT(CURLOPT_SEEKFUNCTION, seek_cb);
        SETOPT(CURLOPT_SEEKDATA, r);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        if (strcmp(r->method, "PUT") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        SETOPT(CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (ce != CURLE_OK)
        return ce;
    return curl_easy_perform(c);
}

#undef SETOPT

static int retryable_curl(CURLcode ce)
{
    switch (ce) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int retryable_status(long status, const char *code)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504 || in_list(code, retry_codes, sizeof retry_codes / sizeof *retry_codes);
}

static void backoff(int attempt_no)
{
    long ms = BACKOFF_FIRST_MS;
    for (int i = 1; i < attempt_no && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > BACKOFF_MAX_MS)
        ms = BACKOFF_MAX_MS;
    /* jitter from the upper half, so clients that failed together spread out */
    ms = ms / 2 + (long)randombytes_uniform((uint32_t)(ms / 2 + 1));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The error for a final non-2xx answer. */
static cairn_err answer_err(s3_backend *s, const s3_req *r, const char *op, const char *name,
                            const char *code, int tries)
{
    const char *const sep = code[0] ? " " : "";
    char after[32] = "";
    if (tries > 1)
        snprintf(after, sizeof after, " (%d attempts)", tries);
    if (r->status == 404 && (!code[0] || strcmp(code, "NoSuchKey") == 0))
        return err_set(CAIRN_ENOTFOUND, "%s: %s %s: no such object", s->b.url, op, name);
    if (r->status == 507 || in_list(code, full_codes, sizeof full_codes / sizeof *full_codes))
        return err_set(CAIRN_ENOSPC, "%s: %s %s: the target is full (HTTP %ld%s%s)", s->b.url, op,
                       name, r->status, sep, code);
    if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0)
        return err_set(CAIRN_EREMOTE,
                       "%s: %s %s: the server refuses our credentials (HTTP %ld %s); check "
                       "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY",
                       s->b.url, op, name, r->status, code);
    if (strcmp(code, "NoSuchBucket") == 0)
        return err_set(CAIRN_EREMOTE, "%s: %s %s: no bucket %s at this endpoint (HTTP %ld %s)",
                       s->b.url, op, name, s->bucket, r->status, code);
    return err_set(CAIRN_EREMOTE, "%s: %s %s: the server answered HTTP %ld%s%s%s", s->b.url, op,
                   name, r->status, sep, code, after);
}

/* Builds the path (as signed and sent) of r: path style /bucket[/key],
 * virtual-host style /[key]. */
static void request_path(const s3_backend *s, const s3_req *r, cbuf *path)
{
    if (!s->virtual_style) {
        cbuf_puts(path, "/");
        put_uri(path, s->bucket, 0);
    }
    if (r->key) {
        cbuf_puts(path, "/");
        put_uri(path, r->key, 1);
    } else if (s->virtual_style) {
        cbuf_puts(path, "/");
    }
}

/* Sends r until it gets a final answer.  CAIRN_OK for a 2xx answer (whose
 * status, headers and body are in r); otherwise the error, with a message
 * naming op and name.  A 200 answer whose body is an <Error> (S3 does that
 * for CompleteMultipartUpload) counts as an error. */
static cairn_err s3_do(s3_backend *s, s3_req *r, const char *op, const char *name)
{
    cbuf path = {0}, url = {0};
    char code[64], why[CURL_ERROR_SIZE + 64];
    cairn_err rc;
    request_path(s, r, &path);
    cbuf_puts(&url, s->base);
    cbuf_put(&url, path.data, path.len);
    if (r->query[0])
        cbuf_printf(&url, "?%s", r->query);
    if (path.failed || url.failed) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
        goto out;
    }
    for (int n = 1, stalls = 0;; n++) {
        struct curl_slist *hdrs = NULL;
        r->status = 0;
        r->length = -1;
        r->etag[0] = '\0';
        r->date = 0;
        r->sunk = 0;
        r->pos = 0;
        r->local_rc = CAIRN_OK;
        cbuf_reset(&r->resp);
        if (r->sink_fd >= 0 &&
            (ftruncate(r->sink_fd, 0) != 0 || lseek(r->sink_fd, 0, SEEK_SET) != 0)) {
            rc = err_errno(errno, r->sink_path);
            goto out;
        }
        rc = sign(s, r->method, cbuf_text(&path), r->query,
                  r->payload_hash ? r->payload_hash : empty_sha256, r->content_md5, r->lock, &hdrs);
        /* Range is not signed: SigV4 lets unsigned headers through */
        if (!rc && r->range) {
            struct curl_slist *const h = curl_slist_append(hdrs, r->range);
            if (h)
                hdrs = h;
            else
                rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
        }
        if (rc) {
            curl_slist_free_all(hdrs);
            goto out;
        }
        CURLcode ce = attempt(s, r, cbuf_text(&url), hdrs);
        curl_slist_free_all(hdrs);
        if (ce == CURLE_ABORTED_BY_CALLBACK && r->no_progress) {
            ce = CURLE_OPERATION_TIMEDOUT; /* a stall like the low-speed limit's */
            snprintf(s->errbuf, sizeof s->errbuf, "no byte moved in %ld seconds", s->stall_secs);
        }
        if (r->local_rc) {
            rc = r->local_rc;
            goto out;
        }
        if (ce == CURLE_OK) {
            s->stalled = 0; /* an answer, even an error: the server is alive */
            if (curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK ||
                curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->length) !=
                    CURLE_OK) {
                rc = err_set(CAIRN_EREMOTE, "%s: %s %s: no HTTP answer", s->b.url, op, name);
                goto out;
            }
            error_code(&r->resp, code, sizeof code);
            const int ok = r->status >= 200 && r->status < 300 && !code[0];
            if (ok && r->sink_fd >= 0 && r->length >= 0 && r->sunk != (uint64_t)r->length) {
                snprintf(why, sizeof why, "got %llu of %lld bytes", (unsigned long long)r->sunk,
                         (long long)r->length);
            } else if (ok) {
                rc = CAIRN_OK;
                goto out;
            } else if (!retryable_status(r->status, code) || n >= s->attempts) {
                rc = answer_err(s, r, op, name, code, n);
                goto out;
            } else {
                snprintf(why, sizeof why, "HTTP %ld %s", r->status, code);
            }
        } else if (!retryable_curl(ce)) {
            rc = err_set(CAIRN_EREMOTE, "%s: %s %s: %s", s->b.url, op, name,
                         s->errbuf[0] ? s->errbuf : curl_easy_strerror(ce));
            goto out;
        } else {
            snprintf(why, sizeof why, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(ce));
        }
        /* a stalled server gets one more try, not all of them (see top) */
        if (ce == CURLE_OPERATION_TIMEDOUT)
            stalls++;
        if (n >= s->attempts || stalls >= (s->stalled ? 1 : 2)) {
            if (stalls)
                s->stalled = 1;
            rc = err_set(CAIRN_EREMOTE, "%s: %s %s: %s (%d attempts)", s->b.url, op, name, why, n);
            goto out;
        }
        backoff(n);
    }
out:
    cbuf_free(&path);
    cbuf_free(&url);
    return rc;
}

/* ---- operations ---------------------------------------------------------- */

/* prefix/name, or name without a prefix; NULL when out of memory. */
static char *object_key(const s3_backend *s, const char *name)
{
    return s->prefix[0] ? fs_join(s->prefix, name) : strdup(name);
}

static cairn_err check_name(const s3_backend *s, const char *name)
{
    if (!name[0] || name[0] == '/')
        return err_set(CAIRN_EINVAL, "%s: invalid object name \"%s\"", s->b.url, name);
    return CAIRN_OK;
}

/* The bucket key of a checked object name (*key malloc'd). */
static cairn_err key_of(const s3_backend *s, const char *name, char **key)
{
    *key = NULL;
    const cairn_err rc = check_name(s, name);
    if (rc)
        return rc;
    *key = object_key(s, name);
    return *key ? CAIRN_OK : err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
}

static cairn_err s3_stat(backend *b, const char *name, uint64_t *size)
{
    s3_backend *const s = (s3_backend *)b;
    s3_req r;
    char *key;
    cairn_err rc = key_of(s, name, &key);
    if (rc)
        return rc;
    req_init(&r, s, "HEAD", key, NULL);
    rc = s3_do(s, &r, "stat", name);
    if (!rc && r.length < 0)
        rc = err_set(CAIRN_EREMOTE, "%s: stat %s: the answer has no Content-Length", b->url, name);
    if (!rc)
        *size = (uint64_t)r.length;
    cbuf_free(&r.resp);
    free(key);
    return rc;
}

static cairn_err s3_remove(backend *b, const char *name)
{
    s3_backend *const s = (s3_backend *)b;
    s3_req r;
    char *key;
    cairn_err rc = key_of(s, name, &key);
    if (rc)
        return rc;
    req_init(&r, s, "DELETE", key, NULL);
    rc = s3_do(s, &r, "remove", name);
    if (rc == CAIRN_ENOTFOUND)
        rc = CAIRN_OK;
    cbuf_free(&r.resp);
    free(key);
    return rc;
}

static cairn_err s3_get_file(backend *b, const char *name, const char *local_path)
{
    s3_backend *const s = (s3_backend *)b;
    s3_req r;
    char *key;
    cairn_err rc = key_of(s, name, &key);
    if (rc)
        return rc;
    const int fd = open(local_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_errno(errno, local_path);
        free(key);
        return rc;
    }
    req_init(&r, s, "GET", key, NULL);
    r.sink_fd = fd;
    r.sink_path = local_path;
    rc = s3_do(s, &r, "get", name);
    if (!rc && r.length < 0)
        rc = err_set(CAIRN_EREMOTE, "%s: get %s: the answer has no Content-Length", b->url, name);
    /* the caller renames the file next: its bytes must be on disk first */
    if (!rc && fsync(fd) != 0)
        rc = err_errno(errno, local_path);
    if (close(fd) != 0 && !rc)
        rc = err_errno(errno, local_path);
    if (rc)
        unlink(local_path); /* ours: we created it */
    cbuf_free(&r.resp);
    free(key);
    return rc;
}

/* len bytes from offset: a GET with a Range header.  A server that ignores
 * Range answers 200 with the whole object; we take our slice of it then
 * (bounded by RESP_MAX, like every answer held in memory). */
static cairn_err s3_get_range(backend *b, const char *name, uint64_t offset, size_t len,
                              uint8_t *buf)
{
    s3_backend *const s = (s3_backend *)b;
    s3_req r;
    char *key, range[80];
    if (len == 0)
        return CAIRN_OK;
    cairn_err rc = key_of(s, name, &key);
    if (rc)
        return rc;
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
             (unsigned long long)(offset + len - 1));
    req_init(&r, s, "GET", key, NULL);
    r.range = range;
    rc = s3_do(s, &r, "get", name);
    if (!rc) {
        const uint64_t skip = r.status == 206 ? 0 : offset;
        if (r.resp.len < skip || r.resp.len - skip < len)
            rc =
                err_set(CAIRN_EREMOTE, "%s: get %s: bytes %llu-%llu: the object is shorter", b->url,
                        name, (unsigned long long)offset, (unsigned long long)(offset + len - 1));
        else
            memcpy(buf, r.resp.data + skip, len);
    }
    if (!rc)
        b->bytes_received += r.resp.len;
    cbuf_free(&r.resp);
    free(key);
    return rc;
}

/* Parses "2026-01-02T03:04:05.000Z"; -1 if it is not that. */
static int parse_iso_time(const char *str, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec;
    if (sscanf(str, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

static cairn_err abort_upload(s3_backend *s, const char *key, const char *upload_id,
                              const char *name)
{
    cbuf q = {0};
    s3_req r;
    cairn_err rc;
    cbuf_puts(&q, "uploadId=");
    put_uri(&q, upload_id, 0);
    if (q.failed) {
        cbuf_free(&q);
        return err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
    }
    req_init(&r, s, "DELETE", key, cbuf_text(&q));
    rc = s3_do(s, &r, "abort the upload of", name);
    if (rc == CAIRN_ENOTFOUND)
        rc = CAIRN_OK;
    cbuf_free(&r.resp);
    cbuf_free(&q);
    return rc;
}

/* One page of ListMultipartUploads: aborts the stale uploads it lists and
 * sets the markers of the next page (NULL p when there is none). */
static cairn_err clean_page(s3_backend *s, const s3_req *r, cbuf *key_marker, cbuf *id_marker,
                            int *more)
{
    const char *p = cbuf_text(&r->resp), *const end = cbuf_text(&r->resp) + r->resp.len, *a, *z;
    cbuf key = {0}, id = {0}, when = {0};
    cairn_err rc = CAIRN_OK;
    const time_t now = r->date ? r->date : time(NULL);
    *more = 0;
    while (xml_find(p, end, "Upload", &a, &z)) {
        const char *ka, *kz, *ia, *iz, *ta, *tz;
        time_t t;
        p = z + 9;
        if (!xml_find(a, z, "Key", &ka, &kz) || !xml_find(a, z, "UploadId", &ia, &iz) ||
            !xml_find(a, z, "Initiated", &ta, &tz) || xml_text(&key, ka, kz) != 0 ||
            xml_text(&id, ia, iz) != 0 || xml_text(&when, ta, tz) != 0 || key.failed || id.failed ||
            when.failed || parse_iso_time(cbuf_text(&when), &t) != 0) {
            rc = err_set(key.failed || id.failed || when.failed ? CAIRN_ENOMEM : CAIRN_EREMOTE,
                         "%s: malformed list of multipart uploads", s->b.url);
            goto out;
        }
        if (now - t < s->stale_secs)
            continue;
        rc = abort_upload(s, cbuf_text(&key), cbuf_text(&id), cbuf_text(&key));
        if (rc)
            goto out;
    }
    if (xml_find(cbuf_text(&r->resp), end, "IsTruncated", &a, &z) && (size_t)(z - a) == 4 &&
        memcmp(a, "true", 4) == 0) {
        const char *ka, *kz, *ia, *iz;
        if (!xml_find(cbuf_text(&r->resp), end, "NextKeyMarker", &ka, &kz) ||
            !xml_find(cbuf_text(&r->resp), end, "NextUploadIdMarker", &ia, &iz) ||
            xml_text(key_marker, ka, kz) != 0 || xml_text(id_marker, ia, iz) != 0) {
            rc = err_set(CAIRN_EREMOTE, "%s: truncated list of multipart uploads without markers",
                         s->b.url);
            goto out;
        }
        *more = 1;
    }
out:
    cbuf_free(&key);
    cbuf_free(&id);
    cbuf_free(&when);
    return rc;
}

/* Aborts the multipart uploads under the prefix that are older than
 * stale_secs (see the top of the file). */
static cairn_err clean_stale_uploads(s3_backend *s)
{
    cbuf q = {0}, key_marker = {0}, id_marker = {0}, prefix = {0};
    s3_req r;
    cairn_err rc = CAIRN_OK;
    int more = 1;
    if (s->prefix[0])
        cbuf_printf(&prefix, "%s/", s->prefix);
    else
        cbuf_puts(&prefix, "");
    req_init(&r, s, "GET", NULL, NULL);
    while (more) {
        /* parameters in sorted order: the canonical query string */
        cbuf_reset(&q);
        if (key_marker.len) {
            cbuf_puts(&q, "key-marker=");
            put_uri(&q, cbuf_text(&key_marker), 0);
            cbuf_puts(&q, "&");
        }
        cbuf_puts(&q, "prefix=");
        put_uri(&q, cbuf_text(&prefix), 0);
        if (id_marker.len) {
            cbuf_puts(&q, "&upload-id-marker=");
            put_uri(&q, cbuf_text(&id_marker), 0);
        }
        cbuf_puts(&q, "&uploads=");
        if (q.failed || prefix.failed || key_marker.failed || id_marker.failed) {
            rc = err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
            break;
        }
        r.query = cbuf_text(&q);
        rc = s3_do(s, &r, "list incomplete uploads under", prefix.len ? cbuf_text(&prefix) : "/");
        if (rc) {
            /* a server or policy without the listing: nothing to clean */
            char code[64];
            error_code(&r.resp, code, sizeof code);
            if (rc == CAIRN_EREMOTE && (r.status == 403 || r.status == 405 || r.status == 501) &&
                strcmp(code, "SignatureDoesNotMatch") != 0 &&
                strcmp(code, "InvalidAccessKeyId") != 0)
                rc = CAIRN_OK;
            break;
        }
        rc = clean_page(s, &r, &key_marker, &id_marker, &more);
        if (rc)
            break;
    }
    cbuf_free(&r.resp);
    cbuf_free(&q);
    cbuf_free(&key_marker);
    cbuf_free(&id_marker);
    cbuf_free(&prefix);
    return rc;
}

static cairn_err put_single(s3_backend *s, const char *key, const char *name, int fd,
                            const char *path, uint64_t size)
{
    char sha[SHA256_HEX], md5[MD5_B64];
    s3_req r;
    cairn_err rc = hash_range(fd, 0, size, path, sha, md5);
    if (rc)
        return rc;
    req_init(&r, s, "PUT", key, NULL);
    r.payload_hash = sha;
    r.content_md5 = md5;
    r.lock = 1;
    r.body_fd = fd;
    r.body_path = path;
    r.body_len = size;
    r.count_sent = 1;
    rc = s3_do(s, &r, "put", name);
    cbuf_free(&r.resp);
    return rc;
}

/* CreateMultipartUpload: the new upload's id into *id. */
static cairn_err create_upload(s3_backend *s, const char *key, const char *name, cbuf *id)
{
    const char *a, *z;
    s3_req r;
    req_init(&r, s, "POST", key, "uploads=");
    r.body = (const uint8_t *)"";
    r.lock = 1;
    cairn_err rc = s3_do(s, &r, "start a multipart upload of", name);
    if (!rc &&
        (!xml_find(cbuf_text(&r.resp), cbuf_text(&r.resp) + r.resp.len, "UploadId", &a, &z) ||
         xml_text(id, a, z) != 0 || id->failed || id->len == 0))
        rc = err_set(CAIRN_EREMOTE, "%s: put %s: no UploadId in the server's answer", s->b.url,
                     name);
    cbuf_free(&r.resp);
    return rc;
}

static cairn_err upload_part(s3_backend *s, const char *key, const char *name, const cbuf *id,
                             int fd, const char *path, uint64_t off, uint64_t len, int part,
                             cbuf *complete)
{
    char sha[SHA256_HEX], md5[MD5_B64];
    cbuf q = {0};
    s3_req r;
    cairn_err rc = hash_range(fd, off, len, path, sha, md5);
    if (rc)
        return rc;
    cbuf_printf(&q, "partNumber=%d&uploadId=", part);
    put_uri(&q, cbuf_text(id), 0);
    if (q.failed) {
        cbuf_free(&q);
        return err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
    }
    req_init(&r, s, "PUT", key, cbuf_text(&q));
    r.payload_hash = sha;
    r.content_md5 = md5;
    r.body_fd = fd;
    r.body_path = path;
    r.body_off = off;
    r.body_len = len;
    r.count_sent = 1;
    rc = s3_do(s, &r, "put (multipart)", name);
    if (!rc && !r.etag[0])
        rc = err_set(CAIRN_EREMOTE, "%s: put %s: part %d: no ETag in the server's answer", s->b.url,
                     name, part);
    if (!rc) {
        cbuf_printf(complete, "<Part><PartNumber>%d</PartNumber><ETag>", part);
        put_xml_escaped(complete, r.etag);
        cbuf_puts(complete, "</ETag></Part>");
    }
    cbuf_free(&r.resp);
    cbuf_free(&q);
    return rc;
}

static cairn_err s3_stat(backend *b, const char *name, uint64_t *size);

/* CompleteMultipartUpload.  A retry after an attempt whose answer was lost
 * gets NoSuchUpload (the first one completed it): then the object is there
 * if a HEAD shows it with the file's size (names are never reused for other
 * bytes). */
static cairn_err complete_upload(s3_backend *s, const char *key, const char *name, const cbuf *id,
                                 const cbuf *complete, uint64_t size)
{
    char sha[SHA256_HEX], code[64], msg[512];
    uint64_t stored = 0;
    cbuf q = {0};
    s3_req r;
    cairn_err rc;
    cbuf_puts(&q, "uploadId=");
    put_uri(&q, cbuf_text(id), 0);
    if (q.failed || complete->failed) {
        cbuf_free(&q);
        return err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
    }
    sha256_hex(complete->data, complete->len, sha);
    req_init(&r, s, "POST", key, cbuf_text(&q));
    r.payload_hash = sha;
    r.body = complete->data;
    r.body_len = complete->len;
    rc = s3_do(s, &r, "complete the multipart upload of", name);
    error_code(&r.resp, code, sizeof code);
    if (rc && strcmp(code, "NoSuchUpload") == 0) {
        snprintf(msg, sizeof msg, "%s", err_msg());
        if (s3_stat(&s->b, name, &stored) == CAIRN_OK && stored == size)
            rc = CAIRN_OK;
        else
            err_set(rc, "%s", msg);
    }
    cbuf_free(&r.resp);
    cbuf_free(&q);
    return rc;
}

static cairn_err put_multipart(s3_backend *s, const char *key, const char *name, int fd,
                               const char *path, uint64_t size)
{
    cbuf id = {0}, complete = {0};
    uint64_t part_size = PART_SIZE;
    while ((size + part_size - 1) / part_size > MAX_PARTS)
        part_size *= 2;
    cairn_err rc = create_upload(s, key, name, &id);
    if (rc)
        goto out;
    cbuf_puts(&complete, "<CompleteMultipartUpload>");
    int part = 1;
    for (uint64_t off = 0; off < size; off += part_size, part++) {
        const uint64_t len = size - off < part_size ? size - off : part_size;
        rc = upload_part(s, key, name, &id, fd, path, off, len, part, &complete);
        if (rc)
            break;
    }
    cbuf_puts(&complete, "</CompleteMultipartUpload>");
    if (!rc)
        rc = complete_upload(s, key, name, &id, &complete, size);
    if (rc) {
        /* the parts cost storage until aborted; the first error is the news */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err_msg());
        (void)abort_upload(s, key, cbuf_text(&id), name);
        err_set(rc, "%s", msg);
    }
out:
    cbuf_free(&id);
    cbuf_free(&complete);
    return rc;
}

static cairn_err s3_put_file(backend *b, const char *name, const char *local_path)
{
    s3_backend *const s = (s3_backend *)b;
    struct stat st;
    uint64_t stored = 0;
    cairn_err rc = check_name(s, name);
    if (rc)
        return rc;
    if (!s->cleaned) {
        rc = clean_stale_uploads(s);
        if (rc)
            return rc;
        s->cleaned = 1;
    }
    char *const key = object_key(s, name);
    if (!key)
        return err_set(CAIRN_ENOMEM, "%s: out of memory", b->url);
    const int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = err_errno(errno, local_path);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = err_errno(errno, local_path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(CAIRN_EINVAL, "%s: not a regular file", local_path);
        goto out;
    }
    const uint64_t size = (uint64_t)st.st_size;
    if (size <= SINGLE_PUT_MAX)
        rc = put_single(s, key, name, fd, local_path, size);
    else
        rc = put_multipart(s, key, name, fd, local_path, size);
    if (rc)
        goto out;
    rc = s3_stat(b, name, &stored);
    if (rc)
        goto out;
    if (stored != size)
        rc = err_set(CAIRN_EREMOTE, "%s: put %s: the server stored %llu bytes of %llu", b->url,
                     name, (unsigned long long)stored, (unsigned long long)size);
out:
    if (fd >= 0)
        close(fd);
    free(key);
    return rc;
}

/* One page of ListObjectsV2: calls fn for each object and sets the token
 * of the next page (*more). */
cairn_err backend_s3_parse_listing(const char *xml, size_t len, const char *prefix,
                                   backend_list_fn fn, void *ctx, char **next_token)
{
    const char *p = xml, *const end = xml + len, *a, *z;
    const size_t plen = strlen(prefix);
    cbuf key = {0}, token = {0};
    cairn_err rc = CAIRN_OK;
    *next_token = NULL;
    while (xml_find(p, end, "Contents", &a, &z)) {
        const char *ka, *kz, *sa, *sz;
        p = z + 11;
        if (!xml_find(a, z, "Key", &ka, &kz) || !xml_find(a, z, "Size", &sa, &sz) ||
            xml_text(&key, ka, kz) != 0 || sa == sz || sz - sa > 20 ||
            strspn(sa, "0123456789") < (size_t)(sz - sa)) {
            rc = err_set(key.failed ? CAIRN_ENOMEM : CAIRN_EREMOTE, "malformed object listing");
            goto out;
        }
        const uint64_t size = strtoull(sa, NULL, 10);
        const char *rel = cbuf_text(&key);
        if (plen) {
            /* the server filtered on "<prefix>/"; anything else is not ours */
            if (strncmp(rel, prefix, plen) != 0 || rel[plen] != '/')
                continue;
            rel += plen + 1;
        }
        if (!rel[0])
            continue;
        rc = fn(ctx, rel, size);
        if (rc)
            goto out;
    }
    if (xml_find(xml, end, "IsTruncated", &a, &z) && (size_t)(z - a) == 4 &&
        memcmp(a, "true", 4) == 0) {
        if (!xml_find(xml, end, "NextContinuationToken", &a, &z) || xml_text(&token, a, z) != 0 ||
            token.failed || token.len == 0) {
            rc = err_set(CAIRN_EREMOTE, "truncated listing without a continuation token");
            goto out;
        }
        *next_token = cbuf_take_text(&token);
    }
out:
    cbuf_free(&token);
    cbuf_free(&key);
    return rc;
}

/* The caller's callback, so that its errors pass through unchanged while
 * the parser's are told apart and get the URL. */
typedef struct list_relay {
    backend_list_fn fn;
    void *ctx;
    int failed;
} list_relay;

static cairn_err relay(void *ctx, const char *name, uint64_t size)
{
    list_relay *const l = ctx;
    const cairn_err rc = l->fn(l->ctx, name, size);
    l->failed = rc != CAIRN_OK;
    return rc;
}

static cairn_err list_page(s3_backend *s, const s3_req *r, backend_list_fn fn, void *ctx,
                           cbuf *token, int *more)
{
    char *next = NULL;
    list_relay l = {fn, ctx, 0};
    const cairn_err rc =
        backend_s3_parse_listing(cbuf_text(&r->resp), r->resp.len, s->prefix, relay, &l, &next);
    *more = next != NULL;
    cbuf_reset(token);
    if (next) {
        cbuf_puts(token, next);
        free(next);
        if (token->failed)
            return err_set(CAIRN_ENOMEM, "%s: out of memory", s->b.url);
    }
    return rc && !l.failed ? err_wrap(rc, s->b.url) : rc;
}

static cairn_err s3_list(backend *b, const char *prefix, backend_list_fn fn, void *ctx)
{
    s3_backend *const s = (s3_backend *)b;
    cbuf full = {0}, q = {0}, token = {0};
    s3_req r;
    cairn_err rc = CAIRN_OK;
    int more = 1;
    if (s->prefix[0])
        cbuf_printf(&full, "%s/%s", s->prefix, prefix);
    else
        cbuf_puts(&full, prefix);
    req_init(&r, s, "GET", NULL, NULL);
    while (more) {
        /* parameters in sorted order: the canonical query string */
        cbuf_reset(&q);
        if (token.len) {
            cbuf_puts(&q, "continuation-token=");
            put_uri(&q, cbuf_text(&token), 0);
            cbuf_puts(&q, "&");
        }
        cbuf_printf(&q, "list-type=2&max-keys=%u&prefix=", s->list_page);
        put_uri(&q, cbuf_text(&full), 0);
        if (q.failed || full.failed) {
            rc = err_set(CAIRN_ENOMEM, "%s: out of memory", b->url);
            break;
        }
        r.query = cbuf_text(&q);
        rc = s3_do(s, &r, "list", prefix[0] ? prefix : "/");
        if (rc == CAIRN_ENOTFOUND) /* a 404 without a code: the bucket */
            rc = err_set(CAIRN_EREMOTE, "%s: list: no bucket %s at this endpoint", b->url,
                         s->bucket);
        if (rc)
            break;
        rc = list_page(s, &r, fn, ctx, &token, &more);
        if (rc)
            break;
    }
    cbuf_free(&r.resp);
    cbuf_free(&full);
    cbuf_free(&q);
    cbuf_free(&token);
    return rc;
}

static void free_secret(char *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

static void s3_close(backend *b)
{
    s3_backend *const s = (s3_backend *)b;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    free(s->bucket);
    free(s->prefix);
    free(s->base);
    free(s->access_key);
    free_secret(s->secret_key);
    free_secret(s->token);
    free(s->b.url);
    free(s);
}

static const backend_ops s3_ops = {
    .list = s3_list,
    .stat = s3_stat,
    .put_file = s3_put_file,
    .get_file = s3_get_file,
    .get_range = s3_get_range,
    .remove = s3_remove,
    .close = s3_close,
};

/* ---- opening ------------------------------------------------------------- */

static void curl_init_once(void)
{
    /* a failure shows as curl_easy_init() returning NULL */
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Bucket names: path style takes what S3 ever allowed; virtual-host style
 * needs a DNS label sequence. */
static int bucket_ok(const char *b, int virtual_style)
{
    const size_t n = strlen(b);
    if (virtual_style)
        return n >= 3 && n <= 63 && strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
               b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-' && !strstr(b, "..");
    return n >= 1 && n <= 255 &&
           strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

typedef struct s3_url {
    char *bucket, *prefix, *endpoint, *region, *style, *lock_mode, *lock_days;
} s3_url;

static void url_free(s3_url *u)
{
    free(u->bucket);
    free(u->prefix);
    free(u->endpoint);
    free(u->region);
    free(u->style);
    free(u->lock_mode);
    free(u->lock_days);
}

/* Stores one ?name=value of the URL. */
static cairn_err url_param(s3_url *u, const char *url, const char *a, const char *z)
{
    const char *const eq = memchr(a, '=', (size_t)(z - a));
    if (!eq)
        return err_set(CAIRN_EINVAL, "%s: parameter without a value", url);
    const size_t n = (size_t)(eq - a);
    char **slot = NULL;
    if (n == 8 && memcmp(a, "endpoint", 8) == 0)
        slot = &u->endpoint;
    else if (n == 6 && memcmp(a, "region", 6) == 0)
        slot = &u->region;
    else if (n == 5 && memcmp(a, "style", 5) == 0)
        slot = &u->style;
    else if (n == 9 && memcmp(a, "lock_mode", 9) == 0)
        slot = &u->lock_mode;
    else if (n == 9 && memcmp(a, "lock_days", 9) == 0)
        slot = &u->lock_days;
    /* not the URL: a mistyped parameter may hold a secret */
    if (!slot)
        return err_set(CAIRN_EINVAL,
                       "s3:// URL: unknown parameter \"%.*s\" (endpoint, region, style, "
                       "lock_mode and lock_days are known)",
                       (int)n < 32 ? (int)n : 32, a);
    if (*slot)
        return err_set(CAIRN_EINVAL, "%s: parameter \"%.*s\" given twice", url, (int)n, a);
    int oom;
    *slot = backend_url_decode(eq + 1, (size_t)(z - eq - 1), &oom);
    if (!*slot)
        return oom ? err_set(CAIRN_ENOMEM, "%s: out of memory", url)
                   : err_set(CAIRN_EINVAL, "%s: bad %%-escape in \"%.*s\"", url, (int)n, a);
    if (!(*slot)[0])
        return err_set(CAIRN_EINVAL, "%s: empty parameter \"%.*s\"", url, (int)n, a);
    return CAIRN_OK;
}

static cairn_err parse_url(const char *url, s3_url *u)
{
    int oom;
    memset(u, 0, sizeof *u);
    if (strncmp(url, "s3://", 5) != 0)
        return err_set(CAIRN_EINVAL, "%s: not an s3:// URL", url);
    const char *const b = url + 5;
    const char *const q = strchr(b, '?');
    const char *const end = q ? q : b + strlen(b);
    const char *slash = memchr(b, '/', (size_t)(end - b));
    if (!slash)
        slash = end;
    if (slash == b)
        return err_set(CAIRN_EINVAL, "%s: no bucket (s3://bucket/prefix)", url);
    u->bucket = backend_url_decode(b, (size_t)(slash - b), &oom);
    if (!u->bucket)
        return oom ? err_set(CAIRN_ENOMEM, "%s: out of memory", url)
                   : err_set(CAIRN_EINVAL, "%s: bad %%-escape", url);
    const char *pa = slash, *pz = end;
    while (pa < pz && *pa == '/')
        pa++;
    while (pz > pa && pz[-1] == '/')
        pz--;
    u->prefix = backend_url_decode(pa, (size_t)(pz - pa), &oom);
    if (!u->prefix)
        return oom ? err_set(CAIRN_ENOMEM, "%s: out of memory", url)
                   : err_set(CAIRN_EINVAL, "%s: bad %%-escape", url);
    if (strstr(u->prefix, "//"))
        return err_set(CAIRN_EINVAL, "%s: empty folder name in the prefix", url);
    for (const char *p = q ? q + 1 : end; *p;) {
        const char *amp = strchr(p, '&');
        if (!amp)
            amp = p + strlen(p);
        if (amp > p) {
            const cairn_err rc = url_param(u, url, p, amp);
            if (rc)
                return rc;
        }
        p = *amp ? amp + 1 : amp;
    }
    return CAIRN_OK;
}

/* Splits an endpoint into scheme and authority, refusing what we would
 * not sign or send as given (user info, paths, odd characters). */
static cairn_err check_endpoint(const char *url, const char *ep, const char **authority,
                                size_t *alen)
{
    const char *a;
    if (strncmp(ep, "http://", 7) == 0)
        a = ep + 7;
    else if (strncmp(ep, "https://", 8) == 0)
        a = ep + 8;
    else
        return err_set(CAIRN_EINVAL, "%s: the endpoint must start with http:// or https://", url);
    size_t n = strlen(a);
    if (n > 0 && a[n - 1] == '/')
        n--;
    if (n == 0 ||
        strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") < n)
        return err_set(CAIRN_EINVAL,
                       "%s: the endpoint must be scheme://host[:port], without a path or user",
                       url);
    *authority = a;
    *alen = n;
    return CAIRN_OK;
}

/* lock_mode= and lock_days= of the URL: Object Lock retention of new objects. */
static cairn_err setup_lock(s3_backend *s, const char *url, const s3_url *u)
{
    if (!u->lock_mode && !u->lock_days)
        return CAIRN_OK;
    const char *const mode = u->lock_mode ? u->lock_mode : "GOVERNANCE";
    if (strcmp(mode, "GOVERNANCE") != 0 && strcmp(mode, "COMPLIANCE") != 0)
        return err_set(CAIRN_EINVAL, "%s: lock_mode must be GOVERNANCE or COMPLIANCE", url);
    char *end = NULL;
    const unsigned long days = u->lock_days ? strtoul(u->lock_days, &end, 10) : 30;
    if ((u->lock_days && (*end || u->lock_days[0] == '-')) || days < 1 || days > 36500)
        return err_set(CAIRN_EINVAL, "%s: lock_days must be a number of days from 1 to 36500", url);
    snprintf(s->lock_mode, sizeof s->lock_mode, "%s", mode);
    s->lock_days = (unsigned)days;
    return CAIRN_OK;
}

/* Fills region, style, base and host of s from the parsed URL. */
static cairn_err setup_target(s3_backend *s, const char *url, const s3_url *u)
{
    const char *auth = NULL;
    size_t alen = 0;
    cbuf base = {0};
    const char *const region = u->region ? u->region : "us-east-1";
    if (strlen(region) >= sizeof s->region ||
        strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
        return err_set(CAIRN_EINVAL, "%s: invalid region \"%s\"", url, region);
    memcpy(s->region, region, strlen(region) + 1);
    if (u->style && strcmp(u->style, "path") != 0 && strcmp(u->style, "virtual") != 0)
        return err_set(CAIRN_EINVAL, "%s: style must be path or virtual", url);
    s->virtual_style = u->style ? strcmp(u->style, "virtual") == 0 : !u->endpoint;
    if (!bucket_ok(u->bucket, s->virtual_style))
        return err_set(CAIRN_EINVAL, "%s: invalid bucket name \"%s\"%s", url, u->bucket,
                       s->virtual_style ? " for virtual-host style (try style=path)" : "");
    if (u->endpoint) {
        const cairn_err rc = check_endpoint(url, u->endpoint, &auth, &alen);
        if (rc)
            return rc;
        if (s->virtual_style && (auth[0] == '[' || strspn(auth, "0123456789.:") == alen))
            return err_set(CAIRN_EINVAL,
                           "%s: virtual-host style needs a host name, not an IP address", url);
        cbuf_put(&base, u->endpoint, (size_t)(auth - u->endpoint));
        if (s->virtual_style)
            cbuf_printf(&base, "%s.", u->bucket);
        cbuf_put(&base, auth, alen);
    } else {
        if (s->virtual_style)
            cbuf_printf(&base, "https://%s.s3.%s.amazonaws.com", u->bucket, s->region);
        else
            cbuf_printf(&base, "https://s3.%s.amazonaws.com", s->region);
    }
    if (base.failed) {
        cbuf_free(&base);
        return err_set(CAIRN_ENOMEM, "%s: out of memory", url);
    }
    s->base = cbuf_take_text(&base);
    s->host = strstr(s->base, "://") + 3;
    return CAIRN_OK;
}

/* A header value: printable ASCII without spaces (no header injection). */
static int token_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    return v[0] != '\0';
}

static cairn_err env_long(const char *url, const char *name, long lo, long hi, long *out)
{
    const char *const v = getenv(name);
    char *end;
    if (!v || !v[0])
        return CAIRN_OK;
    errno = 0;
    const long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi)
        return err_set(CAIRN_EINVAL, "%s: $%s must be a number from %ld to %ld", url, name, lo, hi);
    *out = n;
    return CAIRN_OK;
}

static cairn_err setup_env(s3_backend *s, const char *url)
{
    const char *const ak = getenv("AWS_ACCESS_KEY_ID");
    const char *const sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *const tok = getenv("AWS_SESSION_TOKEN");
    long attempts = ATTEMPTS, stall = STALL_SECS, page = LIST_PAGE, stale = STALE_UPLOAD_SECS;
    if (!ak || !sk || !ak[0] || !sk[0])
        return err_set(CAIRN_EINVAL,
                       "%s: set $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY for an s3:// target",
                       url);
    if (!token_ok(ak) || !token_ok(sk) || strlen(sk) > SECRET_MAX ||
        (tok && tok[0] && !token_ok(tok)))
        return err_set(CAIRN_EINVAL,
                       "%s: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY or $AWS_SESSION_TOKEN "
                       "holds spaces or control characters (or is too long)",
                       url);
    cairn_err rc = env_long(url, "CAIRN_S3_RETRIES", 1, 20, &attempts);
    if (!rc)
        rc = env_long(url, "CAIRN_S3_STALL_SECS", 1, 3600, &stall);
    if (!rc)
        rc = env_long(url, "CAIRN_S3_TIMEOUT", 1, 3600, &stall);
    if (!rc)
        rc = env_long(url, "CAIRN_S3_LIST_PAGE", 1, 1000, &page);
    if (!rc)
        rc = env_long(url, "CAIRN_S3_STALE_SECS", 0, 365L * 86400, &stale);
    if (rc)
        return rc;
    s->attempts = (int)attempts;
    s->stall_secs = stall;
    s->list_page = (unsigned)page;
    s->stale_secs = stale;
    s->access_key = strdup(ak);
    s->secret_key = strdup(sk);
    s->token = tok && tok[0] ? strdup(tok) : NULL;
    if (!s->access_key || !s->secret_key || (tok && tok[0] && !s->token))
        return err_set(CAIRN_ENOMEM, "%s: out of memory", url);
    return CAIRN_OK;
}

cairn_err backend_s3_open(const char *url, backend **out)
{
    s3_url u;
    cairn_err rc;
    *out = NULL;
    /* user:secret@ would end up in messages; refuse it without echoing it */
    if (strchr(url, '@'))
        return err_set(CAIRN_EINVAL, "s3:// URL with '@': credentials never go in the URL (use "
                                     "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY; write a "
                                     "'@' in a prefix as %%40)");
    if (pthread_once(&curl_once, curl_init_once) != 0 || sodium_init() < 0)
        return err_set(CAIRN_EIO, "%s: cannot initialise libcurl or libsodium", url);
    s3_backend *const s = calloc(1, sizeof *s);
    if (!s)
        return err_set(CAIRN_ENOMEM, "%s: out of memory", url);
    s->b.ops = &s3_ops;
    rc = parse_url(url, &u);
    if (rc)
        goto fail;
    rc = setup_target(s, url, &u);
    if (!rc)
        rc = setup_lock(s, url, &u);
    if (rc)
        goto fail;
    rc = setup_env(s, url);
    if (rc)
        goto fail;
    s->b.url = strdup(url);
    s->curl = curl_easy_init();
    if (!s->b.url || !s->curl) {
        rc = err_set(CAIRN_ENOMEM, "%s: cannot set up libcurl", url);
        goto fail;
    }
    s->bucket = u.bucket;
    s->prefix = u.prefix;
    u.bucket = u.prefix = NULL;
    url_free(&u);
    *out = &s->b;
    return CAIRN_OK;
fail:
    url_free(&u);
    s3_close(&s->b);
    return rc;
}

static const backend_module_ops s3_module_ops = {backend_s3_open};
CAIRN_MODULE_DEFINE(backend_s3_module, "s3", &s3_module_ops);
