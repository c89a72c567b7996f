/* cairn - the command line: parses options and dispatches to a command.
 * Every error ends as one line on stderr and a documented exit code. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cairn COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  init      [--store DIR] [--kdf interactive|moderate|sensitive]\n"
            "  backup    [--store DIR] [--threads N] [--force] SOURCE_DIR\n"
            "  snapshots [--store DIR] [--json]\n"
            "  restore   [--store DIR] SNAPSHOT --to DIR [--overwrite] [--threads N]\n"
            "  check     [--store DIR] [--read-data]\n"
            "  diff      [--store DIR] [--json] [SNAPSHOT_A] SNAPSHOT_B\n"
            "  forget    [--chain C] [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
            "            [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--dry-run]\n"
            "  prune     [--max-unused PERCENT] [--dry-run]\n"
            "  key       list | add | remove ID | passwd   [--new-password-file FILE]\n"
            "  index rebuild [--store DIR]\n"
            "  repair    [--dry-run] [--from-target NAME | --from URL]\n"
            "\n"
            "device backups (SOURCE_DIR is a MobileSync backup folder):\n"
            "  backup    [--allow-incomplete] [--backup-password-file FILE] SOURCE_DIR\n"
            "  restore   SNAPSHOT --to DIR [--backup-password-file FILE]\n"
            "            [--reencrypt [--new-backup-password-file FILE]]\n"
            "  snapshots [--device UDID|NAME]\n"
            "  chains\n"
            "  chain     archive CHAIN | delete CHAIN [--dry-run]\n"
            "  info      SNAPSHOT\n"
            "  ls        SNAPSHOT [DOMAIN[/PATH]]\n"
            "  extract   SNAPSHOT DOMAIN[/PATH]... --to DIR\n"
            "\n"
            "copies (3-2-1: URL is /path, sftp://user@host[:port]/path or s3://bucket/prefix):\n"
            "  target    add NAME URL [--media disk|nas|cloud] [--offsite] | list | remove NAME\n"
            "  copy      --target NAME | --all  [--snapshots SNAPSHOT...] [--json]\n"
            "  check     --target NAME [--read-data]\n"
            "  restore   --from-target NAME|URL SNAPSHOT --to DIR\n"
            "  status    [--json]\n"
            "\n"
            "devices (straight from the device over USB or Wi-Fi):\n"
            "  devices   [--json]\n"
            "  backup    --device [UDID] [--full] [--allow-incomplete]\n"
            "  restore   SNAPSHOT --device UDID [--system] [--settings] [--no-reboot] [--remove]\n"
            "  device    encryption on|off [UDID] | changepw [UDID]\n"
            "\n"
            "The store is --store, else $CAIRN_STORE, else $XDG_DATA_HOME/cairn/store\n"
            "(~/.local/share/cairn/store).  The password comes from --password-file FILE,\n"
            "else $CAIRN_PASSWORD, else a prompt on the terminal; an encrypted device\n"
            "backup's password likewise from --backup-password-file, $CAIRN_BACKUP_PASSWORD\n"
            "(new: --new-backup-password-file, $CAIRN_NEW_BACKUP_PASSWORD).  SNAPSHOT is an ID, a\n"
            "unique ID prefix or 'latest'.  Exit codes: see docs/CLI.md.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"store", required_argument, NULL, 's'},
        {"password-file", required_argument, NULL, 'p'},
        {"new-password-file", required_argument, NULL, 'P'},
        {"to", required_argument, NULL, 't'},
        {"kdf", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 'j'},
        {"json", no_argument, NULL, 'J'},
        {"overwrite", no_argument, NULL, 'o'},
        {"read-data", no_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"device", required_argument, NULL, 'd'},
        {"allow-incomplete", no_argument, NULL, 'I'},
        {"dry-run", no_argument, NULL, 'n'},
        {"chain", required_argument, NULL, 'c'},
        {"max-unused", required_argument, NULL, 'u'},
        {"backup-password-file", required_argument, NULL, 0x110},
        {"new-backup-password-file", required_argument, NULL, 0x111},
        {"reencrypt", no_argument, NULL, 0x112},
        {"target", required_argument, NULL, 0x120},
        {"from-target", required_argument, NULL, 0x121},
        {"media", required_argument, NULL, 0x122},
        {"offsite", no_argument, NULL, 0x123},
        {"all", no_argument, NULL, 0x124},
        {"snapshots", no_argument, NULL, 0x125},
        {"from", required_argument, NULL, 0x130},
        {"full", no_argument, NULL, 0x140},
        {"system", no_argument, NULL, 0x141},
        {"settings", no_argument, NULL, 0x142},
        {"no-reboot", no_argument, NULL, 0x143},
        {"remove", no_argument, NULL, 0x144},
        {"keep-last", required_argument, NULL, 0x100},
        {"keep-hourly", required_argument, NULL, 0x101},
        {"keep-daily", required_argument, NULL, 0x102},
        {"keep-weekly", required_argument, NULL, 0x103},
        {"keep-monthly", required_argument, NULL, 0x104},
        {"keep-yearly", required_argument, NULL, 0x105},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;
        int (*run)(cli *);
    } commands[] = {
        {"init", cmd_init},       {"backup", cmd_backup}, {"snapshots", cmd_snapshots},
        {"restore", cmd_restore}, {"check", cmd_check},   {"index", cmd_index},
        {"info", cmd_info},       {"ls", cmd_ls},         {"extract", cmd_extract},
        {"chains", cmd_chains},   {"diff", cmd_diff},     {"forget", cmd_forget},
        {"prune", cmd_prune},     {"key", cmd_key},       {"chain", cmd_chain},
        {"target", cmd_target},   {"copy", cmd_copy},     {"status", cmd_status},
        {"repair", cmd_repair},   {"device", cmd_device}, {"devices", cmd_devices},
    };
    cli c;
    int opt;
    memset(&c, 0, sizeof c);
    c.max_unused = 20;
    if (sodium_init() < 0) {
        fprintf(stderr, "cairn: libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    /* "backup --device" may leave out the UDID (the only device connected):
     * give getopt an empty value instead of letting it take the next word */
    char device_any[] = "--device=";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--device") == 0 && (i + 1 == argc || argv[i + 1][0] == '-'))
            argv[i] = device_any;
    while ((opt = getopt_long(argc, argv, "s:p:t:k:j:h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            c.store_arg = optarg;
            break;
        case 'p':
            c.password_file = optarg;
            break;
        case 'P':
            c.new_password_file = optarg;
            break;
        case 't':
            c.to = optarg;
            break;
        case 'k':
            c.kdf = optarg;
            break;
        case 'j':
            c.threads = atoi(optarg);
            if (c.threads < 1 || c.threads > 64) {
                fprintf(stderr, "cairn: --threads takes a number from 1 to 64\n");
                return EXIT_USAGE;
            }
            break;
        case 'J':
            c.json = 1;
            break;
        case 'o':
            c.overwrite = 1;
            break;
        case 'r':
            c.read_data = 1;
            break;
        case 'f':
            c.force = 1;
            break;
        case 'd':
            c.device = optarg;
            break;
        case 'I':
            c.allow_incomplete = 1;
            break;
        case 'n':
            c.dry_run = 1;
            break;
        case 'u': {
            char *end;
            const long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 100) {
                fprintf(stderr, "cairn: --max-unused takes a percentage from 0 to 100\n");
                return EXIT_USAGE;
            }
            c.max_unused = (int)v;
            break;
        }
        case 'c':
            c.chain = optarg;
            break;
        case 0x100:
        case 0x101:
        case 0x102:
        case 0x103:
        case 0x104:
        case 0x105: {
            char *end;
            const long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "cairn: --keep-* takes a count\n");
                return EXIT_USAGE;
            }
            c.keep[opt - 0x100] = (int)v;
            break;
        }
        case 0x110:
            c.backup_password_file = optarg;
            break;
        case 0x111:
            c.new_backup_password_file = optarg;
            break;
        case 0x112:
            c.reencrypt = 1;
            break;
        case 0x120:
            c.target = optarg;
            break;
        case 0x121:
            c.from_target = optarg;
            break;
        case 0x122:
            c.media = optarg;
            break;
        case 0x123:
            c.offsite = 1;
            break;
        case 0x124:
            c.all_targets = 1;
            break;
        case 0x125:
            c.only_snapshots = 1;
            break;
        case 0x130:
            c.from_url = optarg;
            break;
        case 0x140:
            c.full = 1;
            break;
        case 0x141:
            c.restore_system = 1;
            break;
        case 0x142:
            c.restore_settings = 1;
            break;
        case 0x143:
            c.no_reboot = 1;
            break;
        case 0x144:
            c.restore_remove = 1;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    c.args = argv + optind + 1;
    c.nargs = argc - optind - 1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            return commands[i].run(&c);
    fprintf(stderr, "cairn: unknown command '%s' (see 'cairn --help')\n", argv[optind]);
    return EXIT_USAGE;
}
