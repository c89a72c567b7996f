/* content_contacts.h - the address book of a device snapshot, from
 * AddressBook.sqlitedb (HomeDomain Library/AddressBook/AddressBook.sqlitedb).
 *
 * ABPerson is needed (First, Last, Organization optional: a line through
 * warn when missing); ABMultiValue gives phone numbers (property 3) and
 * e-mail addresses (property 4), optional.  People come in ROWID order,
 * their values in UID order. */
#ifndef CAIRN_CONTENT_CONTACTS_H
#define CAIRN_CONTENT_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ios/content.h"

enum { CONTENT_AB_PHONE = 3, CONTENT_AB_EMAIL = 4 };

typedef struct content_contact {
    int64_t rowid;
    char *first, *last, *org; /* each may be NULL */
    size_t nphone, nemail;
    char **phone, **email;
} content_contact;

typedef struct content_contacts {
    size_t n;
    content_contact *contact;
} content_contacts;

cairn_err content_contacts_read(sqlite3 *db, const char *file, content_warn_fn warn, void *ctx,
                                content_contacts *out);
cairn_err content_contacts_load(content_snap *c, content_warn_fn warn, void *ctx,
                                content_contacts *out);
void content_contacts_free(content_contacts *c);
/* "First Last", else the organization, else "(no name)", into out. */
void content_contact_name(const content_contact *c, char *out, size_t cap);

#endif
