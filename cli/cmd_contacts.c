/* cairn contacts SNAPSHOT [--vcard FILE|--json]: the address book of a
 * device snapshot (engine/ios/content_contacts.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "engine/ios/content_contacts.h"
#include "engine/ios/content_export.h"
#include "cli.h"

static void json_list(char *const *v, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(v[i]);
    }
    printf("]");
}

static void json_or_null(const char *s)
{
    if (s)
        cli_json_str(s);
    else
        printf("null");
}

static void print_json(const content_contacts *c)
{
    printf("{\"contacts\":[");
    for (size_t i = 0; i < c->n; i++) {
        const content_contact *const p = &c->contact[i];
        printf("%s{\"id\":%" PRId64 ",\"first\":", i ? "," : "", p->rowid);
        json_or_null(p->first);
        printf(",\"last\":");
        json_or_null(p->last);
        printf(",\"organization\":");
        json_or_null(p->org);
        printf(",\"phones\":");
        json_list(p->phone, p->nphone);
        printf(",\"emails\":");
        json_list(p->email, p->nemail);
        printf("}");
    }
    printf("]}\n");
}

static void print_list(const content_contacts *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const content_contact *const p = &c->contact[i];
        char name[512];
        content_contact_name(p, name, sizeof name);
        printf("%s", name);
        if (p->org && (p->first || p->last))
            printf(" (%s)", p->org);
        printf("\n");
        for (size_t k = 0; k < p->nphone; k++)
            printf("  phone  %s\n", p->phone[k]);
        for (size_t k = 0; k < p->nemail; k++)
            printf("  email  %s\n", p->email[k]);
    }
    printf("%zu contact%s\n", c->n, c->n == 1 ? "" : "s");
}

int cmd_contacts(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    content_snap *cs = NULL;
    content_contacts x = {0, NULL};
    if (c->nargs != 1 || (c->json && c->vcard))
        return cli_usage_error(&cli_cmd_contacts);
    cairn_err rc = cli_open_content(c, &s, &l, &cs);
    if (!rc)
        rc = content_contacts_load(cs, cli_content_warn, NULL, &x);
    if (!rc && c->vcard) {
        rc = content_contacts_vcard(&x, c->vcard);
        if (!rc)
            printf("wrote %zu contact%s to %s\n", x.n, x.n == 1 ? "" : "s", c->vcard);
    } else if (!rc && c->json) {
        print_json(&x);
    } else if (!rc) {
        print_list(&x);
    }
    content_contacts_free(&x);
    content_close(cs);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option contacts_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print JSON"},
    {.name = "vcard",
     .kind = OPT_STRING,
     .offset = offsetof(cli, vcard),
     .arg_name = "FILE",
     .help = "write every contact as a vCard (3.0) into FILE"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const contacts_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT [--vcard FILE|--json]",
    NULL,
};

const cli_command cli_cmd_contacts = {
    .name = "contacts",
    .summary = "list the address book in a device snapshot, or write it as vCards",
    .synopsis = contacts_synopsis,
    .options = contacts_options,
    .run = cmd_contacts,
};
